/**
 * File discovery for `callflow lint`: which files are targets, which config governs them,
 * and which other flows each project reads for references.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findConfigFile, findTargetFiles, groupIntoProjects, isFlowFileName } from '../src/lint/project-files.js';

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'callflow-files-'));
  for (const file of [
    'billing/callflow.config.yaml',
    'billing/inbound/main.yaml',
    'billing/secure/pay.yml',
    'billing/secure/pay.test.yaml',
    'billing/node_modules/dep/flow.yaml',
    'billing/.git/x.yaml',
    'loose/a.yaml',
    'loose/b.yaml',
    'loose/nested/c.yaml',
  ]) {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    writeFileSync(join(root, file), 'flow: x\n');
  }
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('project files', () => {
  it('takes *.yaml and *.yml as flows, but not the config or flow tests', () => {
    expect(['a.yaml', 'a.yml', 'A.YAML'].every(isFlowFileName)).toBe(true);
    expect(['callflow.config.yaml', 'callflow.config.yml', 'a.test.yaml', 'a.test.yml', 'a.json'].some(isFlowFileName)).toBe(false);
  });

  it('finds flows in directories recursively, skipping node_modules and dot-directories', () => {
    const { files, problems } = findTargetFiles(['billing'], root);
    expect(problems).toEqual([]);
    expect(files).toEqual([join(root, 'billing/inbound/main.yaml'), join(root, 'billing/secure/pay.yml')]);
  });

  it('names every argument that matched nothing', () => {
    const { problems } = findTargetFiles(['missing.yaml', 'loose/*.json', 'loose/a.yaml'], root);
    expect(problems).toEqual(['no such file or directory: missing.yaml', 'no flow files match loose/*.json']);
  });

  it('finds the nearest config upward', () => {
    expect(findConfigFile(join(root, 'billing/secure'))).toBe(join(root, 'billing/callflow.config.yaml'));
    expect(findConfigFile(join(root, 'loose'))).toBeUndefined();
  });

  it("groups targets by config; a config's project is every flow under its directory", () => {
    const targets = findTargetFiles(['billing/inbound/main.yaml', 'loose/a.yaml'], root).files;
    const projects = groupIntoProjects(targets);
    expect(projects).toEqual([
      { configFile: join(root, 'billing/callflow.config.yaml'), targets: [join(root, 'billing/inbound/main.yaml')], others: [join(root, 'billing/secure/pay.yml')] },
      // Without a config, the flows beside the target (not below it).
      { targets: [join(root, 'loose/a.yaml')], others: [join(root, 'loose/b.yaml')] },
    ]);
  });

  it('puts every target under --config when one is given', () => {
    const targets = findTargetFiles(['loose'], root).files;
    const projects = groupIntoProjects(targets, { configFile: join(root, 'billing/callflow.config.yaml') });
    expect(projects).toHaveLength(1);
    expect(projects[0]!.targets).toEqual(targets);
    expect(projects[0]!.others).toEqual([join(root, 'billing/inbound/main.yaml'), join(root, 'billing/secure/pay.yml')]);
  });
});
