/**
 * Turns of one session across workers, against a real Redis on 127.0.0.1:6379 (CI starts one
 * where none runs; without it these tests fail and say why). Two runtimes share one Redis, as
 * two webhook workers would: the session lock serializes their turns of one call, and the
 * store's version check stays the fence behind it.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ConcurrentTurnError,
  createRuntime,
  defineAction,
  keyRing,
  type Flow,
  type PutOptions,
  type PutResult,
  type Runtime,
  type RuntimeOptions,
  type SessionStore,
  type StoredSession,
} from '../src/index.js';
import { RedisSessionLock, RedisSessionStore } from '../src/redis.js';
import { connectTestRedis, dropTestKeys, testPrefix } from './helpers/redis.js';

const prefix = testPrefix();
let redis: Redis;

beforeAll(async () => {
  redis = await connectTestRedis();
});

afterAll(async () => {
  await dropTestKeys(redis, prefix);
});

/** Every keyed-in number is tallied by a data action, then counted in the session. */
const counter = {
  flow: 'counter',
  kind: 'inbound',
  start: 'ask',
  variables: { n: { type: 'number', default: 0 }, last: { type: 'string', default: '' } },
  states: {
    ask: { collect: { prompt: 'Key a number.', into: 'last', attempts: 3 }, on: { success: 'tally', failure: 'ask' } },
    tally: { invoke: { action: 'tally', input: { value: 'last' } }, on: { success: 'bump', error: 'bump', timeout: 'bump' } },
    bump: { set: { n: 'n + 1.0' }, next: 'ask' },
  },
} as unknown as Flow;

/** The same count without a data action: a turn that may simply run again. */
const quiet = {
  flow: 'quiet',
  kind: 'inbound',
  start: 'ask',
  variables: { n: { type: 'number', default: 0 }, last: { type: 'string', default: '' } },
  states: {
    ask: { collect: { prompt: 'Key a number.', into: 'last', attempts: 3 }, on: { success: 'bump', failure: 'ask' } },
    bump: { set: { n: 'n + 1.0' }, next: 'ask' },
  },
} as unknown as Flow;

const secrets = keyRing({ k: Buffer.alloc(32, 5) }, 'k');

function workers(tallied: string[], extra: Partial<RuntimeOptions> = {}, store: SessionStore = new RedisSessionStore(redis, { prefix })) {
  const tally = defineAction({
    name: 'tally',
    input: z.object({ value: z.string() }),
    output: z.object({}),
    handler: async ({ value }) => {
      tallied.push(value);
      // Yield a few times: the other worker's turns get every chance to interleave.
      for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
      return {};
    },
  });
  const options: RuntimeOptions = {
    flows: [counter, quiet],
    actions: [tally],
    store,
    secrets,
    sessionLock: new RedisSessionLock(redis, { prefix }),
    ...extra,
  };
  return [createRuntime(options), createRuntime(options)] as const;
}

async function countOf(runtime: Runtime, sessionId: string): Promise<number> {
  const view = await runtime.inspect(sessionId);
  return view?.frames[0]?.vars.n as number;
}

const versionOf = async (sessionId: string) => Number(await redis.hget(new RedisSessionStore(redis, { prefix }).keyOf(sessionId), 'v'));

describe('RedisSessionLock', () => {
  it('is held by one holder at a time, under the session hash tag', async () => {
    const lock = new RedisSessionLock(redis, { prefix });
    expect(lock.keyOf('s1')).toBe(`${prefix}:{s1}:lock`);
    const first = await lock.acquire('s1', { ttlMs: 10_000, waitMs: 0 });
    expect(first).toBeDefined();
    expect(await lock.acquire('s1', { ttlMs: 10_000, waitMs: 0 })).toBeUndefined();
    await first!.release();
    const second = await lock.acquire('s1', { ttlMs: 10_000, waitMs: 0 });
    expect(second).toBeDefined();
    await second!.release();
    expect(await redis.exists(lock.keyOf('s1'))).toBe(0);
  });

  it('passes to a waiter when the holder releases', async () => {
    const lock = new RedisSessionLock(redis, { prefix });
    const first = (await lock.acquire('s2', { ttlMs: 10_000, waitMs: 0 }))!;
    const waiting = lock.acquire('s2', { ttlMs: 10_000, waitMs: 10_000 });
    await first.release();
    const second = await waiting;
    expect(second).toBeDefined();
    expect(await second!.extend(10_000)).toBe(true);
    await second!.release();
  });

  it('lapses when its holder dies, and the dead holder can neither release nor extend the next lock', async () => {
    const lock = new RedisSessionLock(redis, { prefix });
    // A worker takes the lock and dies: nobody releases it.
    const dead = (await lock.acquire('s3', { ttlMs: 100, waitMs: 0 }))!;
    const next = await lock.acquire('s3', { ttlMs: 10_000, waitMs: 10_000 });
    expect(next).toBeDefined();
    expect(await dead.extend(10_000)).toBe(false);
    await dead.release();
    expect(await redis.exists(lock.keyOf('s3'))).toBe(1);
    await next!.release();
    expect(await redis.exists(lock.keyOf('s3'))).toBe(0);
  });

  it('reports an unreachable Redis as StoreUnavailableError', async () => {
    const gone = new Redis('redis://127.0.0.1:1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    const lock = new RedisSessionLock(gone, { prefix });
    const failure = await lock.acquire('x', { ttlMs: 1000, waitMs: 0 }).catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: 'STORE_UNAVAILABLE' });
    expect((String((failure as Error).message)).includes('\n'), 'must not be there').toBe(false);
    gone.disconnect();
  });
});

describe('turns of one session on two workers sharing Redis', () => {
  it('applies every one of many concurrent turns exactly once, in consecutive versions', async () => {
    const tallied: string[] = [];
    const [a, b] = workers(tallied);
    const start = await a.startSession({ flow: 'counter' });
    const id = start.sessionId;
    expect(await versionOf(id)).toBe(1);
    const turns = 24;
    const results = await Promise.all(
      Array.from({ length: turns }, (_, i) => (i % 2 === 0 ? a : b).handle(id, { type: 'digits', digits: String(100 + i) }, { requestId: `r${i}` })),
    );
    // Every turn answered (none refused), none replayed, each data action once.
    expect(results.every((t) => t.status === 'waiting' && !t.replayed)).toBe(true);
    expect([...tallied].sort()).toEqual(Array.from({ length: turns }, (_, i) => String(100 + i)).sort());
    // No lost update: each turn saw the one before it.
    expect(await countOf(a, id)).toBe(turns);
    expect(await versionOf(id)).toBe(1 + turns);
    expect((await b.inspect(id))?.turns).toBe(1 + turns);
    // No lock left behind.
    expect(await redis.exists(new RedisSessionLock(redis, { prefix }).keyOf(id))).toBe(0);
  });

  it('answers the same request arriving at both workers at once once, and replays it to the other', async () => {
    const tallied: string[] = [];
    const [a, b] = workers(tallied);
    const { sessionId } = await a.startSession({ flow: 'counter' });
    const [one, two] = await Promise.all([
      a.handle(sessionId, { type: 'digits', digits: '42' }, { requestId: '1', requestOrder: 1 }),
      b.handle(sessionId, { type: 'digits', digits: '42' }, { requestId: '1', requestOrder: 1 }),
    ]);
    expect(tallied).toEqual(['42']);
    expect([one.replayed === true, two.replayed === true].sort()).toEqual([false, true]);
    expect(one.commands).toEqual(two.commands);
    expect(await countOf(a, sessionId)).toBe(1);
    expect(await versionOf(sessionId)).toBe(2);
  });

  it('waits for a lock held by a worker that died, once it lapses', async () => {
    const tallied: string[] = [];
    const [a] = workers(tallied, { sessionLockWaitMs: 10_000 });
    const { sessionId } = await a.startSession({ flow: 'counter' });
    await new RedisSessionLock(redis, { prefix }).acquire(sessionId, { ttlMs: 100, waitMs: 0 });
    const turn = await a.handle(sessionId, { type: 'digits', digits: '7' }, { requestId: '1' });
    expect(turn.status).toBe('waiting');
    expect(tallied).toEqual(['7']);
  });

  it('gives up with ConcurrentTurnError (busy) when the lock stays held past the wait, having run nothing', async () => {
    const tallied: string[] = [];
    const [a] = workers(tallied, { sessionLockWaitMs: 30 });
    const { sessionId } = await a.startSession({ flow: 'counter' });
    const other = (await new RedisSessionLock(redis, { prefix }).acquire(sessionId, { ttlMs: 10_000, waitMs: 0 }))!;
    const failure = await a.handle(sessionId, { type: 'digits', digits: '7' }, { requestId: '1' }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ConcurrentTurnError);
    expect(failure).toMatchObject({ code: 'SESSION_CONFLICT', reason: 'busy' });
    expect(tallied).toEqual([]);
    await other.release();
    // Tried again, the request runs.
    await a.handle(sessionId, { type: 'digits', digits: '7' }, { requestId: '1' });
    expect(tallied).toEqual(['7']);
  });
});

/** A store whose writes wait until `readers` reads happened: both workers read the same version. */
class BarrierStore implements SessionStore {
  private reads = 0;
  private open: () => void = () => undefined;
  private readonly gate = new Promise<void>((resolve) => (this.open = resolve));

  constructor(
    private readonly inner: SessionStore,
    private readonly readers: number,
  ) {}

  armed = false;

  async get(sessionId: string): Promise<StoredSession | undefined> {
    const value = await this.inner.get(sessionId);
    if (this.armed && ++this.reads >= this.readers) this.open();
    return value;
  }

  async put(sessionId: string, value: string, options: PutOptions): Promise<PutResult> {
    if (this.armed) await this.gate;
    return this.inner.put(sessionId, value, options);
  }

  delete(sessionId: string): Promise<void> {
    return this.inner.delete(sessionId);
  }
}

describe('the version check behind the lock (no shared lock: a lapsed one)', () => {
  it('runs a refused turn again on the new state when nothing irreversible happened', async () => {
    const store = new BarrierStore(new RedisSessionStore(redis, { prefix }), 2);
    const [a, b] = workers([], { sessionLock: undefined }, store);
    const { sessionId } = await a.startSession({ flow: 'quiet' });
    store.armed = true;
    const [one, two] = await Promise.all([
      a.handle(sessionId, { type: 'digits', digits: '1' }, { requestId: '1' }),
      b.handle(sessionId, { type: 'digits', digits: '2' }, { requestId: '2' }),
    ]);
    expect([one.status, two.status]).toEqual(['waiting', 'waiting']);
    expect(await countOf(a, sessionId)).toBe(2);
    expect(await versionOf(sessionId)).toBe(3);
  });

  it('throws ConcurrentTurnError when the refused turn ran a data action, and keeps the winner', async () => {
    const tallied: string[] = [];
    const store = new BarrierStore(new RedisSessionStore(redis, { prefix }), 2);
    const [a, b] = workers(tallied, { sessionLock: undefined }, store);
    const { sessionId } = await a.startSession({ flow: 'counter' });
    store.armed = true;
    const settled = await Promise.allSettled([
      a.handle(sessionId, { type: 'digits', digits: '1' }, { requestId: '1' }),
      b.handle(sessionId, { type: 'digits', digits: '2' }, { requestId: '2' }),
    ]);
    const refused = settled.filter((s) => s.status === 'rejected');
    expect(refused).toHaveLength(1);
    expect((refused[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'SESSION_CONFLICT', reason: 'conflict' });
    expect(tallied.sort()).toEqual(['1', '2']);
    expect(await countOf(a, sessionId)).toBe(1);
    expect(await versionOf(sessionId)).toBe(2);
  });
});
