/**
 * Every action of the flow language and every outcome, run through the real runtime
 * (createRuntime with the in-memory ports and a ManualClock): the commands a turn answers
 * with, the path, the end, and the events where they matter. Then every way an agent's
 * secure session can end, each of which must release the agent's reservation.
 *
 * After every test, everything the runtime let out — events, log records, stored snapshots —
 * is scanned for the secure values the tests use (card, PIN, the numbers, one-time codes).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ManualClock,
  MemoryLogger,
  MemoryReservationStore,
  MemorySessionStore,
  StoreUnavailableError,
  createRuntime,
  defineAction,
  keyRing,
  simulate,
  type CallEvent,
  type Command,
  type Flow,
  type ReleaseReason,
  type Reservation,
  type ReservationMirror,
  type RuntimeEventName,
  type RuntimeOptions,
  type Turn,
} from '../src/index.js';

// ---- the secure values the tests use (555 test numbers only) ----
const CARD = '4916338506082832';
const BAD_CARD = '4916338506082833'; // fails Luhn
const PIN = '731594';
const CALLER = '+15555550111';
const AUTH_PHONE = '+15555550142';
const TARGET = '+15555550187';
const SECRETS = [CARD, BAD_CARD, PIN, CALLER, AUTH_PHONE, TARGET, ...[CALLER, AUTH_PHONE, TARGET].map((n) => n.slice(2))];

const T0 = Date.UTC(2026, 0, 1);
const CALL = { caller: CALLER, callee: '+15555550199', callId: 'CA-actions', provider: 'test' };

const load = (name: string): Flow => parse(readFileSync(join(import.meta.dirname, 'fixtures', `${name}.yaml`), 'utf8')) as Flow;
const FLOWS: Flow[] = [
  'act-basics', 'act-switch', 'act-collect', 'act-menu', 'act-invoke', 'act-calling', 'act-outer-sub', 'act-inner-sub',
  'act-risky-sub', 'act-fragile-sub', 'act-clash-sub', 'act-auth', 'act-connect', 'act-routing', 'act-secure-ivr',
  'act-secure-desk', 'act-hangup', 'act-hangup-call', 'act-hangup-audit-sub', 'act-spinner',
].map(load);

const EVENT_NAMES = [
  'session.started', 'state.entered', 'command', 'input', 'action.started', 'action.succeeded', 'action.failed',
  'reservation.reserved', 'reservation.released', 'secure.entered', 'secure.exited', 'alert', 'session.ended', 'error',
] as const satisfies readonly RuntimeEventName[];

type Emitted = { name: RuntimeEventName } & Record<string, unknown>;

/** A reservation mirror that remembers what it was told. */
class RecordingMirror implements ReservationMirror {
  readonly calls: { kind: 'reserved' | 'released'; agentId: string; sessionId: string; reason?: ReleaseReason }[] = [];
  async reserved(r: Reservation): Promise<void> {
    this.calls.push({ kind: 'reserved', agentId: r.agentId, sessionId: r.sessionId });
  }
  async released(r: Reservation, reason: ReleaseReason): Promise<void> {
    this.calls.push({ kind: 'released', agentId: r.agentId, sessionId: r.sessionId, reason });
  }
}

/** The data actions the fixtures invoke; each harness gets its own (own queues, breakers, counts). */
function dataActions() {
  const calls: { name: string; input: unknown; attempt: number }[] = [];
  const seen = (name: string, input: unknown, attempt: number) => calls.push({ name, input, attempt });
  const account = z.object({ account: z.string() });
  const definitions = [
    defineAction({
      name: 'lookup',
      input: account,
      output: z.object({ status: z.string(), amount: z.number() }),
      limits: { timeoutMs: 20 },
      handler: ({ account: a }, { signal, attempt }) => {
        seen('lookup', { account: a }, attempt);
        if (a === 'ACC-fail') throw new Error(`no account ${a}`);
        if (a === 'ACC-slow') return new Promise((resolve) => signal.addEventListener('abort', () => resolve({ status: 'late', amount: 0 })));
        return { status: 'open', amount: 12.5 };
      },
    }),
    defineAction({
      name: 'slow',
      input: account,
      output: z.object({ status: z.string() }),
      handler: (input, { signal, attempt }) => {
        seen('slow', input, attempt);
        return new Promise((resolve) => signal.addEventListener('abort', () => resolve({ status: 'late' })));
      },
    }),
    defineAction({
      name: 'broken',
      input: account,
      output: z.object({}),
      handler: (input, { attempt }) => {
        seen('broken', input, attempt);
        throw new Error('back end down');
      },
    }),
    defineAction({
      name: 'flaky',
      input: account,
      output: z.object({ status: z.string() }),
      limits: { backoffMs: 1, maxBackoffMs: 2 },
      handler: (input, { attempt }) => {
        seen('flaky', input, attempt);
        if (attempt < 3) throw new Error(`flaky try ${attempt}`);
        return { status: `ok-${attempt}` };
      },
    }),
    defineAction({
      name: 'verifyPin',
      secure: true,
      input: z.object({ pin: z.string() }),
      output: z.object({ status: z.string() }),
      handler: ({ pin }, { attempt }) => {
        seen('verifyPin', { pin: '[given]' }, attempt);
        return { status: pin === PIN ? 'verified' : 'wrong' };
      },
    }),
    defineAction({
      name: 'audit',
      input: z.object({ note: z.string() }),
      output: z.object({}),
      handler: (input, { attempt }) => {
        seen('audit', input, attempt);
        return {};
      },
    }),
  ];
  return { definitions, calls };
}

/** Harnesses made in the current test: scanned for leaks after it. */
const harnesses: { everything(): string; secrets: string[] }[] = [];

function harness(extra: Partial<RuntimeOptions> = {}) {
  const clock = new ManualClock(T0);
  const store = new MemorySessionStore(clock);
  const reservations = new MemoryReservationStore(clock);
  const logger = new MemoryLogger();
  const mirror = new RecordingMirror();
  const actions = dataActions();
  const options: RuntimeOptions = {
    flows: FLOWS,
    actions: actions.definitions,
    clock,
    store,
    reservations,
    logger,
    reservationMirror: mirror,
    secrets: keyRing({ k1: Buffer.alloc(32, 3) }, 'k1'),
    ...extra,
  };
  const runtime = createRuntime(options);
  const events: Emitted[] = [];
  for (const name of EVENT_NAMES) runtime.events.on(name, (p: object) => events.push({ name, ...p }));
  /** Secure values this test used besides the file-wide ones (one-time codes). */
  const secrets: string[] = [];
  const h = {
    runtime, clock, store, reservations, logger, mirror, events, secrets, calls: actions.calls,
    start: (flow: string, inputs: Record<string, unknown> = {}) => runtime.startSession({ flow, inputs, call: CALL }),
    send: (turn: Turn | string, event: CallEvent) => runtime.handle(typeof turn === 'string' ? turn : turn.sessionId, event),
    digits: (turn: Turn | string, digits: string) => runtime.handle(typeof turn === 'string' ? turn : turn.sessionId, { type: 'digits', digits }),
    named: (name: RuntimeEventName) => events.filter((e) => e.name === name),
    /** Everything the runtime let out, with its own timestamps and ids taken out. */
    everything: () =>
      [JSON.stringify(events), logger.text(), store.rawValues().join('\n')]
        .join('\n')
        .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uuid>'),
  };
  harnesses.push(h);
  return h;
}

afterEach(() => {
  for (const h of harnesses.splice(0)) {
    const all = h.everything();
    for (const secret of [...SECRETS, ...h.secrets]) expect(all.includes(secret), `a secure value leaked: ${secret.slice(0, 3)}…`).toBe(false);
  }
});

const types = (cs: readonly Command[]) => cs.map((c) => c.type);
const collectOf = (t: Turn) => t.commands.find((c) => c.type === 'collect') as Extract<Command, { type: 'collect' }>;

// ---------------------------------------------------------------------------------------

describe('say', () => {
  it('speaks plain text, and text with a voice and a language', async () => {
    const h = harness();
    const t = await h.start('basics');
    expect(t.commands[0]).toEqual({ type: 'say', text: 'Hello.' });
    expect(t.commands[1]).toEqual({ type: 'say', text: 'Bonjour, client gold.', voice: 'alice', language: 'fr-FR' });
  });

  it('marks a read-back of a secure value secure, and the emitted command carries no secret', async () => {
    const h = harness();
    const t = await h.start('basics');
    expect(t.commands).toContainEqual({ type: 'say', text: `Your PIN is ${PIN}.`, secure: true });
    const emitted = h.named('command').map((e) => e.command as Command).find((c) => c.type === 'say' && c.secure);
    expect(emitted).toMatchObject({ type: 'say', secure: true });
    expect(((emitted as { text: string }).text).includes(PIN), 'must not be there').toBe(false);
  });
});

describe('play', () => {
  it('plays a URL, and a URL (templated) with a loop count', async () => {
    const h = harness();
    const t = await h.start('basics');
    expect(t.commands[2]).toEqual({ type: 'play', url: 'https://example.com/hold.mp3' });
    expect(t.commands[3]).toEqual({ type: 'play', url: 'https://example.com/gold.mp3', loop: 2 });
  });
});

describe('log', () => {
  it('writes to the Logger port at info by default and at the level given, redacted, with no command', async () => {
    const h = harness();
    const t = await h.start('basics');
    const lines = h.logger.records.filter((r) => r.fields.state === 'note' || r.fields.state === 'warnNote');
    expect(lines).toEqual([
      expect.objectContaining({ level: 'info', msg: 'caller tier gold, pin of 6 digits' }),
      expect.objectContaining({ level: 'warn', msg: 'visits so far 0' }),
    ]);
    expect(lines[0]!.fields).toMatchObject({ sessionId: t.sessionId, flow: 'basics', state: 'note' });
  });
});

describe('set', () => {
  it('assigns every variable from its expression, and later states read the new values', async () => {
    const h = harness();
    const t = await h.start('basics');
    expect(t.commands).toContainEqual({ type: 'say', text: 'Welcome back, gold (visit 1)' });
    expect((await h.runtime.inspect(t.sessionId))?.frames[0]?.vars).toMatchObject({ greeting: 'Welcome back, gold', visits: 1 });
  });
});

describe('recording', () => {
  it('pauses and resumes the recording with commands in an inbound flow', async () => {
    const h = harness();
    const t = await h.start('basics');
    expect(t.path).toEqual(['hello', 'styled', 'jingle', 'loop', 'note', 'warnNote', 'assign', 'pause', 'readBack', 'resume', 'welcome', 'bye']);
    expect(types(t.commands)).toEqual(['say', 'say', 'play', 'play', 'pauseRecording', 'say', 'resumeRecording', 'say', 'disconnect', 'end']);
    expect(t.end).toEqual({ type: 'disconnect' });
  });

  it('is ignored inside a secure flow, which pauses at the start and resumes before returnToAgent by itself', async () => {
    const h = harness();
    const t1 = await h.runtime.startSecureSession({ conversationId: 'conv-1', agentId: 'agent-7', flow: 'secure-desk', inputs: { ending: 'return' }, reserveAgent: true, call: CALL });
    expect(t1.path).toEqual(['quiet', 'askCard']);
    expect(types(t1.commands)).toEqual(['pauseRecording', 'collect']);
    const t2 = await h.digits(t1, CARD);
    expect(t2.path).toEqual(['readBack', 'unpause', 'route', 'backToAgent']);
    expect(types(t2.commands)).toEqual(['say', 'say', 'resumeRecording', 'returnToAgent', 'end']);
  });

  it('resumes before a transfer out of a secure flow', async () => {
    const h = harness();
    const t1 = await h.runtime.startSecureSession({ conversationId: 'conv-1', agentId: 'agent-7', flow: 'secure-desk', inputs: { ending: 'transfer' }, reserveAgent: true, call: CALL });
    const t2 = await h.digits(t1, CARD);
    expect(types(t2.commands)).toEqual(['say', 'resumeRecording', 'transfer', 'end']);
  });
});

describe('switch', () => {
  const run = async (n: number) => (await harness().start('branching', { n })).path;

  it('takes the first case that holds, even when later ones hold too', async () => {
    expect(await run(42)).toEqual(['size', 'big', 'special', 'answer', 'done']);
    expect(await run(7)).toEqual(['size', 'medium', 'special', 'done']);
    expect(await run(3)).toEqual(['size', 'small', 'special', 'done']);
  });

  it('takes `default` when no case holds', async () => {
    expect(await run(0)).toEqual(['size', 'zero', 'special', 'done']);
  });

  it('takes the state\'s `next` when no case holds and there is no default', async () => {
    const h = harness();
    const t = await h.start('branching', { n: 11 });
    expect(t.path).toEqual(['size', 'big', 'special', 'done']);
    expect(t.end).toEqual({ type: 'disconnect', reason: 'sorted' });
  });
});

describe('collect', () => {
  it('collects a card number: a secure collect command, finishOnKey stripped, Luhn-validated, then success', async () => {
    const h = harness();
    const t1 = await h.start('collecting', { scenario: 'luhn' });
    expect(t1.commands).toEqual([
      { type: 'pauseRecording' },
      {
        type: 'collect', purpose: 'collect', prompt: [{ text: 'Key in your card number, then the hash key.' }], input: 'dtmf',
        minDigits: 13, maxDigits: 19, finishOnKey: '#', timeoutMs: 8000, secure: true,
      },
    ]);
    expect(t1).toMatchObject({ status: 'waiting', waitingFor: 'input' });
    const t2 = await h.digits(t1, `${CARD}#`);
    expect(t2.path).toEqual(['cardOk', 'bye']);
    expect(t2.commands[0]).toEqual({ type: 'say', text: 'Card ending 2832 accepted.', secure: true });
    expect(t2.end).toEqual({ type: 'disconnect', reason: 'collected' });
    expect(h.named('input')).toContainEqual(expect.objectContaining({ state: 'askCard', event: { type: 'digits', digits: '[secure]' } }));
  });

  it('re-prompts with noMatchPrompt / noInputPrompt and fails after the attempts are used up (no input and no match both count)', async () => {
    const h = harness();
    const t1 = await h.start('collecting', { scenario: 'luhn' });
    const t2 = await h.digits(t1, BAD_CARD);
    expect(t2.path).toEqual([]);
    expect(collectOf(t2).prompt).toEqual([{ text: 'That is not a valid card number.' }, { text: 'Key in your card number, then the hash key.' }]);
    expect(collectOf(t2).secure).toBe(true);
    const t3 = await h.send(t1, { type: 'noInput' });
    expect(collectOf(t3).prompt).toEqual([{ text: 'We did not hear anything.' }, { text: 'Key in your card number, then the hash key.' }]);
    const t4 = await h.digits(t1, '123456789012#'); // too short
    expect(t4.path).toEqual(['failed']);
    expect(t4.end).toEqual({ type: 'disconnect', reason: 'failed' });
  });

  it('takes a keyed-in finishOnKey alone as no input', async () => {
    const h = harness();
    const t1 = await h.start('collecting', { scenario: 'luhn' });
    const t2 = await h.digits(t1, '#');
    expect(collectOf(t2).prompt[0]).toEqual({ text: 'We did not hear anything.' });
  });

  it('validates with a regex (digit limits checked first), then succeeds; a non-secure collect is not secure', async () => {
    const h = harness();
    const t1 = await h.start('collecting', { scenario: 'regex' });
    expect(collectOf(t1)).toMatchObject({ minDigits: 4, maxDigits: 8, secure: false, timeoutMs: 5000 });
    expect(collectOf(t1).finishOnKey).toBeUndefined();
    const t2 = await h.digits(t1, '1234567'); // within the limits, not the regex
    expect(t2.commands).toEqual([expect.objectContaining({ type: 'collect', prompt: [{ text: 'Your account number.' }] })]);
    const t3 = await h.digits(t1, '123456#'); // `#` is the default finishOnKey
    expect(t3.path).toEqual(['echo', 'bye']);
    expect(t3.commands[0]).toEqual({ type: 'say', text: 'Got 123456.' });
  });

  it('validates with a /regex/flags over speech or DTMF, and fails at once with attempts: 1', async () => {
    const h = harness();
    const t1 = await h.start('collecting', { scenario: 'slashed' });
    expect(collectOf(t1).input).toBe('dtmf speech');
    const ok = await h.send(t1, { type: 'speech', text: ' AB12 ' });
    expect(ok.commands[0]).toEqual({ type: 'say', text: 'Got AB12.' });
    const t2 = await h.start('collecting', { scenario: 'slashed' });
    expect((await h.send(t2, { type: 'speech', text: 'xyz' })).path).toEqual(['failed']);
  });

  it('validates with a CEL expression over `value`', async () => {
    const h = harness();
    const t1 = await h.start('collecting', { scenario: 'cel' });
    const t2 = await h.digits(t1, '5');
    expect(types(t2.commands)).toEqual(['collect']);
    const t3 = await h.digits(t1, '250');
    expect(t3.commands[0]).toEqual({ type: 'say', text: 'Got 250.' });
  });

  it('counts input the CEL validation cannot even evaluate (`int("12*")`) as no match, not as a flow error', async () => {
    const h = harness();
    const t1 = await h.start('collecting', { scenario: 'cel' });
    const t2 = await h.digits(t1, '12*');
    expect(t2.status).toBe('waiting');
    expect(types(t2.commands)).toEqual(['collect']);
    const t3 = await h.digits(t1, '4*4');
    expect(t3.path).toEqual(['failed']);
    expect(t3.end).toEqual({ type: 'disconnect', reason: 'failed' });
  });

  it('applies digits.length and strips its own finishOnKey', async () => {
    const h = harness();
    const t1 = await h.start('collecting', { scenario: 'length' });
    expect(collectOf(t1)).toMatchObject({ minDigits: 4, maxDigits: 4, finishOnKey: '*' });
    expect(types((await h.digits(t1, '123*')).commands)).toEqual(['collect']); // too short
    const t3 = await h.digits(t1, '4321*');
    expect(t3.commands[0]).toEqual({ type: 'say', text: 'Got 4321.' });
  });

  it('fails when every try is too long for digits.max / length', async () => {
    const h = harness();
    const t1 = await h.start('collecting', { scenario: 'length' });
    await h.digits(t1, '12345');
    expect((await h.digits(t1, '123456')).path).toEqual(['failed']);
  });

  it('takes the per-try noInput and noMatch outcomes when the state lists them', async () => {
    const h = harness();
    const t1 = await h.start('collecting', { scenario: 'perTry' });
    const t2 = await h.send(t1, { type: 'noInput' });
    expect(t2.path).toEqual(['silent', 'askAnswer']);
    expect(t2.commands).toEqual([{ type: 'say', text: 'Still there?' }, expect.objectContaining({ type: 'collect', prompt: [{ text: 'Press 1 or 2.' }] })]);
    const t3 = await h.digits(t1, '3');
    expect(t3.path).toEqual(['wrong', 'askAnswer']);
    expect(t3.commands[0]).toEqual({ type: 'say', text: 'Only 1 or 2.' });
    const t4 = await h.digits(t1, '2');
    expect(t4.path).toEqual(['echo', 'bye']);
    expect(t4.commands[0]).toEqual({ type: 'say', text: 'Got 2.' });
  });

  it('collects speech with hints', async () => {
    const h = harness();
    const t1 = await h.start('collecting', { scenario: 'speech' });
    expect(collectOf(t1)).toMatchObject({ input: 'speech', hints: ['yes', 'no'], secure: false });
    const t2 = await h.send(t1, { type: 'speech', text: 'maybe', confidence: 0.4 });
    expect(types(t2.commands)).toEqual(['collect']);
    const t3 = await h.send(t1, { type: 'speech', text: 'yes' });
    expect(t3.commands[0]).toEqual({ type: 'say', text: 'Got yes.' });
  });

  it('asks again, counting nothing, on an event that does not answer it', async () => {
    const h = harness();
    const t1 = await h.start('collecting', { scenario: 'speech' });
    const t2 = await h.send(t1, { type: 'connectResult', status: 'completed' });
    expect(types(t2.commands)).toEqual(['collect']);
    await h.send(t1, { type: 'noInput' });
    expect((await h.send(t1, { type: 'noInput' })).path).toEqual(['failed']);
  });
});

describe('menu', () => {
  it('sends a one-key menu collect and takes the option pressed', async () => {
    const h = harness();
    const t1 = await h.start('menus');
    expect(t1.commands).toEqual([
      {
        type: 'collect', purpose: 'menu', input: 'dtmf', maxDigits: 1, timeoutMs: 4000, secure: false,
        prompt: [{ text: 'For sales press 1. For support press 2. To hear this again press star.' }],
      },
    ]);
    const t2 = await h.digits(t1, '1');
    expect(t2.path).toEqual(['sales']);
    expect(t2.end).toEqual({ type: 'transfer', queue: 'sales' });
    const t3 = await h.start('menus');
    expect((await h.digits(t3, '2')).end).toEqual({ type: 'transfer', queue: 'support' });
  });

  it('follows an option that leads back to the menu itself', async () => {
    const h = harness();
    const t1 = await h.start('menus');
    const t2 = await h.digits(t1, '*');
    expect(t2.path).toEqual(['main']);
    expect(types(t2.commands)).toEqual(['collect']);
  });

  it('re-prompts a wrong key with noMatchPrompt and no input with noInputPrompt, then fails after the attempts', async () => {
    const h = harness();
    const t1 = await h.start('menus');
    const t2 = await h.digits(t1, '7');
    expect(collectOf(t2).prompt).toEqual([{ text: 'Sorry, that is not an option.' }, { text: 'For sales press 1. For support press 2. To hear this again press star.' }]);
    const t3 = await h.send(t1, { type: 'noInput' });
    expect(t3.path).toEqual(['giveUp']);
    expect(t3.end).toEqual({ type: 'disconnect', reason: 'no-choice' });
  });

  it('re-prompts no input with noInputPrompt', async () => {
    const h = harness();
    const t1 = await h.start('menus');
    const t2 = await h.send(t1, { type: 'noInput' });
    expect(collectOf(t2).prompt[0]).toEqual({ text: 'Please choose an option.' });
  });

  it('takes the per-try noInput outcome when listed, and fails after the attempts counting that try', async () => {
    const h = harness();
    const t1 = await h.start('menus', { patient: false });
    expect(t1.path).toEqual(['route', 'quick']);
    const t2 = await h.send(t1, { type: 'noInput' });
    expect(t2.path).toEqual(['nudge', 'quick']);
    expect(types(t2.commands)).toEqual(['say', 'collect']);
    // The no-input try counts: a per-try outcome that leads back does not reset the attempts.
    await h.digits(t1, '5');
    expect((await h.digits(t1, '6')).path).toEqual(['giveUp']);
  });
});

describe('invoke', () => {
  it('maps the output over `result` into variables and takes success', async () => {
    const h = harness();
    const t = await h.start('invoking', { scenario: 'lookup' });
    expect(t.path).toEqual(['route', 'lookup', 'report', 'bye']);
    expect(t.commands[0]).toEqual({ type: 'say', text: 'Status open, doubled 25.' });
    expect(h.calls).toEqual([{ name: 'lookup', input: { account: 'ACC-lookup' }, attempt: 1 }]);
    expect(h.named('action.started')).toEqual([expect.objectContaining({ state: 'lookup', action: 'lookup' })]);
    expect(h.named('action.succeeded')).toEqual([expect.objectContaining({ state: 'lookup', action: 'lookup', attempts: 1 })]);
  });

  it('takes error when the action fails', async () => {
    const h = harness();
    const t = await h.start('invoking', { scenario: 'fail' });
    expect(t.path).toEqual(['route', 'lookup', 'lookupFailed']);
    expect(t.end).toEqual({ type: 'disconnect', reason: 'lookup-failed' });
    expect(h.named('action.failed')).toEqual([expect.objectContaining({ outcome: 'error', code: 'ACTION_FAILED', attempts: 1 })]);
  });

  it('takes timeout when the action does not answer in time (the action\'s own timeoutMs)', async () => {
    const h = harness();
    const t = await h.start('invoking', { scenario: 'slow' });
    expect(t.path).toEqual(['route', 'lookup', 'tooSlow']);
    expect(h.named('action.failed')).toEqual([expect.objectContaining({ outcome: 'timeout' })]);
  });

  it('takes timeout when the action is slower than invoke.timeout', async () => {
    const h = harness();
    const t = await h.start('invoking', { scenario: 'slowListed' });
    expect(t.path).toEqual(['route', 'slowListed', 'tooSlow']);
  });

  it('falls back from an unlisted timeout to error', async () => {
    const h = harness();
    const t = await h.start('invoking', { scenario: 'slowUnlisted' });
    expect(t.path).toEqual(['route', 'slowUnlisted', 'lookupFailed']);
    expect(h.named('action.failed')).toEqual([expect.objectContaining({ outcome: 'timeout' })]);
  });

  it('falls back from an unlisted error to the flow\'s onError', async () => {
    const h = harness();
    const t = await h.start('invoking', { scenario: 'noErrorOutcome' });
    expect(t.path).toEqual(['route', 'noErrorOutcome', 'recover']);
    expect(t.end).toEqual({ type: 'disconnect', reason: 'recovered' });
  });

  it('retries a failing action invoke.retries times', async () => {
    const h = harness();
    const t = await h.start('invoking', { scenario: 'retry' });
    expect(t.commands[0]).toEqual({ type: 'say', text: 'Status ok-3, doubled 0.' });
    expect(h.calls.map((c) => c.attempt)).toEqual([1, 2, 3]);
    expect(h.named('action.succeeded')).toEqual([expect.objectContaining({ attempts: 3 })]);
  });

  it('refuses to run a state that would hand a secure value to an action not marked secure (fail-safe, the handler is never called)', async () => {
    const h = harness();
    const t = await h.start('invoking', { scenario: 'leak' });
    expect(t.path).toEqual(['route', 'leak']);
    expect(h.calls).toEqual([]);
    expect(h.named('error')).toEqual([expect.objectContaining({ code: 'SECURE_LEAK_BLOCKED', state: 'leak' })]);
    expect(t.end).toMatchObject({ type: 'error', code: 'SECURE_LEAK_BLOCKED', state: 'leak' });
  });

  it('refuses a masked form (last4) to an action not marked secure: masked values go only where a flow may release them', async () => {
    const h = harness();
    const t = await h.start('invoking', { scenario: 'masked' });
    expect(t.path).toEqual(['route', 'masked']);
    expect(h.calls).toEqual([]);
    expect(t.end).toMatchObject({ type: 'error', code: 'SECURE_LEAK_BLOCKED', state: 'masked' });
  });

  it('hands a secure value to an action marked secure', async () => {
    const h = harness();
    const t = await h.start('invoking', { scenario: 'secureOk' });
    expect(t.commands[0]).toEqual({ type: 'say', text: 'Status verified, doubled 0.' });
  });
});

describe('onError', () => {
  it('takes a failed expression to the flow\'s onError state and emits the error', async () => {
    const h = harness();
    const t = await h.start('invoking', { scenario: 'expression' });
    expect(t.path).toEqual(['route', 'badExpression', 'recover']);
    expect(t.end).toEqual({ type: 'disconnect', reason: 'recovered' });
    expect(h.named('error')).toEqual([expect.objectContaining({ code: 'EXPRESSION_FAILED', state: 'badExpression' })]);
  });
});

describe('callFlow', () => {
  it('runs nested subflows with inputs and maps outputs back (result.X and the bare-name shorthand)', async () => {
    const h = harness();
    const t = await h.start('calling', { scenario: 'outputs' });
    expect(t.path).toEqual(['route', 'compute', 'inner', 'calc', 'finish', 'tell', 'bye']);
    expect(t.trace.map((s) => `${s.flow}:${s.state}`)).toEqual([
      'calling:route', 'calling:compute', 'outer-sub:inner', 'inner-sub:calc', 'outer-sub:finish', 'calling:tell', 'calling:bye',
    ]);
    expect(t.commands).toEqual([
      { type: 'say', text: 'outer: 42 inner!' },
      { type: 'disconnect', reason: 'done' },
      expect.objectContaining({ type: 'end', end: { type: 'disconnect', reason: 'done' } }),
    ]);
    const view = await h.runtime.inspect(t.sessionId);
    expect(view?.frames).toHaveLength(1);
  });

  it('sends a subflow\'s error to the subflow\'s own onError', async () => {
    const h = harness();
    const t = await h.start('calling', { scenario: 'handled' });
    expect(t.path).toEqual(['route', 'callRisky', 'boom', 'handled', 'tellLabel', 'bye']);
    expect(t.commands[0]).toEqual({ type: 'say', text: 'handled in the subflow' });
  });

  it('sends a subflow\'s error to the caller\'s onError when the subflow has none', async () => {
    const h = harness();
    const t = await h.start('calling', { scenario: 'unhandled' });
    expect(t.path).toEqual(['route', 'callFragile', 'boom', 'recover']);
    expect(t.trace.at(-1)).toEqual({ flow: 'calling', state: 'recover' });
    expect(t.end).toEqual({ type: 'disconnect', reason: 'caller-recovered' });
  });

  it('sends it to the caller\'s onError even when the failing subflow state has the same name', async () => {
    const h = harness();
    const t = await h.start('calling', { scenario: 'clash' });
    expect(t.trace.map((s) => `${s.flow}:${s.state}`)).toEqual(['calling:route', 'calling:callClash', 'clash-sub:recover', 'calling:recover']);
    expect(t.end).toEqual({ type: 'disconnect', reason: 'caller-recovered' });
  });
});

describe('return', () => {
  it('ends a subflow run at the top level with its outputs', async () => {
    const h = harness();
    const t = await h.start('inner-sub', { v: 5 });
    expect(t.commands).toEqual([{ type: 'disconnect', reason: 'return' }, expect.objectContaining({ type: 'end' })]);
    expect(t.end).toEqual({ type: 'return', outputs: { twice: 10, note: 'inner' } });
  });

  it('is how a subflow simulated directly ends', async () => {
    const r = await simulate(FLOWS, { flowInputs: { v: 5 }, call: CALL }, 'inner-sub');
    expect(r.path).toEqual(['calc']);
    for (const secret of SECRETS) expect((JSON.stringify(r)).includes(secret), 'must not be there').toBe(false);
    expect(r.end).toEqual({ type: 'return', outputs: { twice: 10, note: 'inner' } });
  });
});

describe('authenticate', () => {
  const codeIn = (h: ReturnType<typeof harness>, t: Turn) => {
    const sms = t.commands.find((c) => c.type === 'sendSms') as Extract<Command, { type: 'sendSms' }>;
    const code = /(\d{4,10})/.exec(sms.body)![1]!;
    h.secrets.push(code);
    return code;
  };
  const wrong = (code: string) => code.split('').map((d) => String((Number(d) + 1) % 10)).join('');

  it('sends the code by SMS, collects it securely and takes verified', async () => {
    const h = harness();
    const t1 = await h.start('verify');
    const code = codeIn(h, t1);
    expect(t1.commands).toEqual([
      { type: 'sendSms', to: AUTH_PHONE, body: `Your Callflow code is ${code}.`, code, secure: true },
      { type: 'collect', purpose: 'authenticate', prompt: [{ text: 'Key in the code we sent.' }], input: 'dtmf', minDigits: 6, maxDigits: 6, timeoutMs: 5000, secure: true },
    ]);
    const t2 = await h.digits(t1, code);
    expect(t2.path).toEqual(['ok']);
    expect(t2.end).toEqual({ type: 'disconnect', reason: 'verified' });
    expect(h.named('input')).toContainEqual(expect.objectContaining({ event: { type: 'digits', digits: '[secure]' } }));
  });

  it('uses the runtime\'s code length and default wording when the state gives none', async () => {
    const h = harness({ otp: { digits: 8 } });
    const t1 = await h.start('verify', { strict: false });
    const code = codeIn(h, t1);
    expect(code).toHaveLength(8);
    expect(t1.commands[0]).toMatchObject({ body: `Your verification code is ${code}.` });
    expect(collectOf(t1)).toMatchObject({ minDigits: 8, maxDigits: 8, prompt: [{ text: 'Please key in the code we have sent you by text message.' }] });
  });

  it('re-prompts a wrong code and takes failed after the attempts', async () => {
    const h = harness();
    const t1 = await h.start('verify');
    const code = codeIn(h, t1);
    const t2 = await h.digits(t1, wrong(code));
    expect(types(t2.commands)).toEqual(['collect']);
    const t3 = await h.digits(t1, wrong(code));
    expect(t3.path).toEqual(['nope']);
    expect(t3.end).toEqual({ type: 'disconnect', reason: 'failed' });
  });

  it('counts no input as a try', async () => {
    const h = harness();
    const t1 = await h.start('verify');
    codeIn(h, t1);
    await h.send(t1, { type: 'noInput' });
    expect((await h.send(t1, { type: 'noInput' })).path).toEqual(['nope']);
  });

  it('takes lockedOut when the lock-out policy locks the number, and at once for the next session', async () => {
    const h = harness({ lockout: { maxFailures: 2 } });
    const t1 = await h.start('verify');
    const code = codeIn(h, t1);
    await h.digits(t1, wrong(code));
    const t2 = await h.digits(t1, wrong(code));
    expect(t2.path).toEqual(['locked']);
    expect(h.named('alert')).toContainEqual(expect.objectContaining({ code: 'auth.lockout' }));
    const again = await h.start('verify');
    expect(again.path).toEqual(['route', 'withLockout', 'locked']);
    expect(types(again.commands)).toEqual(['disconnect', 'end']);
    expect(h.named('alert')).toContainEqual(expect.objectContaining({ code: 'auth.locked' }));
  });

  it('falls back from an unlisted lockedOut to failed', async () => {
    const h = harness({ lockout: { maxFailures: 1 } });
    const t1 = await h.start('verify', { strict: false });
    const code = codeIn(h, t1);
    const t2 = await h.digits(t1, wrong(code));
    expect(t2.path).toEqual(['nope']);
  });

  it('takes failed when the SMS could not be sent, and ignores a `sent` report', async () => {
    const h = harness();
    const t1 = await h.start('verify');
    codeIn(h, t1);
    const sent = await h.send(t1, { type: 'smsResult', status: 'sent' });
    expect(sent).toMatchObject({ status: 'waiting', commands: [], path: [] });
    const t2 = await h.send(t1, { type: 'smsResult', status: 'failed' });
    expect(t2.path).toEqual(['nope']);
  });

  it('refuses the right code once the ttl has passed', async () => {
    const h = harness();
    const t1 = await h.start('verify');
    const code = codeIn(h, t1);
    h.clock.advance(30_001);
    const t2 = await h.digits(t1, code);
    expect(t2.path).toEqual(['nope']);
  });

  it('accepts the right code just inside the ttl', async () => {
    const h = harness();
    const t1 = await h.start('verify');
    const code = codeIn(h, t1);
    h.clock.advance(29_000);
    expect((await h.digits(t1, code)).path).toEqual(['ok']);
  });
});

describe('connect', () => {
  const dial = async (h: ReturnType<typeof harness>, full: boolean, status: 'completed' | 'busy' | 'noAnswer' | 'failed') => {
    const t1 = await h.start('bridge', { full });
    return h.send(t1, { type: 'connectResult', status });
  };

  it('says the prompt and places the leg to the number with the proxy caller id, then waits on the provider', async () => {
    const h = harness();
    const t1 = await h.start('bridge');
    expect(t1.commands).toEqual([
      { type: 'say', text: 'Connecting you now.' },
      { type: 'connect', number: TARGET, callerId: '+15555550100', timeoutMs: 20_000, record: false },
    ]);
    expect(t1).toMatchObject({ status: 'waiting', waitingFor: 'connect' });
    expect(types((await h.digits(t1, '5')).commands)).toEqual([]); // keys pressed meanwhile are no answer
  });

  it('takes completed, busy, noAnswer and failed', async () => {
    const h = harness();
    expect((await dial(h, true, 'completed')).end).toEqual({ type: 'disconnect', reason: 'completed' });
    expect((await dial(h, true, 'busy')).end).toEqual({ type: 'disconnect', reason: 'busy' });
    expect((await dial(h, true, 'noAnswer')).end).toEqual({ type: 'disconnect', reason: 'no-answer' });
    expect((await dial(h, true, 'failed')).end).toEqual({ type: 'disconnect', reason: 'failed' });
  });

  it('falls back from unlisted busy and noAnswer to failed', async () => {
    const h = harness();
    const t = await h.start('bridge', { full: false });
    expect(t.commands).toEqual([{ type: 'connect', number: TARGET, callerId: '+15555550100' }]);
    expect((await dial(h, false, 'busy')).path).toEqual(['failed']);
    expect((await dial(h, false, 'noAnswer')).path).toEqual(['failed']);
    expect((await dial(h, false, 'completed')).path).toEqual(['completed']);
  });
});

describe('transfer', () => {
  it('transfers to a queue (templated) with a prompt and data for the routing engine', async () => {
    const h = harness();
    const t = await h.start('routing', { to: 'queue' });
    expect(t.commands).toEqual([
      { type: 'say', text: 'Transferring you now.' },
      { type: 'transfer', queue: 'billing-gold', data: { tier: 'gold', vip: true, score: 7 } },
      { type: 'end', sessionId: t.sessionId, end: { type: 'transfer', queue: 'billing-gold', data: { tier: 'gold', vip: true, score: 7 } } },
    ]);
    expect(t.status).toBe('ended');
  });

  it('transfers to a number, a user and a SIP address', async () => {
    const h = harness();
    const number = await h.start('routing', { to: 'number' });
    expect(number.commands[0]).toEqual({ type: 'transfer', number: '+15555550155' });
    expect(number.end).toEqual({ type: 'transfer', number: '+15555550155' });
    expect((await h.start('routing', { to: 'user' })).end).toEqual({ type: 'transfer', user: 'agent-9' });
    expect((await h.start('routing', { to: 'sip' })).end).toEqual({ type: 'transfer', sip: 'sip:desk@example.com' });
  });

  it('hands the call to a new session of another flow, with its inputs (nextSessionId)', async () => {
    const h = harness();
    const t = await h.start('routing', { to: 'flow' });
    expect(t.nextSessionId).toBeDefined();
    expect(t.nextSessionId).not.toBe(t.sessionId);
    expect(types(t.commands)).toEqual(['end', 'collect']);
    expect(t.commands[0]).toEqual({ type: 'end', sessionId: t.sessionId, end: { type: 'transfer', flow: 'menus', sessionId: t.nextSessionId } });
    expect(t).toMatchObject({ status: 'waiting', path: ['route', 'toFlow', 'route', 'quick'] });
    expect(h.named('session.started')).toContainEqual(expect.objectContaining({ sessionId: t.nextSessionId, flow: 'menus', parentSessionId: t.sessionId }));
    expect((await h.runtime.inspect(t.sessionId))?.status).toBe('ended');
    const t2 = await h.digits(t.nextSessionId!, '1');
    expect(t2.end).toEqual({ type: 'transfer', queue: 'sales' });
  });
});

describe('enterSecureFlow', () => {
  it('ends this session and carries the call on in the secure flow, where what is collected is secure', async () => {
    const h = harness();
    const t = await h.start('routing', { to: 'secure' });
    expect(types(t.commands)).toEqual(['end', 'pauseRecording', 'collect']);
    expect(t.commands[0]).toMatchObject({ end: { type: 'enterSecureFlow', flow: 'secure-ivr', sessionId: t.nextSessionId } });
    expect(collectOf(t)).toMatchObject({ secure: true, minDigits: 6, maxDigits: 6, prompt: [{ text: 'Key in the PIN for REF-gold.' }] });
    expect(h.named('secure.entered')).toEqual([expect.objectContaining({ sessionId: t.nextSessionId, reservation: 'none' })]);
    const t2 = await h.digits(t.nextSessionId!, PIN);
    expect(t2.path).toEqual(['thanks', 'toDesk']);
    expect(types(t2.commands)).toEqual(['say', 'resumeRecording', 'transfer', 'end']);
    expect(h.named('input')).toContainEqual(expect.objectContaining({ event: { type: 'digits', digits: '[secure]' } }));
    expect(h.named('secure.exited')).toEqual([expect.objectContaining({ reason: 'transfer' })]);
  });
});

describe('disconnect', () => {
  it('hangs up with no reason, a reason string, or a reason and a prompt', async () => {
    const h = harness();
    const none = await h.start('routing', { to: 'none' });
    expect(none.commands).toEqual([{ type: 'disconnect' }, expect.objectContaining({ type: 'end', end: { type: 'disconnect' } })]);
    const reason = await h.start('routing', { to: 'reason' });
    expect(reason.commands[0]).toEqual({ type: 'disconnect', reason: 'busy-day' });
    expect(reason.end).toEqual({ type: 'disconnect', reason: 'busy-day' });
    const prompt = await h.start('routing', { to: 'prompt' });
    expect(types(prompt.commands)).toEqual(['say', 'disconnect', 'end']);
    expect(prompt.commands[0]).toEqual({ type: 'say', text: 'We are closed.' });
    expect(prompt.end).toEqual({ type: 'disconnect', reason: 'closed' });
    expect(h.named('session.ended')).toHaveLength(3);
  });
});

describe('returnToAgent', () => {
  it('reconnects the caller to the reserved agent with masked outputs', async () => {
    const h = harness();
    const t1 = await h.runtime.startSecureSession({ conversationId: 'conv-1', agentId: 'agent-7', flow: 'secure-desk', inputs: { ending: 'return' }, reserveAgent: true, call: CALL });
    const t2 = await h.digits(t1, CARD);
    expect(t2.commands).toEqual([
      { type: 'say', text: `You keyed ${CARD}.`, secure: true },
      { type: 'say', text: 'Back to your agent now.' },
      { type: 'resumeRecording' },
      { type: 'returnToAgent', agentId: 'agent-7', conversationId: 'conv-1', outputs: { last4: '2832' } },
      { type: 'end', sessionId: t1.sessionId, end: { type: 'returnToAgent', outputs: { last4: '2832' } } },
    ]);
    expect(t2.end).toEqual({ type: 'returnToAgent', outputs: { last4: '2832' } });
  });

  it('refuses a secure value in its outputs at run time (SECURE_LEAK_BLOCKED) and ends with the fail-safe', async () => {
    const h = harness();
    const t1 = await h.runtime.startSecureSession({ conversationId: 'conv-1', agentId: 'agent-7', flow: 'secure-desk', inputs: { ending: 'leak' }, reserveAgent: true, call: CALL });
    const t2 = await h.digits(t1, CARD);
    expect(types(t2.commands)).toEqual(['say', 'say', 'disconnect', 'end']);
    expect(t2.commands[1]).toEqual({ type: 'say', text: 'Sorry, something went wrong. Goodbye.' });
    expect(t2.commands.some((c) => c.type === 'returnToAgent')).toBe(false);
    expect(t2.end).toMatchObject({ type: 'error', code: 'SECURE_LEAK_BLOCKED', state: 'leakToAgent' });
  });
});

describe('onHangup', () => {
  it('runs only the non-caller actions of the handler and drops their commands', async () => {
    const h = harness();
    const t1 = await h.start('hangup-note');
    const t2 = await h.send(t1, { type: 'hangup' });
    expect(t2.end).toEqual({ type: 'hangup', state: 'ask' });
    expect(t2.path).toEqual(['wrapUp', 'mark', 'check', 'pauseIt', 'audit']); // stops before `farewell` (a say)
    expect(t2.commands).toEqual([{ type: 'end', sessionId: t1.sessionId, end: { type: 'hangup', state: 'ask' } }]);
    expect(h.calls).toEqual([{ name: 'audit', input: { note: 'hangup' }, attempt: 1 }]);
    expect(h.logger.records).toContainEqual(expect.objectContaining({ level: 'info', msg: 'the caller hung up' }));
    expect((h.named('command').map((e) => (e.command as Command).type)).includes('pauseRecording'), 'must not be there').toBe(false);
  });

  it('runs a subflow the handler calls: its data action once, its outputs back, commands dropped', async () => {
    const h = harness();
    const t1 = await h.start('hangup-call');
    const t2 = await h.send(t1, { type: 'hangup' });
    expect(t2.end).toEqual({ type: 'hangup', state: 'ask' });
    expect(t2.trace).toEqual([
      { flow: 'hangup-call', state: 'wrapUp' },
      { flow: 'hangup-audit-sub', state: 'audit' },
      { flow: 'hangup-audit-sub', state: 'done' },
      { flow: 'hangup-call', state: 'after' },
      { flow: 'hangup-call', state: 'noted' },
      { flow: 'hangup-call', state: 'bye' },
    ]);
    expect(h.calls).toEqual([{ name: 'audit', input: { note: 'hangup' }, attempt: 1 }]);
    expect(h.logger.records).toContainEqual(expect.objectContaining({ level: 'info', msg: 'the hang-up was audited' }));
    expect(t2.commands).toEqual([{ type: 'end', sessionId: t1.sessionId, end: { type: 'hangup', state: 'ask' } }]);
    expect(h.named('error')).toEqual([]);
  });

  it('ends a session without a handler on a hang-up', async () => {
    const h = harness();
    const t1 = await h.start('menus');
    const t2 = await h.send(t1, { type: 'hangup' });
    expect(t2).toMatchObject({ status: 'ended', path: [], end: { type: 'hangup', state: 'main' } });
  });
});

describe('an unhandled error', () => {
  it('ends with the fail-safe: say and disconnect, end type error', async () => {
    const h = harness();
    const t = await h.start('spinner', { spin: false });
    expect(t.commands).toEqual([
      { type: 'say', text: 'Sorry, something went wrong. Goodbye.' },
      { type: 'disconnect', reason: 'error' },
      expect.objectContaining({ type: 'end' }),
    ]);
    expect(t.end).toMatchObject({ type: 'error', code: 'EXPRESSION_FAILED', state: 'broken' });
    expect(h.named('session.ended')).toEqual([expect.objectContaining({ end: expect.objectContaining({ type: 'error' }) })]);
  });

  it('transfers to failSafe.transferQueue when one is configured', async () => {
    const h = harness({ failSafe: { say: 'One moment please.', transferQueue: 'support' } });
    const t = await h.start('spinner', { spin: false });
    expect(types(t.commands)).toEqual(['say', 'transfer', 'end']);
    expect(t.commands[1]).toEqual({ type: 'transfer', queue: 'support' });
    expect(t.end).toMatchObject({ type: 'error', code: 'EXPRESSION_FAILED' });
  });

  it('stops a busy loop at maxStepsPerTurn with BUSY_LOOP', async () => {
    const h = harness({ maxStepsPerTurn: 40 });
    const t = await h.start('spinner');
    expect(t.path).toHaveLength(40);
    expect(t.end).toMatchObject({ type: 'error', code: 'BUSY_LOOP' });
    expect(types(t.commands)).toEqual(['say', 'disconnect', 'end']);
  });
});

// ---------------------------------------------------------------------------------------

describe('the agent reservation of a secure session', () => {
  const AGENT = 'agent-7';
  const reserve = async (h: ReturnType<typeof harness>, ending: string, agentId = AGENT) => {
    const t = await h.runtime.startSecureSession({ conversationId: 'conv-1', agentId, flow: 'secure-desk', inputs: { ending }, reserveAgent: true, call: CALL });
    expect(await h.runtime.isReserved(agentId)).toBe(true);
    return t;
  };
  const expectReleased = async (h: ReturnType<typeof harness>, reason: ReleaseReason, sessionId: string) => {
    expect(await h.runtime.isReserved(AGENT)).toBe(false);
    expect(await h.reservations.list()).toEqual([]);
    expect(h.named('reservation.released')).toEqual([expect.objectContaining({ agentId: AGENT, reason, sessionId })]);
    expect(h.mirror.calls).toEqual([
      { kind: 'reserved', agentId: AGENT, sessionId },
      { kind: 'released', agentId: AGENT, sessionId, reason },
    ]);
  };

  it('is taken when the agent starts the session, and mirrored', async () => {
    const h = harness();
    const t = await reserve(h, 'return');
    expect(h.named('reservation.reserved')).toEqual([expect.objectContaining({ agentId: AGENT, sessionId: t.sessionId })]);
    expect(h.mirror.calls).toEqual([{ kind: 'reserved', agentId: AGENT, sessionId: t.sessionId }]);
    await expect(reserve(h, 'return')).rejects.toMatchObject({ code: 'AGENT_RESERVED' });
  });

  it('is released by returnToAgent', async () => {
    const h = harness();
    const t = await reserve(h, 'return');
    expect((await h.digits(t, CARD)).end?.type).toBe('returnToAgent');
    await expectReleased(h, 'returnToAgent', t.sessionId);
  });

  it('is released by a transfer', async () => {
    const h = harness();
    const t = await reserve(h, 'transfer');
    expect((await h.digits(t, CARD)).end).toEqual({ type: 'transfer', queue: 'billing' });
    await expectReleased(h, 'transfer', t.sessionId);
  });

  it('is released by a transfer after the caller used up the attempts', async () => {
    const h = harness();
    const t = await reserve(h, 'return');
    await h.digits(t, BAD_CARD);
    expect((await h.send(t, { type: 'noInput' })).path).toEqual(['toBilling']);
    await expectReleased(h, 'transfer', t.sessionId);
  });

  it('is released by a disconnect', async () => {
    const h = harness();
    const t = await reserve(h, 'disconnect');
    expect((await h.digits(t, CARD)).end).toEqual({ type: 'disconnect', reason: 'done' });
    await expectReleased(h, 'disconnect', t.sessionId);
  });

  it('is released when the caller hangs up', async () => {
    const h = harness();
    const t = await reserve(h, 'return');
    expect((await h.send(t, { type: 'hangup' })).end).toEqual({ type: 'hangup', state: 'askCard' });
    await expectReleased(h, 'hangup', t.sessionId);
  });

  it('is released by an unhandled error', async () => {
    const h = harness();
    const t = await reserve(h, 'something else');
    expect((await h.digits(t, CARD)).end).toMatchObject({ type: 'error', code: 'EXPRESSION_FAILED' });
    await expectReleased(h, 'error', t.sessionId);
  });

  it('is released when returnToAgent is refused for a secure output', async () => {
    const h = harness();
    const t = await reserve(h, 'leak');
    expect((await h.digits(t, CARD)).end).toMatchObject({ type: 'error', code: 'SECURE_LEAK_BLOCKED' });
    await expectReleased(h, 'error', t.sessionId);
  });

  it('is released when the session cannot even be stored (the start throws)', async () => {
    class DownStore extends MemorySessionStore {
      override async put(): Promise<never> {
        throw new StoreUnavailableError('session store unreachable');
      }
    }
    const h = harness({ store: new DownStore() });
    await expect(h.runtime.startSecureSession({ conversationId: 'conv-1', agentId: AGENT, flow: 'secure-desk', inputs: { ending: 'return' }, reserveAgent: true, call: CALL }))
      .rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    expect(await h.runtime.isReserved(AGENT)).toBe(false);
    expect(h.named('reservation.released')).toEqual([expect.objectContaining({ agentId: AGENT, reason: 'error' })]);
    expect(h.mirror.calls.map((c) => c.reason ?? c.kind)).toEqual(['reserved', 'error']);
  });

  it('is released by sweep when its lease runs out', async () => {
    const h = harness({ reservationLeaseMs: 60_000 });
    const t = await reserve(h, 'return');
    h.clock.advance(59_999);
    expect(await h.runtime.sweep()).toBe(0);
    h.clock.advance(2);
    expect(await h.runtime.sweep()).toBe(1);
    await expectReleased(h, 'expired', t.sessionId);
  });

  it('is released on the next turn when the lease ran out and nobody swept', async () => {
    const h = harness({ reservationLeaseMs: 60_000 });
    const t = await reserve(h, 'return');
    h.clock.advance(60_001);
    const t2 = await h.digits(t, CARD);
    await expectReleased(h, 'expired', t.sessionId);
    // The session itself goes on; the agent is no longer held (offered other work meanwhile), but
    // the caller still goes back to the agent who handed them over, not to a hang-up.
    expect(t2.commands.find((c) => c.type === 'returnToAgent')).toEqual({ type: 'returnToAgent', agentId: AGENT, conversationId: 'conv-1', outputs: { last4: '2832' } });
  });

  it('stays released when sweep released it and the session then takes a turn (announced at least once, always as expired)', async () => {
    // The session's next turn cannot tell "sweep in this process said so" from "the store let
    // the lease lapse and nobody said so", so it says so again: at least once, never wrong.
    const h = harness({ reservationLeaseMs: 60_000 });
    const t = await reserve(h, 'return');
    h.clock.advance(60_001);
    await h.runtime.sweep();
    expect((await h.digits(t, CARD)).end?.type).toBe('returnToAgent');
    expect(await h.runtime.isReserved(AGENT)).toBe(false);
    const released = h.named('reservation.released');
    expect(released.length).toBeGreaterThanOrEqual(1);
    expect(released.every((e) => e.reason === 'expired' && e.sessionId === t.sessionId)).toBe(true);
    expect(h.mirror.calls.filter((c) => c.kind === 'released').every((c) => c.reason === 'expired')).toBe(true);
  });

  it('is released on shutdown', async () => {
    const h = harness();
    const t = await reserve(h, 'return');
    await h.runtime.shutdown();
    await expectReleased(h, 'shutdown', t.sessionId);
  });

  it('of an expired session never ends the agent\'s next reservation', async () => {
    const h = harness({ reservationLeaseMs: 60_000 });
    const first = await reserve(h, 'return');
    h.clock.advance(60_001);
    await h.runtime.sweep();
    const second = await reserve(h, 'return');
    await h.digits(first, CARD); // the old session's turn notices its lease is gone
    expect(await h.runtime.isReserved(AGENT)).toBe(true);
    expect(h.mirror.calls.filter((c) => c.kind === 'released').map((c) => c.sessionId)).toEqual([first.sessionId]);
    await h.runtime.shutdown();
    expect(await h.runtime.isReserved(AGENT)).toBe(false);
    expect(h.mirror.calls.at(-1)).toEqual({ kind: 'released', agentId: AGENT, sessionId: second.sessionId, reason: 'shutdown' });
  });

  it('returns the caller to the agent who handed them over even when the agent was not reserved', async () => {
    const h = harness();
    const t = await h.runtime.startSecureSession({ conversationId: 'conv-4', agentId: AGENT, flow: 'secure-desk', inputs: { ending: 'return' }, reserveAgent: false, call: CALL });
    const done = await h.runtime.handle(t.sessionId, { type: 'digits', digits: CARD });
    expect(done.commands.find((c) => c.type === 'returnToAgent')).toMatchObject({ type: 'returnToAgent', agentId: AGENT, conversationId: 'conv-4' });
    expect(h.named('reservation.reserved')).toEqual([]);
    // The agent did not pick up: the caller gets the fail-safe, not silence.
    const missed = await h.runtime.handle(t.sessionId, { type: 'transferResult', status: 'noAnswer' });
    expect(missed.commands.map((c) => c.type)).toEqual(['say', 'disconnect']);
    const answered = await h.runtime.handle(t.sessionId, { type: 'transferResult', status: 'completed' });
    expect(answered.commands).toEqual([]);
  });

  it('is not taken for a secure IVR (reservation: none) nor when the agent does not ask for it', async () => {
    const h = harness();
    await h.runtime.startSecureSession({ conversationId: 'conv-2', agentId: AGENT, flow: 'secure-ivr', inputs: { reference: 'R1' }, reserveAgent: true, call: CALL });
    await h.runtime.startSecureSession({ conversationId: 'conv-3', agentId: AGENT, flow: 'secure-desk', inputs: { ending: 'return' }, reserveAgent: false, call: CALL });
    expect(await h.runtime.isReserved(AGENT)).toBe(false);
    expect(h.named('reservation.reserved')).toEqual([]);
  });
});
