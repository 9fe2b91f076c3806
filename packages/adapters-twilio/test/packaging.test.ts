// PACKAGING TEST. The published packages as a consumer gets them: flow-core, flow-dsl and
// adapters-twilio packed from their built dist with `npm pack`, installed from the tarballs into
// a project outside the repository (their dependencies come from the registry or npm's cache),
// then used from ES modules and from CommonJS, and the installed `callflow` bin run. The other
// tests read the sources; this one is what catches a build that a consumer cannot load.
// It needs the build (turbo's test task runs it first) and the registry or a warm npm cache; it
// fails, never skips, without them.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const fixtures = fileURLToPath(new URL('./packaging/', import.meta.url));
const PACKAGES = ['flow-core', 'flow-dsl', 'adapters-twilio'];
// What the smoke scripts import beside the packages, in the ranges the packages depend on.
const CONSUMER_DEPENDENCIES = ['zod@^4.1.0', 'twilio@^6.2.0'];

// npm's run-script variables describe the repository's workspace: the consumer is not in it.
const env = Object.fromEntries(
  Object.entries(process.env).filter(([key]) => !/^npm_(package_|lifecycle_|config_(local_prefix|prefix|workspaces?|include_workspace_root)$)/i.test(key)),
);

function run(command: string, args: string[], cwd: string, timeout = 60_000) {
  const r = spawnSync(command, args, { cwd, env, encoding: 'utf8', timeout });
  return { status: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

let work: string;
let project: string;

beforeAll(() => {
  for (const name of PACKAGES) {
    if (!existsSync(join(root, 'packages', name, 'dist'))) {
      throw new Error(`packaging test: packages/${name}/dist is missing; build first (npm run build, or npm test through turbo)`);
    }
  }
  work = mkdtempSync(join(tmpdir(), 'callflow-packaging-'));
  const tarballs = join(work, 'tarballs');
  project = join(work, 'consumer');
  mkdirSync(tarballs);
  mkdirSync(project);

  const packed = run('npm', ['pack', '--pack-destination', tarballs, ...PACKAGES.flatMap((name) => ['--workspace', `packages/${name}`])], root);
  if (packed.status !== 0) throw new Error(`packaging test: npm pack failed (exit ${packed.status}):\n${packed.output}`);
  const files = readdirSync(tarballs).filter((f) => f.endsWith('.tgz'));
  expect(files).toHaveLength(PACKAGES.length);

  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'callflow-consumer', private: true, version: '0.0.0' }, null, 2));
  for (const file of readdirSync(fixtures)) copyFileSync(join(fixtures, file), join(project, file));
  const installed = run(
    'npm',
    ['install', '--no-audit', '--no-fund', '--prefer-offline', ...files.map((f) => join(tarballs, f)), ...CONSUMER_DEPENDENCIES],
    project,
    90_000,
  );
  if (installed.status !== 0) {
    throw new Error(
      `packaging test: installing the packed packages failed (exit ${installed.status}). It needs the npm registry or ` +
        `a warm npm cache for their dependencies; it is not skipped without them.\n${installed.output.slice(-3000)}`,
    );
  }
}, 150_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('packaging: the packed packages installed in a consumer project', () => {
  it('installs each @callflow package once, from the tarballs', () => {
    for (const name of PACKAGES) {
      const installed = realpathSync(join(project, 'node_modules', '@callflow', name));
      expect(installed.startsWith(realpathSync(project))).toBe(true);
      expect(existsSync(join(installed, 'node_modules', '@callflow'))).toBe(false);
    }
  });

  it.each([
    ['ES modules', 'smoke.mjs', 'esm'],
    ['CommonJS', 'smoke.cjs', 'cjs'],
  ])('from %s: loads a flow, runs a session with a data action, answers a signed Twilio webhook', (_, script, label) => {
    const r = run(process.execPath, [script], project);
    expect(r.status, r.output).toBe(0);
    // require() of an ES module-only dependency works on Node 20.19+ but warns: the CJS build must not need it.
    expect(r.output).not.toMatch(/ExperimentalWarning/);
    expect(r.output).toContain(`${label}: createRuntime + data action: the session ran to its end`);
    expect(r.output).toContain(`${label}: Twilio webhook on node:http answered a signed request with TwiML`);
    expect(r.output).toContain(`${label}: Twilio webhook refused a forged signature`);
  });

  it('runs the installed callflow bin: lint passes a clean flow (exit 0) and fails a broken one (exit 1)', () => {
    const bin = join(project, 'node_modules', '.bin', 'callflow');
    const clean = run(bin, ['lint', 'account-status.yaml'], project);
    expect(clean.status, clean.output).toBe(0);
    const broken = run(bin, ['lint', 'broken.yaml'], project);
    expect(broken.status, broken.output).toBe(1);
    expect(broken.output).toContain('unknown-state');
  });
});
