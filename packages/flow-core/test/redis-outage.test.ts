/**
 * Redis going away under a secure call, and coming back: against a real Redis on
 * 127.0.0.1:6379 (these tests fail, saying why, when there is none), reached through a TCP
 * proxy the test cuts and restores (`helpers/redis-cutter.ts`). The turn that meets the outage
 * throws `StoreUnavailableError` and the runtime emits `error` STORE_UNAVAILABLE; once Redis
 * answers again, the session is ended and its agent released, on `sweep()` or on the
 * recovery timer.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { parse } from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  StoreUnavailableError,
  createRuntime,
  defineAction,
  keyRing,
  type Flow,
  type ReleaseReason,
  type Reservation,
  type ReservationMirror,
  type RuntimeEventMap,
  type RuntimeOptions,
} from '../src/index.js';
import { RedisReservationStore, RedisSessionLock, RedisSessionStore } from '../src/redis.js';
import { REDIS_URL, connectTestRedis, dropTestKeys, testPrefix } from './helpers/redis.js';
import { RedisCutter } from './helpers/redis-cutter.js';

const prefix = testPrefix();
const CARD = '4916338506082832';
const CVV = '737';
const takePayment = parse(readFileSync(join(import.meta.dirname, 'fixtures', 'take-payment.yaml'), 'utf8')) as Flow;
const secrets = keyRing({ k: Buffer.alloc(32, 9) }, 'k');

let direct: Redis;
let cutter: RedisCutter;
let port: number;
const clients: Redis[] = [];

beforeAll(async () => {
  direct = await connectTestRedis();
  const target = new URL(REDIS_URL);
  cutter = new RedisCutter({ host: target.hostname, port: Number(target.port || 6379) });
  port = await cutter.start();
});

afterEach(() => cutter.restore());

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await cutter.close();
  await dropTestKeys(direct, prefix);
});

/** A client through the cutter that fails at once while cut and reconnects soon after. */
async function clientThroughCutter(): Promise<Redis> {
  const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => 20 });
  client.on('error', () => undefined);
  clients.push(client);
  await client.connect();
  return client;
}

/** Cut, and wait until the client noticed (its next command fails at once). */
async function cut(client: Redis): Promise<void> {
  const closed = new Promise((resolve) => client.once('close', resolve));
  cutter.cut();
  await closed;
}

/** Restore, and wait until the client is connected again. */
async function restore(client: Redis): Promise<void> {
  const ready = client.status === 'ready' ? Promise.resolve() : new Promise((resolve) => client.once('ready', resolve));
  cutter.restore();
  await ready;
}

class RecordingMirror implements ReservationMirror {
  readonly releases: { agentId: string; reason: ReleaseReason }[] = [];
  async reserved(_reservation: Reservation): Promise<void> {}
  async released(reservation: Reservation, reason: ReleaseReason): Promise<void> {
    this.releases.push({ agentId: reservation.agentId, reason });
  }
}

function setup(client: Redis, extra: Partial<RuntimeOptions> & { onCharge?: () => void } = {}) {
  const { onCharge, ...rest } = extra;
  const chargeCard = defineAction({
    name: 'chargeCard',
    secure: true,
    input: z.object({ card: z.string(), cvv: z.string(), amount: z.number() }),
    output: z.object({ reference: z.string() }),
    handler: async () => {
      onCharge?.();
      return { reference: 'PAY-0042' };
    },
  });
  const store = new RedisSessionStore(client, { prefix });
  const reservations = new RedisReservationStore(client, { prefix });
  const mirror = new RecordingMirror();
  const runtime = createRuntime({
    flows: [takePayment],
    actions: [chargeCard],
    store,
    reservations,
    sessionLock: new RedisSessionLock(client, { prefix }),
    reservationMirror: mirror,
    secrets,
    ...rest,
  });
  const events: { name: string; payload: unknown }[] = [];
  for (const name of ['error', 'reservation.released', 'session.ended', 'secure.exited'] as const) {
    runtime.events.on(name, (payload: RuntimeEventMap[typeof name]) => events.push({ name, payload }));
  }
  return { runtime, store, reservations, mirror, events };
}

/** Everything the run left in Redis, keys and values. */
async function everythingInRedis(): Promise<string> {
  const out: string[] = [];
  for (const key of await direct.keys(`${prefix}:*`)) {
    const type = await direct.type(key);
    out.push(key, type === 'hash' ? JSON.stringify(await direct.hgetall(key)) : ((await direct.get(key)) ?? ''));
  }
  return out.join('\n');
}

describe('a secure call when Redis becomes unreachable', () => {
  it('fails the turn with STORE_UNAVAILABLE, then ends the session and frees the agent on sweep once Redis is back', async () => {
    const client = await clientThroughCutter();
    const { runtime, store, reservations, mirror, events } = setup(client);
    const start = await runtime.startSecureSession({ conversationId: 'conv-1', agentId: 'agent-outage-1', flow: 'take-payment', inputs: { amount: 25.5 }, reserveAgent: true });
    const id = start.sessionId;
    const card = await runtime.handle(id, { type: 'digits', digits: `${CARD}#` }, { requestId: '1' });
    expect(card.status).toBe('waiting');
    expect(await direct.exists(reservations.keyOf('agent-outage-1'))).toBe(1);

    await cut(client);
    const failure = await runtime.handle(id, { type: 'digits', digits: CVV }, { requestId: '2' }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(StoreUnavailableError);
    const errors = events.filter((e) => e.name === 'error').map((e) => e.payload as RuntimeEventMap['error']);
    expect(errors).toEqual([expect.objectContaining({ code: 'STORE_UNAVAILABLE', sessionId: id })]);
    // No host, port, or value in what listeners get.
    expect(errors[0]!.message).not.toMatch(/127\.0\.0\.1|localhost|\d{4,}/);

    // Still unreachable: nothing to do yet, and nothing thrown.
    expect(await runtime.sweep()).toBe(0);
    expect(await direct.exists(reservations.keyOf('agent-outage-1'))).toBe(1);

    await restore(client);
    expect(await runtime.sweep()).toBe(1);
    expect(await runtime.isReserved('agent-outage-1')).toBe(false);
    expect(await direct.exists(reservations.keyOf('agent-outage-1'))).toBe(0);
    expect(mirror.releases).toEqual([{ agentId: 'agent-outage-1', reason: 'error' }]);
    const view = await runtime.inspect(id);
    expect(view).toMatchObject({ status: 'ended', end: { type: 'error', code: 'STORE_UNAVAILABLE' } });
    expect(view?.agent).toBeUndefined();
    // The secure slot is wiped: nothing sealed is left in the stored session.
    const stored = JSON.parse((await direct.hget(store.keyOf(id), 'd'))!) as Record<string, unknown>;
    expect(stored.sealed).toBeUndefined();
    expect(events.map((e) => e.name)).toEqual(['error', 'reservation.released', 'secure.exited', 'session.ended']);
    expect(events.find((e) => e.name === 'reservation.released')?.payload).toMatchObject({ agentId: 'agent-outage-1', reason: 'error' });
    // Recovered once: a later sweep has nothing left to do.
    expect(await runtime.sweep()).toBe(0);

    const all = (await everythingInRedis()) + JSON.stringify(events);
    expect((all).includes(CARD), 'must not be there').toBe(false);
    expect((all).includes(CARD.slice(-8)), 'must not be there').toBe(false);
  });

  it('recovers on its timer a turn whose writes failed after its data action ran', async () => {
    const client = await clientThroughCutter();
    let cutDuringCharge: Promise<void> | undefined;
    const { runtime, reservations, events } = setup(client, {
      recoveryIntervalMs: 20,
      // The lock the dying turn could not release lapses soon, so recovery is not held up by it.
      sessionLockTtlMs: 300,
      onCharge: () => {
        cutDuringCharge = cut(client);
      },
    });
    const start = await runtime.startSecureSession({ conversationId: 'conv-2', agentId: 'agent-outage-2', flow: 'take-payment', inputs: { amount: 10 }, reserveAgent: true });
    const id = start.sessionId;
    await runtime.handle(id, { type: 'digits', digits: `${CARD}#` }, { requestId: '1' });

    const failure = await runtime.handle(id, { type: 'digits', digits: CVV }, { requestId: '2' }).catch((error: unknown) => error);
    await cutDuringCharge;
    expect(failure).toMatchObject({ code: 'STORE_UNAVAILABLE' });
    // Once for the turn, though both the release of the agent and the write failed.
    expect(events.filter((e) => e.name === 'error').map((e) => (e.payload as { code: string }).code)).toEqual(['STORE_UNAVAILABLE']);
    expect(await direct.exists(reservations.keyOf('agent-outage-2'))).toBe(1);

    const released = new Promise<RuntimeEventMap['reservation.released']>((resolve) => runtime.events.on('reservation.released', resolve));
    const ended = new Promise<RuntimeEventMap['session.ended']>((resolve) => {
      runtime.events.on('session.ended', (e) => {
        if (e.end.type === 'error') resolve(e);
      });
    });
    await restore(client);
    expect(await released).toMatchObject({ sessionId: id, agentId: 'agent-outage-2', reason: 'error' });
    expect((await ended).end).toMatchObject({ type: 'error', code: 'STORE_UNAVAILABLE' });
    expect(await direct.exists(reservations.keyOf('agent-outage-2'))).toBe(0);
    expect(await runtime.inspect(id)).toMatchObject({ status: 'ended' });
    await runtime.shutdown();
    expect((await everythingInRedis()).includes(CARD), 'must not be there').toBe(false);
  });

  it('refuses a new secure session while Redis is unreachable, and reserves nothing', async () => {
    const client = await clientThroughCutter();
    const { runtime, events } = setup(client);
    await cut(client);
    const failure = await runtime
      .startSecureSession({ conversationId: 'conv-3', agentId: 'agent-outage-3', flow: 'take-payment', inputs: { amount: 1 }, reserveAgent: true })
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(StoreUnavailableError);
    expect(events.filter((e) => e.name === 'error')).toHaveLength(1);
    await restore(client);
    expect(await runtime.sweep()).toBe(0);
    expect(await runtime.isReserved('agent-outage-3')).toBe(false);
  });
});
