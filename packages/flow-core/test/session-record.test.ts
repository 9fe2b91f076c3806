/**
 * Stored session records are checked when they are read back: a record that was damaged,
 * altered or moved from another session, and a sealed slot that does not belong to it, are
 * refused with `SessionRecordError` — before anything runs on them, with the agent let go and
 * no secure value in the error, the events or the logs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  MemoryLogger,
  MemoryReservationStore,
  MemorySessionStore,
  SecretsError,
  SessionRecordError,
  StoreUnavailableError,
  createRuntime,
  defineAction,
  keyRing,
  type Flow,
  type PutOptions,
  type PutResult,
  type SecretsProvider,
  type SessionStore,
  type StoredSession,
} from '../src/index.js';

const CARD_A = '4916338506082832';
const CARD_B = '4539578763621486';
const CVV_A = '737';
const load = (name: string): Flow => parse(readFileSync(join(import.meta.dirname, 'fixtures', `${name}.yaml`), 'utf8')) as Flow;

/** A session store that fails, like an unreachable Redis, while `down`. */
class FlakyStore implements SessionStore {
  down = false;
  readonly inner = new MemorySessionStore();
  private check(): void {
    if (this.down) throw new StoreUnavailableError('Redis could not read a session: connect ECONNREFUSED 10.0.0.7:6379');
  }
  async get(id: string): Promise<StoredSession | undefined> {
    this.check();
    return this.inner.get(id);
  }
  async put(id: string, value: string, options: PutOptions): Promise<PutResult> {
    this.check();
    return this.inner.put(id, value, options);
  }
  async delete(id: string): Promise<void> {
    this.check();
    return this.inner.delete(id);
  }
}

function setup() {
  const store = new FlakyStore();
  const reservations = new MemoryReservationStore();
  const logger = new MemoryLogger();
  const charged: string[] = [];
  const chargeCard = defineAction({
    name: 'chargeCard',
    secure: true,
    input: z.object({ card: z.string(), cvv: z.string(), amount: z.number() }),
    output: z.object({ reference: z.string() }),
    handler: async ({ card }) => {
      charged.push(card);
      return { reference: 'PAY-0042' };
    },
  });
  const runtime = createRuntime({
    flows: [load('take-payment'), load('ivr'), load('get-balance'), load('self-pay'), load('otp')],
    actions: [chargeCard],
    store,
    reservations,
    logger,
    secrets: keyRing({ k1: Buffer.alloc(32, 7) }, 'k1'),
  });
  const emitted: Record<string, unknown>[] = [];
  for (const name of ['error', 'reservation.released', 'command', 'input', 'session.ended'] as const) {
    runtime.events.on(name, (p) => emitted.push({ name, ...p }));
  }
  const errors = () => emitted.filter((e) => e.name === 'error');
  /** Everything that left the runtime but the stored records. */
  const outside = () => JSON.stringify(emitted) + logger.text();

  const begin = (agentId: string) =>
    runtime.startSecureSession({ conversationId: `conv-${agentId}`, agentId, flow: 'take-payment', inputs: { amount: 25.5 }, reserveAgent: true, call: { caller: '+15555550111' } });

  /** The stored record of a session, as JSON. */
  const read = async (sessionId: string): Promise<Record<string, unknown>> => JSON.parse((await store.inner.get(sessionId))!.value) as Record<string, unknown>;
  /** Write a session's stored record as someone with access to the store could. */
  const write = async (sessionId: string, record: Record<string, unknown> | string) => {
    const current = await store.inner.get(sessionId);
    const text = typeof record === 'string' ? record : JSON.stringify(record);
    expect(await store.inner.put(sessionId, text, { expectedVersion: current?.version })).toMatchObject({ ok: true });
  };
  return { runtime, store, reservations, logger, charged, emitted, errors, outside, begin, read, write };
}

/** What `promise` rejected with. */
async function rejection(promise: Promise<unknown>): Promise<SessionRecordError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SessionRecordError);
  return error as SessionRecordError;
}

/** Flip one bit of a base64 field. */
const flipped = (text: string) => {
  const bytes = Buffer.from(text, 'base64');
  bytes[0] = bytes[0]! ^ 0x01;
  return bytes.toString('base64');
};

describe('a sealed slot moved to another session', () => {
  it("is refused: the turn never sees the other session's card and nothing is charged", async () => {
    const s = setup();
    const a = await s.begin('agent-a');
    const b = await s.begin('agent-b');
    await s.runtime.handle(a.sessionId, { type: 'digits', digits: `${CARD_A}#` });
    await s.runtime.handle(b.sessionId, { type: 'digits', digits: `${CARD_B}#` });
    // A's sealed slot (A's card, A's caller) pasted into B's record.
    const recordB = await s.read(b.sessionId);
    recordB.sealed = (await s.read(a.sessionId)).sealed;
    await s.write(b.sessionId, recordB);

    const error = await rejection(s.runtime.handle(b.sessionId, { type: 'digits', digits: CVV_A }));
    expect(error.code).toBe('SESSION_SLOT_MISMATCH');
    expect(error.sessionId).toBe(b.sessionId);
    expect(s.charged).toEqual([]);
    expect(s.errors()).toEqual([expect.objectContaining({ sessionId: b.sessionId, flow: 'take-payment', code: 'SESSION_SLOT_MISMATCH' })]);
    // B's agent is let go; A's call carries on with A's agent and A's card.
    expect(await s.runtime.isReserved('agent-b')).toBe(false);
    expect(s.emitted).toContainEqual(expect.objectContaining({ name: 'reservation.released', sessionId: b.sessionId, agentId: 'agent-b', reason: 'error' }));
    expect(await s.runtime.isReserved('agent-a')).toBe(true);
    const t = await s.runtime.handle(a.sessionId, { type: 'digits', digits: CVV_A });
    expect(t.commands.at(-2)).toMatchObject({ type: 'returnToAgent', outputs: { cardLast4: '2832' } });
    expect(s.charged).toEqual([CARD_A]);
    // ids (random hex) and timestamps (the system clock's milliseconds) hold 737 now and then:
    // the security code counts where it stands as a number of its own
    const outside = (error.message + s.outside()).replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, 'ID');
    for (const secret of [CARD_A, CARD_B, '+15555550111']) expect(outside.includes(secret), 'a secure value left the runtime').toBe(false);
    expect(new RegExp(`(?<!\\d)${CVV_A}(?!\\d)`).test(outside), 'the security code left the runtime').toBe(false);
  });

  it('is refused on every turn after, and the record is left as it was for a person to look at', async () => {
    const s = setup();
    const a = await s.begin('agent-a');
    const b = await s.begin('agent-b');
    await s.runtime.handle(a.sessionId, { type: 'digits', digits: `${CARD_A}#` });
    const recordB = await s.read(b.sessionId);
    recordB.sealed = (await s.read(a.sessionId)).sealed;
    await s.write(b.sessionId, recordB);
    const stored = await s.store.inner.get(b.sessionId);
    await rejection(s.runtime.handle(b.sessionId, { type: 'digits', digits: `${CARD_B}#` }));
    expect((await rejection(s.runtime.handle(b.sessionId, { type: 'hangup' }))).code).toBe('SESSION_SLOT_MISMATCH');
    expect((await rejection(s.runtime.inspect(b.sessionId))).code).toBe('SESSION_SLOT_MISMATCH');
    expect(await s.store.inner.get(b.sessionId)).toEqual(stored);
  });

  it("refuses an ended session's replay moved from another session", async () => {
    const s = setup();
    const a = await s.begin('agent-a');
    const b = await s.begin('agent-b');
    await s.runtime.handle(a.sessionId, { type: 'hangup' }, { requestId: 'hangup' });
    await s.runtime.handle(b.sessionId, { type: 'hangup' }, { requestId: 'hangup' });
    const recordB = await s.read(b.sessionId);
    recordB.replay = (await s.read(a.sessionId)).replay;
    await s.write(b.sessionId, recordB);
    const error = await rejection(s.runtime.handle(b.sessionId, { type: 'hangup' }, { requestId: 'hangup' }));
    expect(error.code).toBe('SESSION_SLOT_MISMATCH');
    expect(error.message).toMatch(/replay/);
    // Its own replay still answers a repeat.
    expect(await s.runtime.handle(a.sessionId, { type: 'hangup' }, { requestId: 'hangup' })).toMatchObject({ sessionId: a.sessionId, replayed: true });
  });
});

describe('a sealed slot with altered bytes', () => {
  const alterations: [string, (sealed: Record<string, string>) => Record<string, unknown>][] = [
    ['a flipped bit in the ciphertext', (x) => ({ ...x, ct: flipped(x.ct!) })],
    ['a flipped bit in the tag', (x) => ({ ...x, tag: flipped(x.tag!) })],
    ['a flipped bit in the IV', (x) => ({ ...x, iv: flipped(x.iv!) })],
    ['a tag truncated to 4 bytes', (x) => ({ ...x, tag: Buffer.from(x.tag!, 'base64').subarray(0, 4).toString('base64') })],
  ];
  for (const [what, alter] of alterations) {
    it(`is refused: ${what}`, async () => {
      const s = setup();
      const b = await s.begin('agent-b');
      await s.runtime.handle(b.sessionId, { type: 'digits', digits: `${CARD_B}#` });
      const record = await s.read(b.sessionId);
      record.sealed = alter(record.sealed as Record<string, string>);
      await s.write(b.sessionId, record);
      const error = await rejection(s.runtime.handle(b.sessionId, { type: 'digits', digits: CVV_A }));
      expect(error.code).toBe('SESSION_SLOT_MISMATCH');
      expect(s.charged).toEqual([]);
      expect(await s.runtime.isReserved('agent-b')).toBe(false);
    });
  }
});

describe('a damaged or altered record', () => {
  type Damage = (record: Record<string, unknown>, other: Record<string, unknown>) => Record<string, unknown> | string;
  const frame0 = (r: Record<string, unknown>) => (r.frames as Record<string, unknown>[])[0]!;
  const damages: [string, Damage, RegExp][] = [
    ['text that is not JSON', () => '{"v":1,"id":', /not JSON/],
    ['an unknown status', (r) => ({ ...r, status: 'paused' }), /status/],
    ['frames that are not an array', (r) => ({ ...r, frames: { 0: frame0(r) } }), /frames/],
    ['no frames', (r) => ({ ...r, frames: [] }), /frames/],
    ['a field of the wrong type', (r) => ({ ...r, turns: 'two' }), /turns/],
    ['a missing field', ({ startedAt: _startedAt, ...r }) => r, /startedAt/],
    ['a wait of an unknown kind', (r) => ({ ...r, frames: [{ ...frame0(r), wait: { kind: 'dance', attempt: 1 } }] }), /frames\.0\.wait\.kind/],
    ['a machine value that is not a state of the flow', (r) => ({ ...r, frames: [{ ...frame0(r), machine: { ...(frame0(r).machine as object), value: 'nowhere' } }] }), /frames\.0\.machine\.value is not a state of flow 'take-payment'/],
    ['a subflow frame of a flow this runtime does not run', (r) => ({ ...r, frames: [frame0(r), { ...frame0(r), flow: 'gone' }] }), /frames\.1\.flow is not a flow this runtime runs/],
    ['a first frame that is not its flow', (r) => ({ ...r, frames: [{ ...frame0(r), flow: 'main-ivr' }] }), /first frame/],
    ['a kind that is not its flow’s', (r) => ({ ...r, kind: 'inbound' }), /kind/],
    ['the record of another session', (_r, other) => other, /another session/],
    ['an unknown record format', (r) => ({ ...r, v: 3 }), /\bv\b/],
    ['an end of an unknown type', (r) => ({ ...r, status: 'ended', end: { type: 'vanished' } }), /end/],
    ['a sealed slot missing its tag', (r) => ({ ...r, sealed: { v: 2, kid: 'k1', iv: 'AAAA', ct: 'AAAA' } }), /sealed\.tag/],
    ['a slot sealed before slots were bound to their session (v1)', (r) => ({ ...r, sealed: { ...(r.sealed as object), v: 1 } }), /older format/],
    ['a slot sealed with a key the ring no longer holds', (r) => ({ ...r, sealed: { ...(r.sealed as object), kid: 'k0' } }), /key the key ring no longer holds/],
  ];
  for (const [what, damage, says] of damages) {
    it(`is refused with SESSION_RECORD_INVALID: ${what}`, async () => {
      const s = setup();
      const a = await s.begin('agent-a');
      const b = await s.begin('agent-b');
      await s.runtime.handle(b.sessionId, { type: 'digits', digits: `${CARD_B}#` });
      await s.write(b.sessionId, damage(await s.read(b.sessionId), await s.read(a.sessionId)));
      const error = await rejection(s.runtime.handle(b.sessionId, { type: 'digits', digits: CVV_A }));
      expect(error.code).toBe('SESSION_RECORD_INVALID');
      expect(error.message).toMatch(says);
      expect(s.charged).toEqual([]);
      expect(s.errors()).toEqual([expect.objectContaining({ sessionId: b.sessionId, code: 'SESSION_RECORD_INVALID', message: error.message })]);
      expect((error.message + s.outside()).includes(CARD_B), 'must not be there').toBe(false);
    });
  }

  it('quotes no value of the record, nor a key of its maps, in the error, the events or the logs', async () => {
    const s = setup();
    const b = await s.begin('agent-b');
    await s.runtime.handle(b.sessionId, { type: 'digits', digits: `${CARD_B}#` });
    const record = await s.read(b.sessionId);
    const damaged = [
      { ...record, status: CARD_B },
      { ...record, turns: CARD_B },
      { ...record, flow: CARD_B },
      { ...record, kind: CARD_B },
      { ...record, frames: [{ ...(record.frames as object[])[0], tries: { [CARD_B]: CVV_A } }] },
      { ...record, frames: [{ ...(record.frames as object[])[0], machine: { value: CARD_B } }] },
      { ...record, sealed: { ...(record.sealed as object), kid: CARD_B } },
      { ...record, end: { type: CARD_B } },
    ];
    for (const r of damaged) {
      await s.write(b.sessionId, r);
      const error = await rejection(s.runtime.handle(b.sessionId, { type: 'digits', digits: CVV_A }));
      expect((error.message).includes(CARD_B.slice(0, 6)), 'must not be there').toBe(false);
      expect((error.message).includes(CVV_A), 'must not be there').toBe(false);
    }
    expect((s.outside()).includes(CARD_B.slice(0, 6)), 'must not be there').toBe(false);
    expect(s.errors()).toHaveLength(damaged.length);
  });

  it("lets go of the record's agent, but not an agent another session holds", async () => {
    const s = setup();
    const a = await s.begin('agent-a');
    const b = await s.begin('agent-b');
    const broken = { ...(await s.read(b.sessionId)), turns: -1 };
    await s.write(b.sessionId, broken);
    await rejection(s.runtime.handle(b.sessionId, { type: 'noInput' }));
    expect(await s.runtime.isReserved('agent-b')).toBe(false);
    // A record that names A's reservation (its agent and token) does not release A's agent.
    const c = await s.begin('agent-c');
    await s.write(c.sessionId, { ...(await s.read(c.sessionId)), agent: (await s.read(a.sessionId)).agent, turns: -1 });
    await rejection(s.runtime.handle(c.sessionId, { type: 'noInput' }));
    expect(await s.runtime.isReserved('agent-a')).toBe(true);
    // C's own agent, granted by this runtime, is let go although the record no longer names it.
    expect(await s.runtime.isReserved('agent-c')).toBe(false);
  });

  it('is ended by the recovery after a store outage: the agent let go, the code said', async () => {
    const s = setup();
    const b = await s.begin('agent-b');
    s.store.down = true;
    await expect(s.runtime.handle(b.sessionId, { type: 'digits', digits: `${CARD_B}#` })).rejects.toThrow(StoreUnavailableError);
    s.store.down = false;
    await s.write(b.sessionId, { ...(await s.read(b.sessionId)), status: 'paused' });
    expect(await s.runtime.sweep()).toBe(1);
    expect(await s.runtime.isReserved('agent-b')).toBe(false);
    expect(s.errors().map((e) => e.code)).toEqual(['STORE_UNAVAILABLE', 'SESSION_RECORD_INVALID']);
  });

  it('leaves an intact record of a session without secure values to run as before', async () => {
    const s = setup();
    const t = await s.runtime.startSession({ flow: 'main-ivr' });
    const again = await s.runtime.handle(t.sessionId, { type: 'digits', digits: '2' });
    expect(again.status).toBe('waiting');
    expect(s.errors()).toEqual([]);
  });
});

describe('the key at start-up', () => {
  it('refuses a provider whose current key is not 32 bytes, naming the key id and the length', () => {
    const key = Buffer.alloc(16, 0x5a);
    const secrets: SecretsProvider = { currentKeyId: () => 'vault-2024', key: () => key };
    let error: unknown;
    try {
      createRuntime({ flows: [load('take-payment')], secrets });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SecretsError);
    expect(error).toMatchObject({ code: 'SECRETS_BAD_KEY', message: "key 'vault-2024' is 16 bytes; AES-256 needs 32" });
    expect(((error as Error).message).includes(key.toString('hex').slice(0, 8)), 'must not be there').toBe(false);
    expect(((error as Error).message).includes(key.toString('base64').slice(0, 8)), 'must not be there').toBe(false);
  });

  it('refuses a provider without a key for its current key id', () => {
    const secrets: SecretsProvider = { currentKeyId: () => 'vault-2025', key: () => undefined };
    expect(() => createRuntime({ flows: [load('take-payment')], secrets })).toThrow(/no key for the current key id 'vault-2025'/);
  });
});
