/**
 * The examples under examples/ are what users copy: each project (its flows and its
 * callflow.config.yaml, linted together) must lint with no diagnostic at all, from any rule.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lint, loadConfigText } from '../src/index.js';
import { exampleProjects } from './example-projects.js';
import { describeResults } from './fixture-runner.js';

const projects = exampleProjects();

describe('examples', () => {
  it('holds the documented example projects', () => {
    expect(projects.map((p) => p.name)).toEqual(
      expect.arrayContaining(['agent-card-payment', 'masked-callback', 'protected-identity', 'self-service-payment', 'sms-otp']),
    );
  });

  describe.each(projects.map((p) => [p.name, p] as const))('%s', (_name, project) => {
    it('has a README and a valid callflow.config.yaml', () => {
      expect(statSync(join(project.dir, 'README.md')).isFile()).toBe(true);
      expect(project.configText, 'callflow.config.yaml').toBeDefined();
      const config = loadConfigText(project.configText!, join(project.dir, 'callflow.config.yaml'));
      expect(config.diagnostics.map((d) => `${d.line}:${d.column} ${d.message}`)).toEqual([]);
    });

    it('points every flow file at the JSON Schema', () => {
      for (const f of project.flows) {
        expect(f.text.split('\n')[0]).toBe('# yaml-language-server: $schema=../../packages/flow-dsl/schema/flow.schema.json');
      }
    });

    it('lints with no diagnostic from any rule', () => {
      const config = loadConfigText(project.configText ?? '', join(project.dir, 'callflow.config.yaml'));
      const results = lint({
        targets: project.flows,
        config: config.config,
        configFile: join(project.dir, 'callflow.config.yaml'),
      });
      expect(results).toHaveLength(project.flows.length);
      expect(describeResults(results)).toBe('');
    });
  });
});
