/**
 * The session lock on Redis: turns of one session run one at a time across every worker.
 * The lock is `callflow:{<sessionId>}:lock` (the session's hash tag, so it lives in the
 * session's Redis Cluster slot), taken with `SET NX PX` and a random token; released and
 * extended by Lua scripts that act only for that token, so a worker whose lock lapsed can
 * never end the lock of the turn that came after it. A worker that dies holding it loses it
 * when its time to live runs out. Waiting is bounded, with jittered back-off.
 */
import { randomUUID } from 'node:crypto';
import { callRedis } from './redis-call.js';
import type { RedisClient } from './redis-session-store.js';
import type { HeldSessionLock, SessionLock, SessionLockOptions } from './session-lock.js';

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

const EXTEND = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`;

/** Options of the Redis session lock. */
export interface RedisSessionLockOptions {
  /** Key prefix (default `callflow`, as the stores). */
  prefix?: string;
  /** The first pause between tries while another turn holds the lock, ms (default 4); doubles up to `maxBackoffMs`. */
  minBackoffMs?: number;
  /** The longest pause between tries, ms (default 64). */
  maxBackoffMs?: number;
}

/** Session locks in Redis, shared by every worker of a deployment. */
export class RedisSessionLock implements SessionLock {
  private readonly prefix: string;
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;

  constructor(
    private readonly redis: RedisClient,
    options: RedisSessionLockOptions = {},
  ) {
    this.prefix = options.prefix ?? 'callflow';
    this.minBackoffMs = Math.max(1, options.minBackoffMs ?? 4);
    this.maxBackoffMs = Math.max(this.minBackoffMs, options.maxBackoffMs ?? 64);
  }

  /** The key of a session's lock (hash-tagged by the session id, like the session). */
  keyOf(sessionId: string): string {
    return `${this.prefix}:{${sessionId}}:lock`;
  }

  async acquire(sessionId: string, options: SessionLockOptions): Promise<HeldSessionLock | undefined> {
    const key = this.keyOf(sessionId);
    const token = randomUUID();
    const ttl = String(Math.max(1, Math.round(options.ttlMs)));
    const deadline = Date.now() + Math.max(0, options.waitMs);
    let backoff = this.minBackoffMs;
    for (;;) {
      const ok = await callRedis('take a session lock', () => this.redis.set(key, token, 'PX', ttl, 'NX'));
      if (ok === 'OK') return this.held(key, token);
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      // Jittered: workers that queued behind the same turn do not all try again at once.
      const pause = Math.min(left, backoff / 2 + Math.random() * (backoff / 2));
      await new Promise((resolve) => setTimeout(resolve, pause));
      backoff = Math.min(this.maxBackoffMs, backoff * 2);
    }
  }

  private held(key: string, token: string): HeldSessionLock {
    return {
      release: async () => {
        await callRedis('release a session lock', () => this.redis.eval(RELEASE, 1, key, token));
      },
      extend: async (ttlMs: number) => {
        const done = await callRedis('extend a session lock', () => this.redis.eval(EXTEND, 1, key, token, String(Math.max(1, Math.round(ttlMs)))));
        return done === 1;
      },
    };
  }
}
