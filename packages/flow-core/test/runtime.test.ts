import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ManualClock,
  MemoryLogger,
  MemorySessionStore,
  MemoryReservationStore,
  createRuntime,
  defineAction,
  keyRing,
  type Command,
  type Flow,
  type RuntimeOptions,
} from '../src/index.js';

const CARD = '4916338506082832';
const load = (name: string): Flow => parse(readFileSync(join(import.meta.dirname, 'fixtures', `${name}.yaml`), 'utf8')) as Flow;
const types = (cs: Command[]) => cs.map((c) => c.type);

const chargeCard = defineAction({
  name: 'chargeCard',
  secure: true,
  input: z.object({ card: z.string(), cvv: z.string(), amount: z.number() }),
  output: z.object({ reference: z.string() }),
  handler: async ({ card }) => {
    if (card.startsWith('5')) throw new Error(`declined card ${card}`);
    return { reference: 'PAY-0042' };
  },
});
const balance = defineAction({
  name: 'balance',
  input: z.object({ account: z.string() }),
  output: z.object({ amount: z.number() }),
  handler: async () => ({ amount: 12.5 }),
});

function setup(extra: Partial<RuntimeOptions> = {}) {
  const clock = new ManualClock(1_700_000_000_000);
  const store = new MemorySessionStore(clock);
  const reservations = new MemoryReservationStore(clock);
  const logger = new MemoryLogger();
  const secrets = keyRing({ k1: Buffer.alloc(32, 7) }, 'k1');
  const options: RuntimeOptions = {
    flows: [load('take-payment'), load('ivr'), load('get-balance'), load('self-pay'), load('otp')],
    actions: [chargeCard, balance],
    clock,
    store,
    reservations,
    logger,
    secrets,
    ...extra,
  };
  const runtime = createRuntime(options);
  const emitted: unknown[] = [];
  for (const name of Object.keys({ 'session.started': 1, 'state.entered': 1, command: 1, input: 1, 'action.started': 1, 'action.succeeded': 1, 'action.failed': 1, 'reservation.reserved': 1, 'reservation.released': 1, 'secure.entered': 1, 'secure.exited': 1, alert: 1, 'session.ended': 1, error: 1 })) {
    runtime.events.on(name as 'command', (p) => emitted.push({ name, ...p }));
  }
  const everything = () => JSON.stringify(emitted) + logger.text() + store.rawValues().join('\n');
  return { runtime, clock, store, reservations, logger, emitted, everything, options };
}

async function agentPayment(s: ReturnType<typeof setup>) {
  return s.runtime.startSecureSession({
    conversationId: 'conv-1',
    agentId: 'agent-7',
    flow: 'take-payment',
    inputs: { amount: 25.5 },
    reserveAgent: true,
    call: { caller: '+15555550111', callId: 'CA1' },
  });
}

describe('secure flow with the agent reserved', () => {
  it('pauses recording, collects, charges, and returns the caller to the agent with masked outputs', async () => {
    const s = setup();
    const t1 = await agentPayment(s);
    expect(types(t1.commands)).toEqual(['pauseRecording', 'collect']);
    expect(t1.commands[1]).toMatchObject({ type: 'collect', secure: true, minDigits: 13, maxDigits: 19, finishOnKey: '#', timeoutMs: 8000 });
    expect(await s.runtime.isReserved('agent-7')).toBe(true);

    const t2 = await s.runtime.handle(t1.sessionId, { type: 'digits', digits: `${CARD}#` });
    expect(t2.path).toEqual(['askCvv']);
    const t3 = await s.runtime.handle(t1.sessionId, { type: 'digits', digits: '123' });
    expect(t3.path).toEqual(['charge', 'mask', 'thanks', 'backToAgent']);
    expect(types(t3.commands)).toEqual(['say', 'resumeRecording', 'returnToAgent', 'end']);
    expect(t3.commands[2]).toEqual({ type: 'returnToAgent', agentId: 'agent-7', conversationId: 'conv-1', outputs: { paymentRef: 'PAY-0042', cardLast4: '2832' } });
    expect(t3.status).toBe('ended');
    expect(t3.end).toMatchObject({ type: 'returnToAgent' });
    expect(await s.runtime.isReserved('agent-7')).toBe(false);
    expect((s.everything()).includes(CARD), 'must not be there').toBe(false);
    expect((s.everything()).includes('4916'), 'must not be there').toBe(false);
  });

  it('refuses a second secure session for an agent who is reserved', async () => {
    const s = setup();
    await agentPayment(s);
    await expect(agentPayment(s)).rejects.toMatchObject({ code: 'AGENT_RESERVED' });
  });

  it('releases the reservation when the caller hangs up', async () => {
    const s = setup();
    const t1 = await agentPayment(s);
    const t2 = await s.runtime.handle(t1.sessionId, { type: 'hangup' });
    expect(t2.end).toMatchObject({ type: 'hangup', state: 'askCard' });
    expect(await s.runtime.isReserved('agent-7')).toBe(false);
    expect(s.emitted).toContainEqual(expect.objectContaining({ name: 'reservation.released', reason: 'hangup' }));
  });

  it('releases the reservation on a transfer after failed attempts', async () => {
    const s = setup();
    const t1 = await agentPayment(s);
    await s.runtime.handle(t1.sessionId, { type: 'digits', digits: '1234567890123' });
    await s.runtime.handle(t1.sessionId, { type: 'noInput' });
    const t = await s.runtime.handle(t1.sessionId, { type: 'digits', digits: '1111' });
    expect(t.path).toEqual(['sorry', 'toBilling']);
    expect(types(t.commands)).toEqual(['say', 'resumeRecording', 'transfer', 'end']);
    expect(await s.runtime.isReserved('agent-7')).toBe(false);
  });

  it('releases the reservation when the lease runs out', async () => {
    const s = setup({ reservationLeaseMs: 60_000 });
    await agentPayment(s);
    s.clock.advance(60_001);
    expect(await s.runtime.sweep()).toBe(1);
    expect(await s.runtime.isReserved('agent-7')).toBe(false);
    expect(s.emitted).toContainEqual(expect.objectContaining({ name: 'reservation.released', reason: 'expired' }));
  });

  it('reports a mirror that fails while sweeping as an error event', async () => {
    const s = setup({
      reservationLeaseMs: 1_000,
      reservationMirror: { reserved: async () => {}, released: async () => { throw new Error('TaskRouter unavailable'); } },
    });
    await agentPayment(s);
    s.clock.advance(1_001);
    await s.runtime.sweep();
    expect(s.emitted).toContainEqual(expect.objectContaining({ name: 'error', code: 'MIRROR_FAILED' }));
    expect(await s.runtime.isReserved('agent-7')).toBe(false);
  });

  it('releases every reservation on shutdown', async () => {
    const s = setup();
    await agentPayment(s);
    await s.runtime.shutdown();
    expect(await s.runtime.isReserved('agent-7')).toBe(false);
  });

  it('routes a declined card to onError handling without leaking the number from the error', async () => {
    const s = setup();
    const t1 = await agentPayment(s);
    await s.runtime.handle(t1.sessionId, { type: 'digits', digits: '5555555555554444' });
    const t = await s.runtime.handle(t1.sessionId, { type: 'digits', digits: '999' });
    expect(t.path).toEqual(['charge', 'sorry', 'toBilling']);
    expect((s.everything()).includes('5555555555554444'), 'must not be there').toBe(false);
    expect((s.everything()).includes('4444'), 'must not be there').toBe(false);
  });
});

describe('sessions survive the process', () => {
  it('restores a session mid-flow in a fresh runtime sharing the store and keys', async () => {
    const s = setup();
    const t1 = await agentPayment(s);
    await s.runtime.handle(t1.sessionId, { type: 'digits', digits: CARD });
    const raw = s.store.rawValues().join('');
    expect((raw).includes(CARD), 'must not be there').toBe(false);
    expect(raw).toContain('"sealed"');
    const fresh = createRuntime(s.options);
    const t3 = await fresh.handle(t1.sessionId, { type: 'digits', digits: '123' });
    expect(t3.commands.at(-2)).toMatchObject({ type: 'returnToAgent', outputs: { cardLast4: '2832' } });
  });

  it('keeps the persisted snapshot small', async () => {
    const s = setup();
    const t = await s.runtime.startSession({ flow: 'main-ivr', call: { caller: '+15555550111' } });
    const size = s.store.rawValues().find((v) => v.includes(t.sessionId))!.length;
    expect(size).toBeLessThan(1024);
  });
});

describe('IVR flows', () => {
  it('re-prompts a menu on a wrong key, then fails after the attempts', async () => {
    const s = setup();
    const t1 = await s.runtime.startSession({ flow: 'main-ivr' });
    expect(t1.commands[0]).toMatchObject({ type: 'collect', purpose: 'menu', maxDigits: 1, secure: false });
    const t2 = await s.runtime.handle(t1.sessionId, { type: 'digits', digits: '7' });
    expect(t2.commands[0]).toMatchObject({ type: 'collect', prompt: [{ text: 'Sorry, that is not an option.' }, { text: 'For payments press 1. For your balance press 2.' }] });
    const t3 = await s.runtime.handle(t1.sessionId, { type: 'noInput' });
    expect(t3.path).toEqual(['bye']);
    expect(t3.end).toEqual({ type: 'disconnect', reason: 'done' });
  });

  it('runs a subflow and maps its outputs back', async () => {
    const s = setup();
    const t1 = await s.runtime.startSession({ flow: 'main-ivr' });
    await s.runtime.handle(t1.sessionId, { type: 'digits', digits: '2' });
    const t = await s.runtime.handle(t1.sessionId, { type: 'digits', digits: '123456' });
    expect(t.path).toEqual(['lookup', 'fetch', 'done', 'tell', 'bye']);
    expect(t.commands[0]).toEqual({ type: 'say', text: 'Your balance is 12.5 pounds.' });
  });

  it('hands the caller to a secure IVR flow and carries on the call there', async () => {
    const s = setup();
    const t1 = await s.runtime.startSession({ flow: 'main-ivr', call: { caller: '+15555550111' } });
    const t2 = await s.runtime.handle(t1.sessionId, { type: 'digits', digits: '1' });
    expect(t2.nextSessionId).toBeDefined();
    expect(types(t2.commands)).toEqual(['end', 'pauseRecording', 'collect']);
    expect(t2.status).toBe('waiting');
    const t3 = await s.runtime.handle(t2.nextSessionId!, { type: 'digits', digits: CARD });
    expect(t3.path).toEqual(['charge', 'done', 'bye']);
    expect(t3.end).toEqual({ type: 'disconnect', reason: 'paid' });
    expect((s.everything()).includes(CARD), 'must not be there').toBe(false);
  });

  it('answers a turn for an ended session with no commands', async () => {
    const s = setup();
    const t1 = await s.runtime.startSession({ flow: 'main-ivr' });
    await s.runtime.handle(t1.sessionId, { type: 'hangup' });
    const again = await s.runtime.handle(t1.sessionId, { type: 'digits', digits: '1' });
    expect(again).toMatchObject({ status: 'ended', commands: [] });
  });

  it('rejects a turn for an unknown session with a typed error', async () => {
    const s = setup();
    await expect(s.runtime.handle('nope', { type: 'noInput' })).rejects.toMatchObject({ code: 'SESSION_NOT_FOUND' });
  });
});

describe('repeated requests', () => {
  it('answers a repeat of the last request with the same turn, running nothing twice', async () => {
    let charges = 0;
    const counting = defineAction({ ...chargeCard, handler: async () => { charges++; return { reference: 'PAY-9' }; } });
    const s = setup({ actions: [counting, balance] });
    const t1 = await agentPayment(s);
    await s.runtime.handle(t1.sessionId, { type: 'digits', digits: CARD }, { requestId: 'r1' });
    const first = await s.runtime.handle(t1.sessionId, { type: 'digits', digits: '123' }, { requestId: 'r2' });
    const again = await s.runtime.handle(t1.sessionId, { type: 'digits', digits: '123' }, { requestId: 'r2' });
    expect(charges).toBe(1);
    expect(again.replayed).toBe(true);
    expect(again.commands.map((c) => c.type)).toEqual(first.commands.filter((c) => !(c.type === 'say' && c.secure)).map((c) => c.type));
    expect(again.end).toEqual(first.end);
    expect((s.store.rawValues().join('')).includes(CARD), 'must not be there').toBe(false);
  });

  it('replays a waiting turn exactly', async () => {
    const s = setup();
    const t1 = await s.runtime.startSession({ flow: 'main-ivr' });
    const a = await s.runtime.handle(t1.sessionId, { type: 'digits', digits: '7' }, { requestId: 'x' });
    const b = await s.runtime.handle(t1.sessionId, { type: 'digits', digits: '7' }, { requestId: 'x' });
    expect(b.commands).toEqual(a.commands);
    const c = await s.runtime.handle(t1.sessionId, { type: 'noInput' }, { requestId: 'y' });
    expect(c.path).toEqual(['bye']);
  });
});

describe('onHangup', () => {
  it('runs with the call and the session values still there, then wipes them', async () => {
    const seen: string[] = [];
    const note = defineAction({
      name: 'noteHangup',
      input: z.object({ phone: z.string() }),
      output: z.object({}),
      handler: async ({ phone }) => {
        seen.push(phone);
        return {};
      },
    });
    const flow = {
      flow: 'hangup-note', kind: 'inbound', onHangup: 'record', start: 'ask',
      states: {
        ask: { collect: { prompt: 'Account?', into: 'acct' }, on: { success: 'bye', failure: 'bye' } },
        bye: { disconnect: null },
        record: { invoke: { action: 'noteHangup', input: { phone: 'call.caller' } }, on: { success: 'done', error: 'done' } },
        done: { disconnect: null },
      },
      variables: { acct: { type: 'string' } },
    } as unknown as Flow;
    const s = setup({ flows: [flow], actions: [note] });
    const t = await s.runtime.startSession({ flow: 'hangup-note', call: { caller: '+15555550166' } });
    const end = await s.runtime.handle(t.sessionId, { type: 'hangup' });
    expect(seen).toEqual(['+15555550166']);
    expect(end.path).toEqual(['record', 'done']);
    expect((s.store.rawValues().join('')).includes('5555550166'), 'must not be there').toBe(false);
  });
});

describe('one-time codes', () => {
  const codeOf = (cs: Command[]) => /(\d{6})/.exec((cs.find((c) => c.type === 'sendSms') as { body: string }).body)![1]!;

  it('verifies the code that was sent', async () => {
    const s = setup();
    const t1 = await s.runtime.startSession({ flow: 'otp' });
    expect(types(t1.commands)).toEqual(['sendSms', 'collect']);
    const code = codeOf(t1.commands);
    const t2 = await s.runtime.handle(t1.sessionId, { type: 'digits', digits: code });
    expect(t2.end).toEqual({ type: 'disconnect', reason: 'verified' });
    expect((s.everything()).includes(code), 'must not be there').toBe(false);
    expect((s.everything()).includes('5555550123'), 'must not be there').toBe(false);
  });

  it('fails after the attempts and locks the number out after repeated failures', async () => {
    const s = setup({ lockout: { maxFailures: 3 } });
    const t1 = await s.runtime.startSession({ flow: 'otp' });
    const wrong = codeOf(t1.commands) === '000000' ? '111111' : '000000';
    await s.runtime.handle(t1.sessionId, { type: 'digits', digits: wrong });
    const t2 = await s.runtime.handle(t1.sessionId, { type: 'digits', digits: wrong });
    expect(t2.end).toEqual({ type: 'disconnect', reason: 'failed' });
    const again = await s.runtime.startSession({ flow: 'otp' });
    const t3 = await s.runtime.handle(again.sessionId, { type: 'digits', digits: wrong });
    expect(t3.end).toEqual({ type: 'disconnect', reason: 'locked' });
    const third = await s.runtime.startSession({ flow: 'otp' });
    expect(third.end).toEqual({ type: 'disconnect', reason: 'locked' });
    expect(s.emitted).toContainEqual(expect.objectContaining({ name: 'alert', code: 'auth.lockout' }));
  });
});
