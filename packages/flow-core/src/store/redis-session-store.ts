/**
 * The session store on Redis, for many stateless workers sharing one Redis (or a Redis
 * Cluster). A session is one hash `callflow:{<sessionId>}:session` with fields `v` (version)
 * and `d` (the serialized snapshot, its secure slot sealed). `put` is a compare-and-set in a
 * Lua script: it writes only if the stored version is the one the turn read, so two workers
 * answering webhooks of the same call can never both win (no lost update). The braces are a
 * Redis Cluster hash tag: every key of one session lives in one slot.
 */
import type { Redis, Cluster } from 'ioredis';
import { callRedis } from './redis-call.js';
import type { PutOptions, PutResult, SessionStore, StoredSession } from './session-store.js';

/** A connected ioredis client (standalone or cluster). */
export type RedisClient = Redis | Cluster;

const PUT = `
local cur = redis.call('HGET', KEYS[1], 'v')
if ARGV[1] == '' then
  if cur then return {0, cur} end
elseif cur ~= ARGV[1] then
  return {0, cur or ''}
end
local nv = (tonumber(cur) or 0) + 1
redis.call('HSET', KEYS[1], 'v', nv, 'd', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, tostring(nv)}
`;

/** Options of the Redis session store. */
export interface RedisSessionStoreOptions {
  /** Key prefix (default `callflow`). */
  prefix?: string;
  /** TTL when a put gives none, ms (default 4 hours). */
  defaultTtlMs?: number;
}

/** Sessions in Redis with optimistic concurrency and TTLs. */
export class RedisSessionStore implements SessionStore {
  private readonly prefix: string;
  private readonly defaultTtlMs: number;

  constructor(
    private readonly redis: RedisClient,
    options: RedisSessionStoreOptions = {},
  ) {
    this.prefix = options.prefix ?? 'callflow';
    this.defaultTtlMs = options.defaultTtlMs ?? 4 * 60 * 60 * 1000;
  }

  /** The key of a session (hash-tagged by the session id). */
  keyOf(sessionId: string): string {
    return `${this.prefix}:{${sessionId}}:session`;
  }

  async get(sessionId: string): Promise<StoredSession | undefined> {
    const fields = await this.call('read a session', () => this.redis.hmget(this.keyOf(sessionId), 'v', 'd'));
    const [v, d] = fields;
    if (v === null || v === undefined || d === null || d === undefined) return undefined;
    return { value: d, version: Number(v) };
  }

  async put(sessionId: string, value: string, options: PutOptions): Promise<PutResult> {
    const ttl = Math.max(1, Math.round(options.ttlMs ?? this.defaultTtlMs));
    const expected = options.expectedVersion === undefined ? '' : String(options.expectedVersion);
    const result = (await this.call('write a session', () =>
      this.redis.eval(PUT, 1, this.keyOf(sessionId), expected, value, String(ttl)),
    )) as [number, string];
    if (result[0] === 1) return { ok: true, version: Number(result[1]) };
    return { ok: false, reason: 'conflict', currentVersion: result[1] === '' ? undefined : Number(result[1]) };
  }

  async delete(sessionId: string): Promise<void> {
    await this.call('delete a session', () => this.redis.del(this.keyOf(sessionId)));
  }

  private call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return callRedis(what, fn);
  }
}
