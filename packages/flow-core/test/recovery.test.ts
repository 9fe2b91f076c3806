/**
 * Recovery after a store outage, on in-memory stores that can be made to fail: what the
 * runtime ends once the store answers, and what it leaves alone. (The same against a real
 * Redis made unreachable: redis-outage.test.ts.)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  MemoryReservationStore,
  MemorySessionStore,
  StoreUnavailableError,
  createRuntime,
  defineAction,
  keyRing,
  type Flow,
  type PutOptions,
  type PutResult,
  type SessionStore,
  type StoredSession,
} from '../src/index.js';
import { OutageLedger } from '../src/runtime/recovery.js';

const CARD = '4916338506082832';
const takePayment = parse(readFileSync(join(import.meta.dirname, 'fixtures', 'take-payment.yaml'), 'utf8')) as Flow;
const chargeCard = defineAction({
  name: 'chargeCard',
  secure: true,
  input: z.object({ card: z.string(), cvv: z.string(), amount: z.number() }),
  output: z.object({ reference: z.string() }),
  handler: async () => ({ reference: 'PAY-0042' }),
});

/** A session store that fails, like an unreachable Redis, while `down`. */
class FlakyStore implements SessionStore {
  down = false;
  constructor(private readonly inner = new MemorySessionStore()) {}
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
  const options = { flows: [takePayment], actions: [chargeCard], store, reservations, secrets: keyRing({ k: Buffer.alloc(32, 4) }, 'k') };
  const a = createRuntime(options);
  const b = createRuntime(options);
  const errors: { code: string; message: string }[] = [];
  a.events.on('error', (e) => errors.push({ code: e.code, message: e.message }));
  return { store, reservations, a, b, errors };
}

const begin = (rt: ReturnType<typeof setup>['a'], agentId: string) =>
  rt.startSecureSession({ conversationId: 'c', agentId, flow: 'take-payment', inputs: { amount: 5 }, reserveAgent: true });

describe('recovery after a store outage', () => {
  it('says STORE_UNAVAILABLE without the store message, and ends the session and frees the agent once the store answers', async () => {
    const { store, a, errors } = setup();
    const { sessionId } = await begin(a, 'agent-1');
    store.down = true;
    await expect(a.handle(sessionId, { type: 'digits', digits: `${CARD}#` })).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(errors).toEqual([{ code: 'STORE_UNAVAILABLE', message: expect.not.stringMatching(/10\.0\.0\.7|ECONNREFUSED|6379/) }]);
    expect(await a.sweep()).toBe(0);
    expect(await a.isReserved('agent-1')).toBe(true);
    store.down = false;
    expect(await a.sweep()).toBe(1);
    expect(await a.isReserved('agent-1')).toBe(false);
    expect(await a.inspect(sessionId)).toMatchObject({ status: 'ended', end: { code: 'STORE_UNAVAILABLE' } });
  });

  it('leaves alone a session that went on after the outage, on this worker or another', async () => {
    const { store, a, b } = setup();
    const here = await begin(a, 'agent-2');
    const there = await begin(a, 'agent-3');
    store.down = true;
    const turn = (n: number) => ({ requestId: String(n), requestOrder: n });
    await expect(a.handle(here.sessionId, { type: 'digits', digits: `${CARD}#` }, turn(1))).rejects.toThrow(StoreUnavailableError);
    await expect(a.handle(there.sessionId, { type: 'digits', digits: `${CARD}#` }, turn(1))).rejects.toThrow(StoreUnavailableError);
    store.down = false;
    // The callers carried on: the same worker answers one call's request again, another worker
    // the other call's next request.
    expect((await a.handle(here.sessionId, { type: 'digits', digits: `${CARD}#` }, turn(1))).status).toBe('waiting');
    expect((await b.handle(there.sessionId, { type: 'digits', digits: `${CARD}#` }, turn(2))).status).toBe('waiting');
    expect(await a.sweep()).toBe(0);
    expect(await a.isReserved('agent-2')).toBe(true);
    expect(await a.isReserved('agent-3')).toBe(true);
    expect(await a.inspect(here.sessionId)).toMatchObject({ status: 'active' });
    expect(await a.inspect(there.sessionId)).toMatchObject({ status: 'active' });
  });

  it('does not end a session that ended meanwhile, and releases nothing twice', async () => {
    const { store, a, b } = setup();
    const { sessionId } = await begin(a, 'agent-4');
    store.down = true;
    await expect(a.handle(sessionId, { type: 'noInput' })).rejects.toThrow(StoreUnavailableError);
    store.down = false;
    const released: string[] = [];
    a.events.on('reservation.released', (e) => released.push(`a:${e.reason}`));
    b.events.on('reservation.released', (e) => released.push(`b:${e.reason}`));
    // The status callback's hang-up reached the other worker first.
    await b.handle(sessionId, { type: 'hangup' }, { requestId: 'hangup' });
    expect(await a.sweep()).toBe(0);
    expect(released).toEqual(['b:hangup']);
    expect(await a.inspect(sessionId)).toMatchObject({ status: 'ended', end: { type: 'hangup' } });
  });
});

describe('OutageLedger', () => {
  it('is bounded, dropping the oldest first, and never forgets an agent it was told of', () => {
    const ledger = new OutageLedger(2);
    const agent = { agentId: 'a', token: 't', expiresAt: 1 };
    ledger.remember({ sessionId: 's1', flow: 'f', agent });
    ledger.remember({ sessionId: 's1', flow: 'f', version: 3 });
    expect(ledger.list()).toEqual([{ sessionId: 's1', flow: 'f', agent, version: 3 }]);
    ledger.remember({ sessionId: 's2', flow: 'f' });
    ledger.remember({ sessionId: 's3', flow: 'f' });
    expect(ledger.list().map((e) => e.sessionId)).toEqual(['s2', 's3']);
    ledger.forget('s2');
    expect(ledger.size).toBe(1);
  });
});
