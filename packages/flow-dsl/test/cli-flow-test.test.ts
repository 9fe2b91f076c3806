/**
 * `callflow test`, run as CI runs it: `node dist/cli.js` in a child process (build first:
 * `npx tsup`). Fixture projects are under test/fixtures/flow-tests/ (see its README):
 * passing and failing test files, malformed ones (reported with line:column), coverage
 * gating with --min-coverage, --format json, no test files (exit 2), and the examples.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { examplesRoot } from './example-projects.js';
import { PACKAGE_ROOT } from './golden.js';
import { CLI, callflow as run, expectNoStackTrace, type Run } from './cli-helpers.js';

// Every test starts node processes; a loaded CI machine can take seconds for each.
vi.setConfig({ testTimeout: 60_000 });

const FIXTURES = join(PACKAGE_ROOT, 'test', 'fixtures', 'flow-tests');
const REPO_ROOT = join(examplesRoot, '..');


const callflow = (args: string[], cwd = FIXTURES): Promise<Run> => run(args, { cwd });


interface Coverage {
  flow: string;
  file?: string;
  states: { hit: number; total: number };
  transitions: { hit: number; total: number };
  missedStates: string[];
}
interface TestJson {
  passed: number;
  failed: number;
  files: { file: string; flow?: string; problems: { line: number; column: number; message: string }[]; tests: { name: string; passed: boolean; failures: string[]; path?: string[]; end?: { type: string } }[] }[];
  coverage: Coverage[];
  minCoverage?: number;
  belowMinimum?: string[];
}

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build the package first (npx tsup)`);
});

describe('callflow test', () => {
  it('exits 0 when every test passes, with a line per test and coverage per flow', async () => {
    const run = await callflow(['test', 'passing']);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain('passing/order-line.test.yaml  (flow order-line)\n');
    expect(run.stdout).toContain('  ✓ a shipped order is read back\n');
    expect(run.stdout).toContain('  ✓ the caller hangs up\n');
    expect(run.stdout).toMatch(/^ {2}order-line +8\/8 100\.0% +10\/10 100\.0%$/m);
    expect(run.stdout).toContain('\n6 passed, 0 failed\n');
  });

  it('exits 1 when a test fails, saying what did not hold', async () => {
    const run = await callflow(['test', 'failing']);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('  ✓ a shipped order is read back\n');
    expect(run.stdout).toContain('  ✗ wrong path\n');
    expect(run.stdout).toContain('path: expected welcome → askOrder → findOrder → route → shipped → goodbye');
    expect(run.stdout).toContain('got      welcome → askOrder → findOrder → route → toDesk');
    expect(run.stdout).toContain('end.queue: expected "billing", got "orders"');
    expect(run.stdout).toContain("transcript: 'Your parcel is lost.' does not appear");
    expect(run.stdout).toContain("visits: state 'sorry' was not entered");
    expect(run.stdout).toContain('error: expected the flow to fail at run time, but it ran to an end');
    expect(run.stdout).toContain('\n1 passed, 5 failed\n');
  });

  it('checks the end the agent gets, and shows a failing end redacted', async () => {
    const run = await callflow(['test', 'masked-end']);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('  ✓ the agent gets the last four digits\n');
    expect(run.stdout).toContain('  ✗ the wrong last four digits\n');
    // The last four digits are a piece of the card keyed in: printed, they are redacted.
    expect(run.stdout).toContain('end.outputs.cardLast4: expected "1111", got "[redacted]"');
    expect(run.stdout.includes('2832'), 'a piece of the card on stdout').toBe(false);

    const asJson = await callflow(['test', 'masked-end', '--format', 'json']);
    const out = JSON.parse(asJson.stdout) as TestJson;
    expect(out.files[0]!.tests.map((t) => t.end)).toEqual([
      { type: 'returnToAgent', outputs: { cardLast4: '[redacted]' } },
      { type: 'returnToAgent', outputs: { cardLast4: '[redacted]' } },
    ]);
    expect(asJson.stdout.includes('2832'), 'a piece of the card on stdout').toBe(false);
  });

  it('runs every file and directory named, and fails when any test fails', async () => {
    const run = await callflow(['test', 'passing/order-line.test.yaml', 'failing']);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('passing/order-line.test.yaml');
    expect(run.stdout).toContain('failing/order-line.test.yaml');
    expect(run.stdout).toContain('\n7 passed, 5 failed\n');
  });

  it('reports malformed test files with line:column and exits 1', async () => {
    const run = await callflow(['test', 'malformed']);
    expect(run.code).toBe(1);
    const out = run.stdout;
    // YAML syntax: an unclosed flow sequence, noticed where the next key starts.
    expect(out).toMatch(/malformed\/yaml-syntax\.test\.yaml\n {2}✗ 5:5 {2}YAML syntax error: /);
    // A misspelt key: where it is, and which required key is then missing.
    expect(out).toContain("malformed/unknown-key.test.yaml\n  ✗ 3:5  tests[0]: missing required key 'expect'\n  ✗ 5:5  tests[0]: unknown key 'expects'\n");
    // Digits written as numbers: a long one loses digits, a leading zero is dropped.
    expect(out).toContain('malformed/long-number.test.yaml\n  ✗ 4:14  tests[0].inputs[0]: a long number loses digits in YAML; quote it ("...")\n');
    expect(out).toContain('malformed/leading-zero.test.yaml\n  ✗ 4:14  tests[0].inputs[0]: YAML reads 012345 as the number 12345; quote it ("012345") to key in those digits\n');
    expect(out).toContain("malformed/unknown-flow.test.yaml  (flow order-lines)\n  ✗ 1:1  no flow named 'order-lines' in the project of this file\n");
    expect(out).toContain('\n0 passed, 5 failed\n');
    expectNoStackTrace(run);
  });

  it('gates on --min-coverage: exit 1 when a flow is below it', async () => {
    // partial/ covers 6 of 8 states (75%) and 5 of 10 transitions (50%).
    const noMinimum = await callflow(['test', 'partial']);
    expect(noMinimum.code).toBe(0);
    expect(noMinimum.stdout).toMatch(/^ {2}order-line +6\/8 75\.0% +5\/10 50\.0%$/m);

    const met = await callflow(['test', 'partial', '--min-coverage', '50']);
    expect(met.code).toBe(0);
    expect((met.stdout).includes('below'), 'must not be there').toBe(false);

    const below = await callflow(['test', 'partial', '--min-coverage', '60%']);
    expect(below.code).toBe(1);
    expect(below.stdout).toMatch(/^ {2}order-line +6\/8 75\.0% +5\/10 50\.0% {2}below 60%$/m);
    expect(below.stdout).toContain('\n1 passed, 0 failed\ncoverage below 60% for: order-line\n');

    const full = await callflow(['test', 'passing', '--min-coverage', '100']);
    expect(full.code).toBe(0);
  });

  it('exits 2 on a --min-coverage that is not a percentage', async () => {
    const run = await callflow(['test', 'passing', '--min-coverage', 'lots']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("--min-coverage takes a percentage from 0 to 100, not 'lots'");
    expectNoStackTrace(run);
  });

  it('--format json prints the tests, the problems and the coverage as one object', async () => {
    const run = await callflow(['test', 'partial', 'malformed/unknown-key.test.yaml', '--format', 'json', '--min-coverage', '60']);
    expect(run.code).toBe(1);
    const out = JSON.parse(run.stdout) as TestJson;
    expect(out).toMatchObject({ passed: 1, failed: 1, minCoverage: 60, belowMinimum: ['order-line'] });
    const malformed = out.files.find((f) => f.file === 'malformed/unknown-key.test.yaml')!;
    expect(malformed.problems).toEqual([
      { line: 3, column: 5, message: "tests[0]: missing required key 'expect'" },
      { line: 5, column: 5, message: "tests[0]: unknown key 'expects'" },
    ]);
    const partial = out.files.find((f) => f.file === 'partial/order-line.test.yaml')!;
    expect(partial.tests).toEqual([
      {
        name: 'a shipped order is read back',
        passed: true,
        failures: [],
        path: ['welcome', 'askOrder', 'findOrder', 'route', 'shipped', 'goodbye'],
        end: { type: 'disconnect', reason: 'shipped' },
      },
    ]);
    expect(out.coverage).toEqual([
      {
        flow: 'order-line',
        file: 'partial/order-line.yaml',
        states: { hit: 6, total: 8 },
        transitions: { hit: 5, total: 10 },
        missedStates: ['sorry', 'toDesk'],
      },
    ]);
  });

  it('exits 2 when there are no test files, or the path does not exist', async () => {
    const none = await callflow(['test', 'no-tests']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('no flow test files (*.test.yaml) in no-tests');
    expect(none.stdout).toBe('');

    const missing = await callflow(['test', 'no-such-dir']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no such file or directory: no-such-dir');
    expectNoStackTrace(missing);
  });

  it('passes on the examples (every example flow has a test file)', async () => {
    const run = await callflow(['test', 'examples', '--format', 'json', '--min-coverage', '90'], REPO_ROOT);
    const out = JSON.parse(run.stdout) as TestJson;
    expect(out.failed).toBe(0);
    expect(out.passed).toBeGreaterThan(40);
    expect(out.files.every((f) => f.problems.length === 0 && f.tests.every((t) => t.passed))).toBe(true);
    const flows = Object.fromEntries(out.coverage.map((c) => [c.flow, c]));
    expect(Object.keys(flows).sort()).toEqual(['agent-card-payment', 'billing-line', 'card-payment', 'masked-callback', 'protected-identity', 'sms-otp']);
    for (const name of ['agent-card-payment', 'billing-line', 'card-payment', 'masked-callback', 'protected-identity', 'sms-otp']) {
      expect(flows[name]!.missedStates, name).toEqual([]);
      expect(flows[name]!.transitions.hit, name).toBe(flows[name]!.transitions.total);
    }
    expect(out.belowMinimum).toEqual([]);
    expect(run.code).toBe(0);
    expect(flows['sms-otp']!.file).toBe(join('examples', 'sms-otp', 'sms-otp.yaml'));

    const plain = await callflow(['test', 'examples'], REPO_ROOT);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/\n\d+ passed, 0 failed\n$/);
  });
});
