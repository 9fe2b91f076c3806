/**
 * A turn that meets another worker's turn of the same call (`ConcurrentTurnError`) is tried
 * again by the webhook a bounded number of times, then answered with the fail-safe.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ConcurrentTurnError, createRuntime, type Runtime } from '@callflow/flow-core';
import { CallSimulator, postForm } from './call-simulator.js';
import { AUTH_TOKEN, CLIENT_PHONE, MANAGER, PARTNER_LINE, ScriptedActions, exampleFlow, serveWebhook } from './fixtures.js';

const OPEN = { lookupApplication: { status: 'open', clientPhone: CLIENT_PHONE } };

/** The runtime, with `handle` refused as if another worker got in the way, `conflicts` times. */
function conflicted(conflicts: number) {
  const actions = new ScriptedActions(OPEN);
  const inner = createRuntime({ flows: [exampleFlow('masked-callback')], actions });
  let left = conflicts;
  let handled = 0;
  const runtime: Runtime = Object.create(inner) as Runtime;
  runtime.handle = async (sessionId, event, options) => {
    handled++;
    if (left > 0) {
      left--;
      throw new ConcurrentTurnError(sessionId);
    }
    return inner.handle(sessionId, event, options);
  };
  return { runtime, actions, handled: () => handled, arm: (n: number) => (left = n) };
}

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

describe('a turn refused because another worker got in the way', () => {
  it('is tried again and answered as usual', async () => {
    const c = conflicted(0);
    const served = await serveWebhook(c.runtime, { flowByNumber: { [PARTNER_LINE]: 'masked-callback' } });
    close = served.close;
    c.arm(2);
    const call = await new CallSimulator(served.baseUrl, AUTH_TOKEN, { from: MANAGER, to: PARTNER_LINE }).dialIn(['12345678', { dial: 'completed' }]);
    expect(call.outcome).toBe('hangup');
    expect(call.transcript).toContain(`dial number ${CLIENT_PHONE} from +15555550100`);
    expect(c.actions.count('lookupApplication')).toBe(1);
    expect(served.problems).toEqual([]);
  });

  it('gets the fail-safe once the retries are spent, and the conflict is reported', async () => {
    const c = conflicted(0);
    const served = await serveWebhook(c.runtime, { flowByNumber: { [PARTNER_LINE]: 'masked-callback' }, fallbackQueue: 'partner-desk', concurrentTurnRetries: 1 });
    close = served.close;
    const first = await postForm(`${served.baseUrl}/voice`, { CallSid: 'CA0001', From: MANAGER, To: PARTNER_LINE }, AUTH_TOKEN);
    const action = /action="([^"]+)"/.exec(first.body)![1]!;
    c.arm(10);
    const before = c.handled();
    const answer = await postForm(action, { CallSid: 'CA0001', Digits: '12345678' }, AUTH_TOKEN);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatch(/<Enqueue action="[^"]+\/fallback\/result" method="POST">partner-desk<\/Enqueue>/);
    expect(c.handled() - before).toBe(2);
    expect(c.actions.count('lookupApplication')).toBe(0);
    expect(served.problems).toEqual([expect.objectContaining({ code: 'SESSION_CONFLICT' })]);
  });
});
