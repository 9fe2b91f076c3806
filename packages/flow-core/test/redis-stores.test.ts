/**
 * The Redis stores against a real Redis on 127.0.0.1:6379 (CI starts one where none runs).
 * These tests never skip: without Redis they fail, and say why.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, createRuntime, keyRing, type Flow } from '../src/index.js';
import { RedisReservationStore, RedisSessionStore } from '../src/redis.js';
import { connectTestRedis, dropTestKeys, testPrefix } from './helpers/redis.js';

const prefix = testPrefix();
let redis: Redis;

beforeAll(async () => {
  redis = await connectTestRedis();
});

afterAll(async () => {
  await dropTestKeys(redis, prefix);
});

describe('RedisSessionStore', () => {
  it('creates, reads and updates a session with versions', async () => {
    const s = new RedisSessionStore(redis, { prefix });
    expect(await s.put('s1', 'v1', { expectedVersion: undefined, ttlMs: 60_000 })).toEqual({ ok: true, version: 1 });
    expect(await s.get('s1')).toEqual({ value: 'v1', version: 1 });
    expect(await s.put('s1', 'v2', { expectedVersion: 1, ttlMs: 60_000 })).toEqual({ ok: true, version: 2 });
    expect(await s.get('s1')).toEqual({ value: 'v2', version: 2 });
  });

  it('refuses a write from a turn that read an old version, and a second create', async () => {
    const s = new RedisSessionStore(redis, { prefix });
    await s.put('s2', 'a', { expectedVersion: undefined, ttlMs: 60_000 });
    await s.put('s2', 'b', { expectedVersion: 1, ttlMs: 60_000 });
    expect(await s.put('s2', 'stale', { expectedVersion: 1, ttlMs: 60_000 })).toEqual({ ok: false, reason: 'conflict', currentVersion: 2 });
    expect(await s.put('s2', 'again', { expectedVersion: undefined, ttlMs: 60_000 })).toMatchObject({ ok: false, currentVersion: 2 });
    expect((await s.get('s2'))?.value).toBe('b');
  });

  it('lets exactly one of many concurrent writers of the same version win', async () => {
    const s = new RedisSessionStore(redis, { prefix });
    await s.put('s3', 'base', { expectedVersion: undefined, ttlMs: 60_000 });
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => s.put('s3', `w${i}`, { expectedVersion: 1, ttlMs: 60_000 })));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
  });

  it('keys a session with a cluster hash tag and sets its TTL', async () => {
    const s = new RedisSessionStore(redis, { prefix });
    expect(s.keyOf('abc')).toBe(`${prefix}:{abc}:session`);
    await s.put('s4', 'x', { expectedVersion: undefined, ttlMs: 5_000 });
    const ttl = await redis.pttl(s.keyOf('s4'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(5_000);
    await s.delete('s4');
    expect(await s.get('s4')).toBeUndefined();
  });

  it('reports an unreachable Redis as StoreUnavailableError', async () => {
    const dead = new Redis('redis://127.0.0.1:1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    const s = new RedisSessionStore(dead, { prefix });
    await expect(s.get('x')).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    dead.disconnect();
  });
});

describe('RedisReservationStore', () => {
  it('holds an agent for one session at a time, releasable only by its token', async () => {
    const r = new RedisReservationStore(redis, { prefix });
    const a = (await r.reserve('agent-1', 's1', 60_000))!;
    expect(a.sessionId).toBe('s1');
    expect(await r.reserve('agent-1', 's2', 60_000)).toBeUndefined();
    expect((await r.reserve('agent-1', 's1', 60_000))?.token).toBe(a.token);
    expect(await r.release('agent-1', 'wrong')).toBe(false);
    expect(await r.release('agent-1', a.token)).toBe(true);
    expect(await r.get('agent-1')).toBeUndefined();
  });

  it('lets the lease run out on its own, and renews only for the holder', async () => {
    const r = new RedisReservationStore(redis, { prefix });
    const a = (await r.reserve('agent-2', 's1', 150))!;
    expect(await r.renew('agent-2', 'wrong', 60_000)).toBe(false);
    await new Promise((res) => setTimeout(res, 250));
    expect(await r.get('agent-2')).toBeUndefined();
    expect(await r.renew('agent-2', a.token, 60_000)).toBe(false);
    const b = (await r.reserve('agent-2', 's2', 60_000))!;
    expect(await r.renew('agent-2', b.token, 120_000)).toBe(true);
    expect(await redis.pttl(r.keyOf('agent-2'))).toBeGreaterThan(60_000);
    // The lapsed holder cannot end the new reservation.
    expect(await r.release('agent-2', a.token)).toBe(false);
    expect((await r.get('agent-2'))?.sessionId).toBe('s2');
  });

  it('lists the live reservations with SCAN', async () => {
    const r = new RedisReservationStore(redis, { prefix });
    await r.reserve('agent-3', 's3', 60_000);
    await r.reserve('agent-4', 's4', 60_000);
    const agents = (await r.list()).map((x) => x.agentId);
    expect(agents).toEqual(expect.arrayContaining(['agent-3', 'agent-4']));
  });
});

describe('a runtime on Redis', () => {
  const flow = {
    flow: 'pay', kind: 'secure', reservation: 'agent', start: 'ask',
    variables: { card: { type: 'string', secure: true } },
    states: {
      ask: { collect: { prompt: 'Card?', into: 'card', validate: 'luhn' }, on: { success: 'back', failure: 'back' } },
      back: { returnToAgent: null },
    },
  } as unknown as Flow;

  it('carries a secure call across two runtimes sharing Redis, with the card sealed and the agent released', async () => {
    const secrets = keyRing({ k: Buffer.alloc(32, 3) }, 'k');
    const clock = new ManualClock(Date.now());
    const store = new RedisSessionStore(redis, { prefix });
    const reservations = new RedisReservationStore(redis, { prefix, now: () => clock.now() });
    const workerA = createRuntime({ flows: [flow], store, reservations, secrets, clock });
    const workerB = createRuntime({ flows: [flow], store, reservations, secrets, clock });
    const t1 = await workerA.startSecureSession({ conversationId: 'c', agentId: 'agent-9', flow: 'pay', reserveAgent: true });
    expect(await workerB.isReserved('agent-9')).toBe(true);
    const raw = await redis.hget(store.keyOf(t1.sessionId), 'd');
    const t2 = await workerB.handle(t1.sessionId, { type: 'digits', digits: '4916338506082832' });
    expect(t2.end?.type).toBe('returnToAgent');
    expect(await workerA.isReserved('agent-9')).toBe(false);
    const all = (await redis.keys(`${prefix}:*`)).join(' ') + raw + ((await redis.hget(store.keyOf(t1.sessionId), 'd')) ?? '');
    expect((all).includes('4916338506082832'), 'must not be there').toBe(false);
  });
});
