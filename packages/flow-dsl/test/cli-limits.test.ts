/**
 * Inputs that must meet one of callflow's limits with a clear message, never a crash or a
 * stack trace, run as users run them: `node dist/cli.js` in a child process (build first:
 * `npx tsup`). Flows that call each other in a cycle (test/fixtures/limits/recursive).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { CLI, callflow, expectNoStackTrace } from './cli-helpers.js';
import { PACKAGE_ROOT } from './golden.js';

// Every test starts node processes; a loaded CI machine can take seconds for each.
vi.setConfig({ testTimeout: 60_000 });

const RECURSIVE = join(PACKAGE_ROOT, 'test', 'fixtures', 'limits', 'recursive');
const CYCLE = "flow 'billing-help' calls itself through 'payments-help' → 'billing-help'";

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build the package first (npx tsup)`);
});

describe('flows that call each other in a cycle', () => {
  it('lint reports recursive-flow at each call on the cycle, naming it (exit 1)', async () => {
    const run = await callflow(['lint', RECURSIVE]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`states.payments.callFlow.flow: ${CYCLE}`);
    expect(run.stdout).toContain("flow 'payments-help' calls itself through 'billing-help' → 'payments-help'");
    expect(run.stdout).toContain('✖ 2 problems (2 errors, 0 warnings)');
    expect(run.stdout).not.toContain('main-line.yaml');
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
