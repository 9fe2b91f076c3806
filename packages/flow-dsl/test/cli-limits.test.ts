/**
 * Inputs that must meet one of callflow's limits with a clear message, never a crash or a
 * stack trace, run as users run them: `node dist/cli.js` in a child process (build first:
 * `npx tsup`). Flows that call each other in a cycle (test/fixtures/limits/recursive), a
 * flow input nested too deep, a flow file over the size limit, an alias bomb, and control
 * characters in a flow file.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MAX_SOURCE_BYTES } from '../src/index.js';
import { CLI, callflow, expectNoStackTrace } from './cli-helpers.js';
import { PACKAGE_ROOT } from './golden.js';

// Every test starts node processes; a loaded CI machine can take seconds for each.
vi.setConfig({ testTimeout: 60_000 });

const RECURSIVE = join(PACKAGE_ROOT, 'test', 'fixtures', 'limits', 'recursive');
const CYCLE = "flow 'billing-help' calls itself through 'payments-help' → 'billing-help'";
// Raw control characters and bidi controls (LF aside): none may reach a terminal.
const RAW_CONTROLS = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

let work: string;
beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build the package first (npx tsup)`);
  work = mkdtempSync(join(tmpdir(), 'callflow-limits-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A file in a directory of its own under the work directory (each its own project). */
function write(dir: string, name: string, text: string): string {
  mkdirSync(join(work, dir), { recursive: true });
  const path = join(work, dir, name);
  writeFileSync(path, text);
  return path;
}

describe('flows that call each other in a cycle', () => {
  it('lint reports recursive-flow at each call on the cycle, naming it (exit 1)', async () => {
    const run = await callflow(['lint', RECURSIVE]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`states.payments.callFlow.flow: ${CYCLE}`);
    expect(run.stdout).toContain("flow 'payments-help' calls itself through 'billing-help' → 'payments-help'");
    expect(run.stdout).toContain('✖ 2 problems (2 errors, 0 warnings)');
    expect((run.stdout).includes('main-line.yaml'), 'must not be there').toBe(false);
  });

  it('simulate refuses a flow on the cycle with the lint error: exit 2, no stack trace', async () => {
    const run = await callflow(['simulate', join(RECURSIVE, 'billing-help.yaml')]);
    expectNoStackTrace(run);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(CYCLE);
    expect(run.stderr).toContain('recursive-flow');
    expect(run.stderr).toContain('the flow does not lint clean of errors');
  });

  it('simulate of a flow that calls into the cycle fails the call at the depth limit: exit 1, CALL_DEPTH', async () => {
    const run = await callflow(['simulate', join(RECURSIVE, 'main-line.yaml'), '--format', 'json']);
    expectNoStackTrace(run);
    expect(run.code).toBe(1);
    const out = JSON.parse(run.stdout) as { end: unknown; error: { code: string; message: string } };
    expect(out.end).toEqual({ type: 'disconnect', reason: 'error' });
    expect(out.error.code).toBe('CALL_DEPTH');
    expect(out.error.message).toContain('more than the limit of 16');
  });

  it('test reports the lint error of a flow on the cycle, and CALL_DEPTH for one calling into it', async () => {
    const run = await callflow(['test', RECURSIVE]);
    expectNoStackTrace(run);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`does not lint clean (1 error(s), first billing-help.yaml:7:23 states.payments.callFlow.flow: ${CYCLE}`);
    expect(run.stdout).toContain('the flow failed at run time: CALL_DEPTH:');
    expect(run.stdout).toContain('0 passed, 2 failed');
  });
});

describe('a flow input nested too deep', () => {
  const deepInputFlow = () =>
    write('deep-input', 'deep-input.yaml', [
      'flow: deep-input', 'kind: inbound', 'inputs:', '  items: { type: list }', 'start: bye', 'states:', '  bye:', '    disconnect: {}', '',
    ].join('\n'));

  it('is a usage error naming the input and the limit (exit 2), however deep', async () => {
    const path = deepInputFlow();
    for (const levels of [33, 20_000]) {
      const run = await callflow(['simulate', path, '--flow-input', `items=${'['.repeat(levels)}${']'.repeat(levels)}`]);
      expectNoStackTrace(run);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain("callflow simulate: deep-input: the input 'items' nests lists and maps more than 32 levels deep");
    }
  });

  it('fails that flow test, not the run (exit 1)', async () => {
    deepInputFlow();
    write('deep-input', 'deep-input.test.yaml', [
      'flow: deep-input', 'tests:', '  - name: hands in a deep list', `    flowInputs: { items: ${'['.repeat(40)}${']'.repeat(40)} }`, '    expect: { end: { type: disconnect } }',
      '  - name: hands in a flat one', '    flowInputs: { items: [1, 2] }', '    expect: { end: { type: disconnect } }', '',
    ].join('\n'));
    const run = await callflow(['test', join(work, 'deep-input')]);
    expectNoStackTrace(run);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("flowInputs: deep-input: the input 'items' nests lists and maps more than 32 levels deep");
    expect(run.stdout).toContain('1 passed, 1 failed');
  });
});

describe('a flow file over the size limit', () => {
  it('is refused from its size without being read: one fatal schema error naming the file, its size and the limit', async () => {
    // Sparse: 4 GiB on paper, nothing on disk. Reading it would fail (or take minutes).
    const path = write('huge', 'huge.yaml', 'flow: huge\n');
    truncateSync(path, 4 * 1024 ** 3);
    const run = await callflow(['lint', path, '--format', 'json']);
    expectNoStackTrace(run);
    expect(run.code).toBe(1);
    const [result] = JSON.parse(run.stdout) as { messages: { ruleId: string; fatal?: boolean; message: string; line: number }[]; fatalErrorCount: number }[];
    expect(result!.fatalErrorCount).toBe(1);
    expect(result!.messages).toEqual([
      expect.objectContaining({
        ruleId: 'schema',
        fatal: true,
        line: 1,
        message: 'huge.yaml is 4096 MB (4,294,967,296 bytes), over the limit of 5 MB for a file callflow reads, so it was not read; split it into smaller flows (subflows)',
      }),
    ]);
  });

  it('is refused one byte over 5 MB, and read at 5 MB', async () => {
    const flow = 'flow: padded\nkind: inbound\nstart: bye\nstates:\n  bye:\n    disconnect: { reason: done }\n';
    const pad = (bytes: number) => `${flow}#${'x'.repeat(bytes - flow.length - 2)}\n`;
    const over = write('over', 'padded.yaml', pad(MAX_SOURCE_BYTES + 1));
    const at = write('at', 'padded.yaml', pad(MAX_SOURCE_BYTES));
    const refused = await callflow(['lint', over]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain('padded.yaml is 5.0 MB (5,242,881 bytes), over the limit of 5 MB');
    const read = await callflow(['lint', at]);
    expect(read.stdout).toBe('');
    expect(read.code).toBe(0);
    const simulated = await callflow(['simulate', over]);
    expectNoStackTrace(simulated);
    expect(simulated.code).toBe(2);
    expect(simulated.stderr).toContain('over the limit of 5 MB');
  });
});

describe('a YAML alias bomb', () => {
  it('is refused with a message that says what it is (exit 1)', async () => {
    const lines = ['flow: lol', 'kind: inbound', 'start: s', 'variables:', '  v:', '    type: list', '    default:', '      - &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
    for (let i = 1; i < 10; i++) lines.push(`      - &a${i} [${Array.from({ length: 9 }, () => `*a${i - 1}`).join(', ')}]`);
    lines.push('states:', '  s:', '    disconnect: {}');
    const path = write('bomb', 'lol.yaml', `${lines.join('\n')}\n`);
    const run = await callflow(['lint', path]);
    expectNoStackTrace(run);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('1:1  error  YAML could not be read: its aliases (*name) would expand into more than 100 copies');
    expect(run.stdout).toContain('billion laughs');
  });
});

describe('control characters in a flow file', () => {
  it('reach no report raw: stylish escapes them, json, sarif and junit write them as escapes', async () => {
    // A value the schema quotes, and a state name another rule quotes.
    write('painted', 'painted-next.yaml', [
      'flow: painted-next', 'kind: inbound', 'start: hello', 'states:', '  hello:', '    say: Hi', '    next: "ask\\e[31mRED\\r\\u202eevil"', '',
    ].join('\n'));
    write('painted', 'painted-name.yaml', [
      'flow: painted-name', 'kind: inbound', 'start: bye', 'states:', '  bye:', '    disconnect: {}', '  "bad\\e]0;pwned\\aname":', '    disconnect: {}', '',
    ].join('\n'));
    const dir = join(work, 'painted');
    const stylish = await callflow(['lint', dir]);
    expect(stylish.code).toBe(1);
    expect(stylish.stdout).toContain("states.hello.next: 'ask\\x1b[31mRED\\r\\u202eevil' is not a valid name");
    expect(stylish.stdout).toContain('states.bad\\x1b]0;pwned\\x07name: no path from start leads to this state');
    for (const format of ['stylish', 'json', 'junit', 'sarif']) {
      const run = format === 'stylish' ? stylish : await callflow(['lint', dir, '--format', format]);
      expect(run.stdout, format).not.toMatch(RAW_CONTROLS);
      expect(run.stdout, format).toContain('pwned');
    }
  });

  it('reach no simulate transcript raw', async () => {
    const path = write('painted-say', 'painted-say.yaml', [
      'flow: painted-say', 'kind: inbound', 'start: hello', 'states:', '  hello:', '    say: "Hello\\e[2J\\r caller"', '    next: bye', '  bye:', '    disconnect: {}', '',
    ].join('\n'));
    for (const format of ['text', 'json']) {
      const run = await callflow(['simulate', path, '--format', format]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout, format).not.toMatch(RAW_CONTROLS);
      expect(run.stdout, format).toContain(format === 'text' ? 'Hello\\x1b[2J\\r caller' : 'Hello\\u001b[2J\\r caller');
    }
  });
});
