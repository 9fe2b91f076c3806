/**
 * The runtime refuses what the information-flow analysis finds, whether or not the flow was
 * linted: the state does not run, the call gets the fail-safe, an error event names the state
 * (never the value), the agent is released. And what it lets run keeps secure values sealed:
 * derived variables in the stored snapshot, values out of expression error messages.
 */
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ManualClock,
  MemoryLogger,
  MemoryReservationStore,
  MemorySessionStore,
  createRuntime,
  defineAction,
  type Command,
  type Flow,
  type RuntimeEventName,
  type Turn,
} from '../src/index.js';

const CARD = '4916338506082832';
const CVV = '737';
const EVENTS: RuntimeEventName[] = [
  'session.started', 'state.entered', 'command', 'input', 'action.started', 'action.succeeded', 'action.failed',
  'reservation.reserved', 'reservation.released', 'secure.entered', 'secure.exited', 'alert', 'session.ended', 'error',
];

const flowOf = (text: string): Flow => parse(text) as Flow;

/** A secure flow, reserving the agent, that collects a card and a CVV and then runs `states` from `next`. */
const payment = (states: string, variables = '') => flowOf(`flow: pay
kind: secure
reservation: agent
variables:
  card: { type: string, secure: true }
  cvv: { type: string, secure: true }
  copy: { type: string }
${variables}
onError: apologise
start: askCard
states:
  askCard:
    collect: { into: card, validate: luhn }
    on: { success: askCvv, failure: apologise }
  askCvv:
    collect: { into: cvv, digits: { min: 3, max: 4 } }
    on: { success: next, failure: apologise }
${states}
  apologise:
    returnToAgent: { outputs: { note: '"handled by the flow"' } }
`);

function harness(flows: Flow[]) {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const store = new MemorySessionStore(clock);
  const reservations = new MemoryReservationStore(clock);
  const logger = new MemoryLogger();
  const received: { name: string; input: unknown }[] = [];
  const runtime = createRuntime({
    flows,
    clock,
    store,
    reservations,
    logger,
    failSafe: { say: 'Sorry.', transferQueue: 'fallback' },
    actions: [
      defineAction({
        name: 'crm', input: z.object({ note: z.string() }), output: z.object({}),
        handler: async (input) => (received.push({ name: 'crm', input }), {}),
      }),
      defineAction({
        name: 'charge', secure: true, input: z.object({ card: z.string() }), output: z.object({ ref: z.string() }),
        handler: async (input) => (received.push({ name: 'charge', input }), { ref: h.echoCard ? input.card : 'PAY-1' }),
      }),
    ],
  });
  const emitted: { name: string; payload: unknown }[] = [];
  for (const name of EVENTS) runtime.events.on(name as 'error', (payload) => emitted.push({ name, payload }));
  const snapshots: string[] = [];
  const turns: Turn[] = [];
  const take = async (t: Promise<Turn>): Promise<Turn> => {
    const turn = await t;
    turns.push(turn);
    snapshots.push(store.rawValues().join('\n'));
    return turn;
  };
  const run = async () => {
    const t1 = await take(runtime.startSecureSession({ conversationId: 'conv-1', agentId: 'agent-7', flow: 'pay', reserveAgent: true, call: { caller: '+15555550100', callee: '+15555550199', callId: 'CA1', provider: 'test' } }));
    await take(runtime.handle(t1.sessionId, { type: 'digits', digits: CARD }));
    return take(runtime.handle(t1.sessionId, { type: 'digits', digits: CVV }));
  };
  /** Everything that left the runtime but the commands (the caller hears the read-back). */
  const outside = () => JSON.stringify(emitted) + logger.text() + snapshots.join('\n') + JSON.stringify(received.filter((r) => r.name !== 'charge'));
  const errors = () => emitted.filter((e) => e.name === 'error').map((e) => e.payload as { code: string; state?: string; message: string });
  const h = { runtime, run, outside, errors, received, turns, store, echoCard: false };
  return h;
}

const nothingOf = (text: string) => {
  expect(text.includes(CARD), 'the card').toBe(false);
  expect(text.includes(CARD.slice(0, 12)), 'the first 12 digits').toBe(false);
  expect(/\b737\b/.test(text), 'the CVV').toBe(false);
};

describe('a state where a secure value would leak', () => {
  it.each([
    ['four last4 calls hand over the whole card', `  next:
    returnToAgent:
      outputs:
        a: last4(card.substring(0,4))
        b: last4(card.substring(4,8))
        c: last4(card.substring(8,12))
        d: last4(card)`],
    ['last4 of a 3-digit code is the code', `  next:
    returnToAgent: { outputs: { code: last4(cvv) } }`],
    ['a ternary per digit, then handed to the agent', `  next:
    set: { copy: '(card.substring(0,1) == "4" ? "4" : "?") + (card.substring(1,2) == "9" ? "9" : "?")' }
    next: give
  give:
    returnToAgent: { outputs: { digits: copy } }`],
    ['3-digit chunks in a log line', `  next:
    log: "\${last4(card.substring(0,3))}_\${last4(card.substring(3,6))}"
    next: apologise`],
    ['a masked form to a data action not declared secure', `  next:
    invoke: { action: crm, input: { note: last4(card) } }
    on: { success: apologise, error: apologise }`],
    ['the card in a SIP address', `  next:
    transfer: { sip: "sip:\${card}@pbx.example.com" }`],
    ['a branch per digit', `  next:
    switch:
      cases:
        - { when: 'card.substring(0,1) == "4"', goto: apologise }
      default: apologise`],
  ])('%s: refused before it runs, fail-safe, agent released, nothing outside', async (_, states) => {
    const h = harness([payment(states)]);
    const end = await h.run();
    expect(h.errors()).toEqual([expect.objectContaining({ code: 'SECURE_LEAK_BLOCKED', state: expect.stringMatching(/^(next|give)$/) })]);
    expect(end.end).toMatchObject({ type: 'error', code: 'SECURE_LEAK_BLOCKED' });
    // the fail-safe, not the flow's own onError (`apologise` hands outputs to the agent)
    expect(end.commands.map((c: Command) => c.type)).toEqual(['say', 'resumeRecording', 'transfer', 'end']);
    expect(await h.runtime.isReserved('agent-7')).toBe(false);
    expect(h.received.filter((r) => r.name === 'crm')).toEqual([]);
    nothingOf(h.outside());
    nothingOf(JSON.stringify(h.turns.flatMap((t) => t.commands.filter((c) => c.type !== 'say' && c.type !== 'collect'))));
  });
});

describe('the last line behind the analysis', () => {
  it('refuses a command that would carry a secure value whole, however it got there (an action echoing the card)', async () => {
    const h = harness([payment(`  next:
    invoke: { action: charge, input: { card: card }, output: { ref: result.ref } }
    on: { success: give, error: apologise }
  give:
    returnToAgent: { outputs: { ref: ref } }`, '  ref: { type: string }')]);
    h.echoCard = true;
    const end = await h.run();
    expect(end.end).toMatchObject({ type: 'error', code: 'SECURE_LEAK_BLOCKED', state: 'give' });
    expect(end.commands.some((c) => c.type === 'returnToAgent')).toBe(false);
    expect(await h.runtime.isReserved('agent-7')).toBe(false);
  });
});

describe('the number dialled or texted', () => {
  it('is a phone number: a card held whole in a secure variable is not dialled, a secure phone number is', async () => {
    for (const [target, refused] of [['card', true], ['phone', false]] as const) {
      const h = harness([payment(`  next:
    connect: { number: ${target}, callerId: "+15555550100" }
    on: { completed: apologise, failed: apologise }`, '  phone: { type: string, secure: true, default: "+15555550123" }')]);
      const end = await h.run();
      const dialled = end.commands.filter((c: Command) => c.type === 'connect');
      if (refused) {
        expect(dialled).toEqual([]);
        expect(h.errors()).toEqual([expect.objectContaining({ code: 'SECURE_LEAK_BLOCKED', state: 'next' })]);
        nothingOf(JSON.stringify(end.commands));
      } else {
        expect(dialled).toEqual([expect.objectContaining({ type: 'connect', number: '+15555550123' })]);
        expect(h.errors()).toEqual([]);
      }
    }
  });
});

describe('what the runtime lets run', () => {
  it('hands last4 of the card to the agent and the card to a secure action', async () => {
    const h = harness([payment(`  next:
    invoke: { action: charge, input: { card: card }, output: { ref: result.ref } }
    on: { success: give, error: apologise }
  give:
    returnToAgent: { outputs: { ending: last4(card), ref: ref } }`, '  ref: { type: string }')]);
    const end = await h.run();
    expect(end.end).toEqual({ type: 'returnToAgent', outputs: { ending: '2832', ref: 'PAY-1' } });
    expect(h.received).toEqual([{ name: 'charge', input: { card: CARD } }]);
    expect(h.errors()).toEqual([]);
    nothingOf(h.outside());
  });

  it('seals a variable that holds a value computed from a secure one, declared secure or not', async () => {
    const h = harness([payment(`  next:
    set: { copy: '"card " + card' }
    next: wait
  wait:
    collect: { into: cvv, digits: { length: 3 } }
    on: { success: apologise, failure: apologise }`)]);
    const t = await h.run();
    expect(t.status).toBe('waiting');
    const [record] = h.store.rawValues().map((text) => JSON.parse(text) as { frames: { vars: Record<string, unknown> }[]; sealed?: unknown });
    expect((Object.keys(record!.frames[0]!.vars)).includes('copy'), 'must not be there').toBe(false);
    expect(record!.sealed).toBeDefined();
    nothingOf(h.outside());
  });

  it('ends the call with the fail-safe when an expression over a secure value fails, saying neither how nor with what', async () => {
    const h = harness([payment(`  next:
    say: "\${duration(card.split('').join('_'))}"
    next: apologise`)]);
    const end = await h.run();
    expect(h.errors()).toEqual([expect.objectContaining({ code: 'SECURE_EXPRESSION_FAILED', state: 'next', message: 'pay: states.next: an expression over a secure value could not be evaluated' })]);
    // not the flow's onError: which way the call goes would tell whether the expression failed
    expect(end.commands.map((c: Command) => c.type)).toEqual(['say', 'resumeRecording', 'transfer', 'end']);
    nothingOf(h.outside());
  });

  it('says what failed in an expression over clear values, with the flow\'s text and not the values', async () => {
    const h = harness([payment(`  next:
    say: "\${duration(note)}"
    next: apologise`, '  note: { type: string, default: "4916 3385" }')]);
    await h.run();
    const [error] = h.errors();
    expect(error).toMatchObject({ code: 'EXPRESSION_FAILED', state: 'next' });
    expect(error!.message).toBe("pay: states.next: the expression 'duration(note)' could not be evaluated (not a valid duration)");
  });

  it('refuses last4 of a value shorter than 12 characters, whatever the flow declared', async () => {
    const h = harness([payment(`  next:
    returnToAgent: { outputs: { ending: last4(card) } }`)]);
    const t1 = await h.runtime.startSecureSession({ conversationId: 'c', agentId: 'agent-7', flow: 'pay', reserveAgent: true });
    await h.runtime.handle(t1.sessionId, { type: 'digits', digits: '18' }); // Luhn-valid, two digits
    const end = await h.runtime.handle(t1.sessionId, { type: 'digits', digits: CVV });
    expect(end.end).toMatchObject({ type: 'error', code: 'SECURE_LEAK_BLOCKED', state: 'next' });
    expect(await h.runtime.isReserved('agent-7')).toBe(false);
  });
});

describe('a read-back in an inbound flow', () => {
  // the PIN is keyed in with the recording paused; `resume` says whether it runs again before the read-back
  const line = (resume: boolean) => flowOf(`flow: line
kind: inbound
variables:
  pin: { type: string, secure: true }
start: quiet
states:
  quiet:
    recording: pause
    next: ask
  ask:
    collect: { into: pin, digits: { length: 4 } }
    on: { success: ${resume ? 'loud' : 'readBack'}, failure: bye }
  loud:
    recording: resume
    next: readBack
  readBack:
    say: "Your PIN is \${pin}."
    next: bye
  bye:
    disconnect: done
`);

  it('is refused while the recording runs, and spoken while it is paused', async () => {
    for (const resume of [true, false]) {
      const runtime = createRuntime({ flows: [line(resume)], failSafe: { say: 'Sorry.' } });
      const codes: string[] = [];
      runtime.events.on('error', (e) => codes.push(e.code));
      const t1 = await runtime.startSession({ flow: 'line' });
      const t2 = await runtime.handle(t1.sessionId, { type: 'digits', digits: '4821' });
      if (!resume) {
        expect(t2.commands).toContainEqual({ type: 'say', text: 'Your PIN is 4821.', secure: true });
        expect(codes).toEqual([]);
      } else {
        expect(t2.commands.some((c) => c.type === 'say' && c.text.includes('4821'))).toBe(false);
        expect(codes).toEqual(['SECURE_LEAK_BLOCKED']);
      }
    }
  });
});
