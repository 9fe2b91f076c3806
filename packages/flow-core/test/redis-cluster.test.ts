/**
 * The Redis stores and the session lock on a real Redis Cluster: three masters started for this
 * file (`helpers/redis-cluster.ts`; without `redis-server` and `redis-cli` it fails, saying so).
 * Everything one session owns is hash-tagged `{<sessionId>}`, so it lives in one slot; sessions
 * and agents spread over every master; the Lua scripts (compare-and-set, release by token) run
 * where their key lives; listing reservations scans every master. A secure call whose turns
 * alternate between two runtimes leaves no card number or security code in clear on any master.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis, type Cluster } from 'ioredis';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createRuntime, defineAction, keyRing, type Flow, type Runtime } from '../src/index.js';
import { RedisReservationStore, RedisSessionLock, RedisSessionStore } from '../src/redis.js';
import { startRedisCluster, type TestRedisCluster } from './helpers/redis-cluster.js';
import { testPrefix } from './helpers/redis.js';

const prefix = testPrefix();
const CARD = '4916338506082832';
const CVV = '737';
const takePayment = parse(readFileSync(join(import.meta.dirname, 'fixtures', 'take-payment.yaml'), 'utf8')) as Flow;
const secrets = keyRing({ k: Buffer.alloc(32, 21) }, 'k');

let cluster: TestRedisCluster | undefined;
let redis: Cluster;
const clients: Cluster[] = [];
/** Each master's slot range, from CLUSTER SLOTS. */
let ranges: { from: number; to: number; port: number }[] = [];

/**
 * A cluster client as a worker would make one: connected, or (`ready: false`) still connecting.
 * `seeds`: the nodes it is given to start from (default every master).
 */
async function connect(options: { ready?: boolean; seeds?: { host: string; port: number }[] } = {}): Promise<Cluster> {
  const ready = options.ready !== false;
  const client = new Redis.Cluster(options.seeds ?? cluster!.nodes, { lazyConnect: ready, redisOptions: { maxRetriesPerRequest: 1, connectTimeout: 2_000 } });
  client.on('error', () => undefined);
  clients.push(client);
  if (ready) await client.connect();
  return client;
}

beforeAll(async () => {
  cluster = await startRedisCluster();
  redis = await connect();
  ranges = (await redis.cluster('SLOTS')).map(([from, to, master]) => ({ from, to, port: master![1] }));
}, 20_000);

afterAll(async () => {
  for (const client of clients) client.disconnect();
  await cluster?.stop();
});

const slotOf = async (key: string): Promise<number> => Number(await redis.cluster('KEYSLOT', key));

/** The port of the master that serves the key's slot. */
async function masterOf(key: string): Promise<number> {
  const slot = await slotOf(key);
  const range = ranges.find((r) => slot >= r.from && slot <= r.to);
  if (!range) throw new Error(`no master serves slot ${slot}`);
  return range.port;
}

/** A plain connection to one master (ioredis keeps one per node). */
function node(port: number): Redis {
  const found = redis.nodes('master').find((n) => n.options.port === port);
  if (!found) throw new Error(`no master on port ${port}`);
  return found;
}

/** Wait (bounded) until `check` holds: for a TTL to run out, never as a timing assertion. */
async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('the test cluster', () => {
  it('has three masters that share the 16384 slots', () => {
    expect(new Set(ranges.map((r) => r.port)).size).toBe(3);
    expect(ranges.reduce((n, r) => n + r.to - r.from + 1, 0)).toBe(16_384);
  });
});

describe('RedisSessionStore on a Redis Cluster', () => {
  it('creates and updates a session with versions, refuses a stale write and a second create, and sets its TTL', async () => {
    const s = new RedisSessionStore(redis, { prefix });
    expect(await s.put('call-1', 'v1', { expectedVersion: undefined, ttlMs: 60_000 })).toEqual({ ok: true, version: 1 });
    expect(await s.put('call-1', 'v2', { expectedVersion: 1, ttlMs: 60_000 })).toEqual({ ok: true, version: 2 });
    expect(await s.get('call-1')).toEqual({ value: 'v2', version: 2 });
    expect(await s.put('call-1', 'stale', { expectedVersion: 1, ttlMs: 60_000 })).toEqual({ ok: false, reason: 'conflict', currentVersion: 2 });
    expect(await s.put('call-1', 'again', { expectedVersion: undefined, ttlMs: 60_000 })).toMatchObject({ ok: false, currentVersion: 2 });
    expect((await s.get('call-1'))?.value).toBe('v2');
    const ttl = await redis.pttl(s.keyOf('call-1'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
    await s.delete('call-1');
    expect(await s.get('call-1')).toBeUndefined();
  });

  it('lets exactly one of 20 concurrent writers of the same version win', async () => {
    const s = new RedisSessionStore(redis, { prefix });
    await s.put('call-2', 'base', { expectedVersion: undefined, ttlMs: 60_000 });
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => s.put('call-2', `w${i}`, { expectedVersion: 1, ttlMs: 60_000 })));
    const winners = results.flatMap((r, i) => (r.ok ? [i] : []));
    expect(winners).toHaveLength(1);
    expect(results.filter((r) => !r.ok)).toEqual(Array.from({ length: 19 }, () => ({ ok: false, reason: 'conflict', currentVersion: 2 })));
    expect(await s.get('call-2')).toEqual({ value: `w${winners[0]}`, version: 2 });
  });

  it('works for sessions whose keys live on different masters, each key on the master of its slot', async () => {
    const s = new RedisSessionStore(redis, { prefix });
    const ids = Array.from({ length: 9 }, (_, i) => `call-spread-${i}`);
    const owners = new Map<string, number>();
    for (const id of ids) owners.set(id, await masterOf(s.keyOf(id)));
    expect(new Set(owners.values()).size).toBeGreaterThanOrEqual(2);

    await Promise.all(ids.map((id) => s.put(id, `first ${id}`, { expectedVersion: undefined, ttlMs: 60_000 })));
    await Promise.all(ids.map((id) => s.put(id, `second ${id}`, { expectedVersion: 1, ttlMs: 60_000 })));
    for (const id of ids) {
      expect(await s.get(id)).toEqual({ value: `second ${id}`, version: 2 });
      // The key sits on its slot's master; another master redirects (a real cluster, not one Redis).
      const owner = owners.get(id)!;
      expect(await node(owner).hget(s.keyOf(id), 'v')).toBe('2');
      const other = ranges.find((r) => r.port !== owner)!.port;
      await expect(node(other).hget(s.keyOf(id), 'v')).rejects.toThrow(/MOVED/);
    }
  });
});

describe('RedisSessionLock on a Redis Cluster', () => {
  it('keeps a session and its lock in one slot (the {id} hash tag), whatever the prefix', async () => {
    const s = new RedisSessionStore(redis, { prefix });
    const lock = new RedisSessionLock(redis, { prefix });
    for (const id of ['call-1', 'CA0123456789abcdef', 'a-much-longer-session-id-7f3e']) {
      expect(await slotOf(lock.keyOf(id))).toBe(await slotOf(s.keyOf(id)));
      expect(await slotOf(new RedisSessionLock(redis, { prefix: 'other' }).keyOf(id))).toBe(await slotOf(s.keyOf(id)));
    }
  });

  it('makes a second holder wait until the first releases', async () => {
    const a = new RedisSessionLock(await connect(), { prefix });
    const b = new RedisSessionLock(await connect(), { prefix });
    const first = await a.acquire('call-lock-1', { ttlMs: 10_000, waitMs: 0 });
    expect(first).toBeDefined();
    expect(await b.acquire('call-lock-1', { ttlMs: 10_000, waitMs: 0 })).toBeUndefined();
    const order: string[] = [];
    const second = b.acquire('call-lock-1', { ttlMs: 10_000, waitMs: 5_000 }).then((held) => {
      order.push('second holds it');
      return held;
    });
    // Round trips while the first still holds it: the second keeps trying and must not get it.
    for (let i = 0; i < 5; i++) await redis.ping();
    order.push('first releases');
    await first!.release();
    const held = await second;
    expect(held).toBeDefined();
    expect(order).toEqual(['first releases', 'second holds it']);
    await held!.release();
    expect(await redis.exists(a.keyOf('call-lock-1'))).toBe(0);
  });

  it('serializes two workers updating one session: no update lost, never two holders at once', async () => {
    const workers = [new RedisSessionLock(await connect(), { prefix }), new RedisSessionLock(await connect(), { prefix })];
    const counter = `${prefix}:{call-lock-2}:counter`;
    expect(await slotOf(counter)).toBe(await slotOf(workers[0]!.keyOf('call-lock-2')));
    const log: string[] = [];
    await Promise.all(
      workers.map(async (lock, w) => {
        for (let i = 0; i < 6; i++) {
          const held = await lock.acquire('call-lock-2', { ttlMs: 10_000, waitMs: 10_000 });
          if (!held) throw new Error('the lock was not granted');
          log.push(`take ${w}`);
          // Read, yield, write: without the lock the other worker's update would be lost here.
          const n = Number((await redis.get(counter)) ?? 0);
          await redis.ping();
          await redis.set(counter, String(n + 1));
          log.push(`release ${w}`);
          await held.release();
        }
      }),
    );
    expect(await redis.get(counter)).toBe('12');
    for (let i = 0; i < log.length; i += 2) expect([log[i], log[i + 1]]).toEqual([log[i], log[i]!.replace('take', 'release')]);
  });

  it('is released only by its token: a holder whose lock lapsed can neither release nor extend the next one', async () => {
    const a = new RedisSessionLock(redis, { prefix });
    const b = new RedisSessionLock(redis, { prefix });
    const key = a.keyOf('call-lock-3');
    const lapsed = (await a.acquire('call-lock-3', { ttlMs: 100, waitMs: 0 }))!;
    await until('the lock to lapse', async () => (await redis.exists(key)) === 0);
    const current = (await b.acquire('call-lock-3', { ttlMs: 10_000, waitMs: 0 }))!;
    expect(current).toBeDefined();
    await lapsed.release();
    expect(await lapsed.extend(10_000)).toBe(false);
    expect(await redis.exists(key)).toBe(1);
    expect(await a.acquire('call-lock-3', { ttlMs: 10_000, waitMs: 0 })).toBeUndefined();
    expect(await current.extend(20_000)).toBe(true);
    expect(await redis.pttl(key)).toBeGreaterThan(10_000);
    await current.release();
    expect(await redis.exists(key)).toBe(0);
  });
});

describe('RedisReservationStore on a Redis Cluster', () => {
  it('reserves an agent with SET NX, refuses a second session, and is released only by the token owner', async () => {
    const r = new RedisReservationStore(redis, { prefix });
    const held = (await r.reserve('agent-1', 'call-a', 60_000))!;
    expect(held).toMatchObject({ agentId: 'agent-1', sessionId: 'call-a' });
    expect(await r.reserve('agent-1', 'call-b', 60_000)).toBeUndefined();
    expect((await r.reserve('agent-1', 'call-a', 60_000))?.token).toBe(held.token);
    expect(await r.renew('agent-1', 'not-the-token', 120_000)).toBe(false);
    expect(await r.renew('agent-1', held.token, 120_000)).toBe(true);
    expect(await redis.pttl(r.keyOf('agent-1'))).toBeGreaterThan(60_000);
    expect(await r.release('agent-1', 'not-the-token')).toBe(false);
    expect((await r.get('agent-1'))?.sessionId).toBe('call-a');
    expect(await r.release('agent-1', held.token)).toBe(true);
    expect(await r.get('agent-1')).toBeUndefined();
    expect(await r.release('agent-1', held.token)).toBe(false);
  });

  it('lists the reservations of every master, also from a worker whose cluster client is not ready yet', async () => {
    const listPrefix = `${prefix}-list`;
    const r = new RedisReservationStore(redis, { prefix: listPrefix });
    const agents = Array.from({ length: 9 }, (_, i) => `agent-list-${i}`);
    const owners = new Set<number>();
    for (const agent of agents) owners.add(await masterOf(r.keyOf(agent)));
    expect(owners.size).toBeGreaterThanOrEqual(2);
    for (const agent of agents) expect(await r.reserve(agent, `call-${agent}`, 60_000)).toBeDefined();

    const listed = (await r.list()).map((x) => x.agentId).sort();
    expect(listed).toEqual([...agents].sort());
    // A worker that lists at once, its client given one seed node and not yet ready: it knows
    // the seed alone until it has read the cluster's slots, and must list every master all the same.
    const fresh = await connect({ ready: false, seeds: [cluster!.nodes[0]!] });
    expect(fresh.status).not.toBe('ready');
    expect((await new RedisReservationStore(fresh, { prefix: listPrefix }).list()).map((x) => x.agentId).sort()).toEqual([...agents].sort());

    for (const x of await r.list()) expect(await r.release(x.agentId, x.token)).toBe(true);
    expect(await r.list()).toEqual([]);
  });
});

describe('a runtime over a Redis Cluster', () => {
  /** Two workers: runtimes with their own cluster clients, stores and lock, one key ring. */
  async function workers(charged: { withTheCard: number }) {
    const chargeCard = defineAction({
      name: 'chargeCard',
      secure: true,
      input: z.object({ card: z.string(), cvv: z.string(), amount: z.number() }),
      output: z.object({ reference: z.string() }),
      handler: async ({ card, cvv }) => {
        // The card keyed in on one worker reaches the action on the other: sealed in between.
        if (card === CARD && cvv === CVV) charged.withTheCard++;
        return { reference: 'PAY-0042' };
      },
    });
    const make = async (): Promise<Runtime> => {
      const client = await connect();
      return createRuntime({
        flows: [takePayment],
        actions: [chargeCard],
        store: new RedisSessionStore(client, { prefix }),
        reservations: new RedisReservationStore(client, { prefix }),
        sessionLock: new RedisSessionLock(client, { prefix }),
        secrets,
      });
    };
    return [await make(), await make()] as const;
  }

  it('takes an agent-side card payment with turns alternating between two workers, returns to the agent, and leaves no secure value in clear on any master', async () => {
    const charged = { withTheCard: 0 };
    const [a, b] = await workers(charged);
    const agentId = 'agent-cluster-1';
    const start = await a.startSecureSession({ conversationId: 'conv-cluster-1', agentId, flow: 'take-payment', inputs: { amount: 25.5 }, reserveAgent: true });
    expect(start.status).toBe('waiting');
    expect(await b.isReserved(agentId)).toBe(true);
    const store = new RedisSessionStore(redis, { prefix });
    expect(await slotOf(new RedisSessionLock(redis, { prefix }).keyOf(start.sessionId))).toBe(await slotOf(store.keyOf(start.sessionId)));

    const card = await b.handle(start.sessionId, { type: 'digits', digits: `${CARD}#` }, { requestId: '1' });
    expect(card.status).toBe('waiting');
    const done = await a.handle(start.sessionId, { type: 'digits', digits: CVV }, { requestId: '2' });
    expect(done.status).toBe('ended');
    expect(done.end).toEqual({ type: 'returnToAgent', outputs: { paymentRef: 'PAY-0042', cardLast4: '2832' } });
    expect(charged.withTheCard).toBe(1);
    expect(await a.isReserved(agentId)).toBe(false);
    expect(await b.isReserved(agentId)).toBe(false);
    expect(await redis.exists(new RedisReservationStore(redis, { prefix }).keyOf(agentId))).toBe(0);
    expect(await b.inspect(start.sessionId)).toMatchObject({ status: 'ended', end: { type: 'returnToAgent' } });

    // Controls first: a clear card number and code written on every master must be found there.
    const controls = await controlKeysOnEveryMaster();
    for (const key of controls) await redis.hset(key, 'd', JSON.stringify({ vars: { cvv: CVV, card: CARD.replace(/(\d{4})(?=\d)/g, '$1 ') } }));
    try {
      const found = await clearSecretsOnEveryMaster();
      expect(found.scannedMasters).toBe(3);
      expect(found.keys).toBeGreaterThan(controls.length);
      expect(found.hits.filter((h) => !controls.includes(h.key))).toEqual([]);
      expect(found.hits.filter((h) => controls.includes(h.key)).map((h) => `${h.key} ${h.what}`).sort()).toEqual(
        controls.flatMap((key) => [`${key} card number`, `${key} security code`]).sort(),
      );
    } finally {
      await Promise.all(controls.map((key) => redis.del(key)));
    }
  });
});

/** One key of this file's prefix on each master (hash tags picked by their slot). */
async function controlKeysOnEveryMaster(): Promise<string[]> {
  const byMaster = new Map<number, string>();
  for (let i = 0; byMaster.size < ranges.length; i++) {
    if (i > 200) throw new Error('found no hash tag for every master');
    const key = `${prefix}:{control-${i}}:leak`;
    const port = await masterOf(key);
    if (!byMaster.has(port)) byMaster.set(port, key);
  }
  return [...byMaster.values()];
}

/**
 * SCAN every master for this file's keys and read every value: a card number counts wherever
 * its digits appear in a row (also with spaces or dashes between them); the short security code
 * only as a whole token, since sealed values are base64 and may hold any three digits by chance.
 * The hits name the key and the kind of value, never the value.
 */
async function clearSecretsOnEveryMaster(): Promise<{ scannedMasters: number; keys: number; hits: { key: string; what: string }[] }> {
  const hits: { key: string; what: string }[] = [];
  let keys = 0;
  const masters = redis.nodes('master');
  for (const master of masters) {
    let cursor = '0';
    do {
      const [next, batch] = await master.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      for (const key of batch) {
        keys++;
        const type = await master.type(key);
        const value = type === 'hash' ? JSON.stringify(await master.hgetall(key)) : type === 'string' ? ((await master.get(key)) ?? '') : '';
        const text = `${key}\n${value}`;
        if (text.replace(/(\d)[ -](?=\d)/g, '$1').includes(CARD)) hits.push({ key, what: 'card number' });
        if (text.split(/[^A-Za-z0-9+/=_-]+/).includes(CVV)) hits.push({ key, what: 'security code' });
      }
    } while (cursor !== '0');
  }
  return { scannedMasters: masters.length, keys, hits };
}
