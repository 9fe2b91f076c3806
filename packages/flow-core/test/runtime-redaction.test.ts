/**
 * How the runtime applies its redactor: strings in events, log records, ends and inspect views
 * are redacted; typed fields of commands and events (amounts, timestamps, counts) keep their
 * types, whatever secure value has their digits.
 */
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { createRuntime, ManualClock, MemoryLogger, REDACTED, type Flow, type RuntimeEventMap } from '../src/index.js';

// A payment whose secure code, amount and clock all read 5555: a piece of the code is in the
// amount's digits and in every timestamp. The host hands in a clear note that happens to hold
// the code (the runtime refuses a flow that would log the code itself): the redactor, the
// second line, removes it from what is written out.
const CODE = '5555';
const NOW = 5_555_000_000_000;
const AMOUNT = 55.55;

const flow = parse(`
flow: pay-with-code
kind: secure
reservation: none
inputs:
  amount: { type: number, required: true }
  code: { type: string, secure: true }
  note: { type: string, required: true }
start: take
states:
  take:
    pay: { amount: amount, currency: gbp, prompt: Please key in your card details when asked., attempts: 2 }
    on: { success: done, failure: toDesk }
  done:
    log: "paid with \${note} in turn 55557"
    next: bye
  bye:
    disconnect: { reason: paid }
  toDesk:
    transfer: { queue: payments, data: { amount: amount, count: 5555, note: note } }
`) as Flow;

function setup() {
  const clock = new ManualClock(NOW);
  const logger = new MemoryLogger();
  const runtime = createRuntime({ flows: [flow], clock, logger });
  const events: { name: string; payload: Record<string, unknown> }[] = [];
  for (const name of ['session.started', 'state.entered', 'command', 'session.ended', 'secure.entered', 'secure.exited'] as const) {
    runtime.events.on(name, (payload: RuntimeEventMap[typeof name]) => events.push({ name, payload: payload as unknown as Record<string, unknown> }));
  }
  const start = () => runtime.startSession({ flow: 'pay-with-code', inputs: { amount: AMOUNT, code: CODE, note: `code ${CODE}` }, call: { caller: '+15555550100', callId: 'CA-1' } });
  return { runtime, logger, events, start };
}

describe('the runtime redacts strings and keeps typed fields', () => {
  it('emits a pay command whose amount is still the number', async () => {
    const s = setup();
    await s.start();
    const pay = s.events.find((e) => e.name === 'command' && (e.payload.command as { type: string }).type === 'pay');
    expect(pay?.payload.command).toEqual({
      type: 'pay',
      amount: AMOUNT,
      currency: 'GBP',
      prompt: [{ text: 'Please key in your card details when asked.' }],
      attempts: 2,
    });
  });

  it('keeps every event\'s `at` a number when a secure value equals its digits', async () => {
    const s = setup();
    const t = await s.start();
    await s.runtime.handle(t.sessionId, { type: 'paymentResult', status: 'success', reference: 'R-1' });
    expect(s.events.length).toBeGreaterThan(5);
    for (const e of s.events) expect(e.payload.at).toBe(NOW);
  });

  it('ends with typed fields intact in the session.ended event and the stored record, strings redacted', async () => {
    const s = setup();
    const t = await s.start();
    await s.runtime.handle(t.sessionId, { type: 'paymentResult', status: 'failed', error: 'declined' });
    const end = { type: 'transfer', queue: 'payments', data: { amount: AMOUNT, count: 5555, note: `code ${REDACTED}` } };
    expect(s.events.find((e) => e.name === 'session.ended')?.payload.end).toEqual(end);
    const view = await s.runtime.inspect(t.sessionId);
    expect(view?.end).toEqual(end);
    expect(view?.startedAt).toBe(NOW);
    expect(view?.turns).toBe(2);
  });

  it('redacts the secure value in a log line and keeps the numbers that merely hold its digits', async () => {
    const s = setup();
    const t = await s.start();
    await s.runtime.handle(t.sessionId, { type: 'paymentResult', status: 'success', reference: 'R-1' });
    const record = s.logger.records.find((r) => r.msg.startsWith('paid'));
    expect(record?.msg).toBe(`paid with code ${REDACTED} in turn 55557`);
    expect(record?.fields).toEqual({ sessionId: t.sessionId, flow: 'pay-with-code', state: 'done' });
  });
});
