/**
 * The `callflow` executable, run as users and CI run it: `node dist/cli.js` in a child
 * process (build first: `npx tsup`). Covers every exit code and option, and inputs that
 * must give a clear message rather than a stack trace.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { getConfigSchema, getFlowSchema } from '../src/index.js';
import { PACKAGE_ROOT } from './golden.js';
import { CLI, callflow as run, expectNoStackTrace } from './cli-helpers.js';

// Every test starts node processes; a loaded CI machine can take seconds for each.
vi.setConfig({ testTimeout: 60_000 });

const FIXTURES = join(PACKAGE_ROOT, 'test', 'fixtures', 'cli');
const VERSION = (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;


const callflow = run;


const CLEAN = `flow: hello
kind: inbound
start: greet
states:
  greet:
    say: Hello, you are through to the front desk.
    next: desk
  desk:
    transfer: { queue: front-desk }
`;

// Clean of errors; one unused variable (a warning by default).
const WARNS = `flow: warns
kind: inbound
variables:
  leftover: { type: string }
start: greet
states:
  greet:
    say: Hello.
    next: bye
  bye:
    disconnect: {}
`;

let work: string;
function project(files: Record<string, string | Buffer>): string {
  const dir = mkdtempSync(join(work, 'p-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build the package first (npx tsup)`);
  work = mkdtempSync(join(tmpdir(), 'callflow-cli-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('callflow', () => {
  it('--version prints the package version', async () => {
    const run = await callflow(['--version']);
    expect(run).toMatchObject({ code: 0, stdout: `${VERSION}\n` });
  });

  it('--help lists the commands and exits 0', async () => {
    const run = await callflow(['--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^\s+lint\s/m);
    expect(run.stdout).toMatch(/^\s+schema\s/m);
    const lintHelp = await callflow(['lint', '--help']);
    expect(lintHelp.code).toBe(0);
    expect(lintHelp.stdout).toContain('--max-warnings');
  });

  it('without a command prints the usage and exits 2', async () => {
    const run = await callflow([]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('Usage: callflow');
  });

  it('exits 2 on an unknown command or option, with a hint and no stack trace', async () => {
    const unknown = await callflow(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'frobnicate'");
    const option = await callflow(['lint', '--frobnicate']);
    expect(option.code).toBe(2);
    expect(option.stderr).toMatch(/^callflow lint: .*--frobnicate/);
    expectNoStackTrace(option);
  });
});

describe('callflow lint', () => {
  it('exits 0 and prints nothing for a clean file', async () => {
    const dir = project({ 'hello.yaml': CLEAN });
    const run = await callflow(['lint', 'hello.yaml'], { cwd: dir });
    expect(run).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  it('exits 1 with a stylish report when a file has errors', async () => {
    const run = await callflow(['lint', 'test/fixtures/cli']);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('test/fixtures/cli/problems.yaml\n');
    expect(run.stdout).toMatch(/^\s+12:9\s+error\s+.*duplicate-option$/m);
    expect(run.stdout).toMatch(/^\s+10:1\s+error\s+YAML syntax error.*schema$/m);
    expect(run.stdout).toMatch(/✖ \d+ problems \(\d+ errors, \d+ warnings\)/);
    expect((run.stdout).includes('\u001b['), 'must not be there').toBe(false);
  });

  it('lints the current directory by default', async () => {
    const dir = project({ 'hello.yaml': CLEAN, 'sub/warns.yaml': WARNS });
    const run = await callflow(['lint'], { cwd: dir });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('sub/warns.yaml');
    expect(run.stdout).toContain('unused-variable');
  });

  describe('warnings', () => {
    it('exits 0 with warnings only', async () => {
      const dir = project({ 'warns.yaml': WARNS });
      const run = await callflow(['lint', '.'], { cwd: dir });
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/✖ 1 problem \(0 errors, 1 warning\)/);
    });
    it('exits 1 with more warnings than --max-warnings', async () => {
      const dir = project({ 'warns.yaml': WARNS });
      const over = await callflow(['lint', '--max-warnings', '0'], { cwd: dir });
      expect(over.code).toBe(1);
      expect(over.stderr).toContain('too many warnings (maximum: 0)');
      const within = await callflow(['lint', '--max-warnings=1'], { cwd: dir });
      expect(within.code).toBe(0);
      const unlimited = await callflow(['lint', '--max-warnings', '-1'], { cwd: dir });
      expect(unlimited.code).toBe(0);
    });
    it('--quiet reports errors only, yet --max-warnings still counts warnings (as ESLint does)', async () => {
      const dir = project({ 'warns.yaml': WARNS });
      const quiet = await callflow(['lint', '--quiet'], { cwd: dir });
      expect(quiet).toEqual({ code: 0, stdout: '', stderr: '' });
      const both = await callflow(['lint', '--quiet', '--max-warnings', '0'], { cwd: dir });
      expect(both.code).toBe(1);
      expect(both.stdout).toBe('');
      expect(both.stderr).toContain('too many warnings');
      const errors = await callflow(['lint', '--quiet', 'test/fixtures/cli/problems.yaml']);
      expect(errors.code).toBe(1);
      expect((errors.stdout).includes('unreachable-state'), 'must not be there').toBe(false);
      expect(errors.stdout).toContain('(1 error, 0 warnings)');
      expect(errors.stdout).toContain('duplicate-option');
    });
    it('exits 2 when --max-warnings is not a whole number', async () => {
      const run = await callflow(['lint', '--max-warnings', 'lots', 'test/fixtures/cli/clean.yaml']);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain("--max-warnings takes a whole number, not 'lots'");
    });
  });

  describe('--format', () => {
    const targets = ['lint', 'test/fixtures/cli/clean.yaml', 'test/fixtures/cli/problems.yaml'];
    it('json prints ESLint-shaped results', async () => {
      const run = await callflow([...targets, '--format', 'json']);
      expect(run.code).toBe(1);
      const results = JSON.parse(run.stdout) as { filePath: string; errorCount: number }[];
      expect(results.map((r) => r.filePath)).toEqual([join(FIXTURES, 'clean.yaml'), join(FIXTURES, 'problems.yaml')]);
      expect(results[1]!.errorCount).toBeGreaterThan(0);
    });
    it('sarif prints a SARIF 2.1.0 log with paths relative to the working directory', async () => {
      const run = await callflow([...targets, '-f', 'sarif']);
      const log = JSON.parse(run.stdout);
      expect(log.version).toBe('2.1.0');
      expect(log.runs[0].tool.driver.semanticVersion).toBe(VERSION);
      expect(log.runs[0].results[0].locations[0].physicalLocation.artifactLocation.uri).toBe('test/fixtures/cli/problems.yaml');
    });
    it('junit prints JUnit XML', async () => {
      const run = await callflow([...targets, '--format=junit']);
      expect(run.code).toBe(1);
      expect(run.stdout).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites/);
      expect(run.stdout).toContain('<testsuite name="callflow lint" tests="2" failures="1"');
    });
    it('exits 2 for an unknown format', async () => {
      const run = await callflow([...targets, '--format', 'html']);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain("unknown format 'html'");
    });
  });

  it('--output writes the report to a file, creating directories, and nothing to stdout', async () => {
    const dir = project({ 'hello.yaml': CLEAN, 'warns.yaml': WARNS });
    const run = await callflow(['lint', '--format', 'sarif', '--output', 'reports/deep/callflow.sarif'], { cwd: dir });
    expect(run).toEqual({ code: 0, stdout: '', stderr: '' });
    const log = JSON.parse(readFileSync(join(dir, 'reports/deep/callflow.sarif'), 'utf8'));
    expect(log.runs[0].results).toHaveLength(1);
  });

  describe('file discovery', () => {
    it('takes directories recursively, skipping node_modules, dot-directories, the config and flow tests', async () => {
      const broken = 'flow: [';
      const dir = project({
        'flows/a.yaml': CLEAN,
        'flows/deeper/b.yml': CLEAN.replace('hello', 'hello-b'),
        'flows/node_modules/x.yaml': broken,
        'flows/.cache/x.yaml': broken,
        'flows/hello.test.yaml': broken,
        'callflow.config.yaml': 'rules: {}\n',
      });
      const run = await callflow(['lint', '.', '--format', 'json'], { cwd: dir });
      expect(run.code).toBe(0);
      const files = (JSON.parse(run.stdout) as { filePath: string }[]).map((r) => r.filePath);
      expect(files).toEqual([join(dir, 'flows/a.yaml'), join(dir, 'flows/deeper/b.yml')]);
    });
    it('expands globs', async () => {
      const dir = project({ 'flows/a.yaml': CLEAN, 'flows/b.yaml': CLEAN.replace('hello', 'hello-b'), 'other/c.yaml': 'flow: [' });
      const run = await callflow(['lint', 'flows/*.yaml', '--format', 'json'], { cwd: dir });
      expect(run.code).toBe(0);
      expect((JSON.parse(run.stdout) as unknown[]).length).toBe(2);
    });
    it('exits 2 for a missing file', async () => {
      const run = await callflow(['lint', 'nope.yaml']);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain('no such file or directory: nope.yaml');
      expectNoStackTrace(run);
    });
    it('exits 2 for a glob that matches nothing', async () => {
      const run = await callflow(['lint', 'test/fixtures/cli/*.json']);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain('no flow files match test/fixtures/cli/*.json');
    });
    it('exits 2 for a directory without flow files', async () => {
      const dir = project({ 'README.md': '# nothing here\n' });
      const run = await callflow(['lint'], { cwd: dir });
      expect(run.code).toBe(2);
      expect(run.stderr).toContain('no flow files');
    });
    it('reports a binary or garbage file as a diagnostic, not a crash', async () => {
      const garbage = Buffer.from([0x00, 0xff, 0xfe, 0x7f, 0x1b, 0x5b, 0x22, 0x0a, 0x09, 0x3a, 0x3a, 0x7b, 0x5b, 0x00, 0xc3]);
      const dir = project({ 'garbage.yaml': garbage, 'image.png': garbage });
      for (const file of ['garbage.yaml', 'image.png']) {
        const run = await callflow(['lint', file], { cwd: dir });
        expect(run.code).toBe(1);
        expect(run.stdout).toMatch(/error .* schema/);
        expectNoStackTrace(run);
      }
    });
  });

  describe('project config', () => {
    it('applies the nearest callflow.config.yaml upward from each file', async () => {
      const dir = project({ 'callflow.config.yaml': 'rules:\n  unused-variable: "off"\n', 'flows/warns.yaml': WARNS });
      const run = await callflow(['lint', 'flows/warns.yaml'], { cwd: dir });
      expect(run).toEqual({ code: 0, stdout: '', stderr: '' });
    });
    it('--config names the config to use instead', async () => {
      const dir = project({ 'strict.yaml': 'rules:\n  unused-variable: error\n', 'warns.yaml': WARNS });
      const run = await callflow(['lint', 'warns.yaml', '--config', 'strict.yaml'], { cwd: dir });
      expect(run.code).toBe(1);
      expect(run.stdout).toContain('1 error');
    });
    it('exits 2 for a --config file that does not exist', async () => {
      const run = await callflow(['lint', 'test/fixtures/cli/clean.yaml', '--config', 'missing.yaml']);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain('cannot read config missing.yaml');
    });
    it('exits 2 for an invalid config, with file:line:column messages', async () => {
      const dir = project({ 'callflow.config.yaml': 'provider: twillio\nrules:\n  unused-variable: loud\n', 'hello.yaml': CLEAN });
      const run = await callflow(['lint'], { cwd: dir });
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(/^callflow\.config\.yaml:1:11: /m);
      expect(run.stderr).toMatch(/^callflow\.config\.yaml:3:\d+: /m);
      expectNoStackTrace(run);
    });
    it('exits 2 for a config that names a rule that does not exist, with a suggestion', async () => {
      const dir = project({ 'callflow.config.yaml': 'rules:\n  unused-variabel: off\n', 'hello.yaml': CLEAN });
      const run = await callflow(['lint'], { cwd: dir });
      expect(run.code).toBe(2);
      expect(run.stderr).toContain("callflow.config.yaml:2:3: rules.unused-variabel: there is no rule named 'unused-variabel' (did you mean 'unused-variable'?)");
      expectNoStackTrace(run);
    });
    it("reads the project's other flows for references without reporting on them", async () => {
      const main = `flow: main
kind: inbound
start: hours
states:
  hours:
    callFlow: { flow: opening-hours }
    next: desk
  desk:
    transfer: { queue: front-desk }
`;
      const sub = `flow: opening-hours
kind: subflow
start: say
states:
  say:
    say: We are open from nine to five.
    next: done
  done:
    return: {}
  unused:
    say: This state is unreachable, but this file is not linted.
    next: done
`;
      const dir = project({ 'callflow.config.yaml': 'rules: {}\n', 'inbound/main.yaml': main, 'subflows/hours.yaml': sub });
      const run = await callflow(['lint', 'inbound/main.yaml', '--format', 'json'], { cwd: dir });
      expect(JSON.parse(run.stdout)).toMatchObject([{ filePath: join(dir, 'inbound/main.yaml'), messages: [] }]);
      expect(run.code).toBe(0);
      // Without a config, only the flows beside the file are the project.
      const alone = project({ 'inbound/main.yaml': main, 'subflows/hours.yaml': sub });
      const missing = await callflow(['lint', 'inbound/main.yaml'], { cwd: alone });
      expect(missing.code).toBe(1);
      expect(missing.stdout).toContain('unknown-flow');
    });
  });
});

describe('callflow schema', () => {
  it('prints the flow JSON Schema', async () => {
    const run = await callflow(['schema']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual(getFlowSchema());
  });
  it('prints the config JSON Schema with --config (or `config`)', async () => {
    const run = await callflow(['schema', '--config']);
    expect(JSON.parse(run.stdout)).toEqual(getConfigSchema());
    const positional = await callflow(['schema', 'config']);
    expect(positional.stdout).toBe(run.stdout);
  });
  it('exits 2 for an unknown schema name', async () => {
    const run = await callflow(['schema', 'everything']);
    expect(run.code).toBe(2);
  });
  it('ships the same schemas as files in schema/ (written by the build)', () => {
    expect(JSON.parse(readFileSync(join(PACKAGE_ROOT, 'schema', 'flow.schema.json'), 'utf8'))).toEqual(getFlowSchema());
    expect(JSON.parse(readFileSync(join(PACKAGE_ROOT, 'schema', 'config.schema.json'), 'utf8'))).toEqual(getConfigSchema());
  });
});
