/**
 * Agent reservations on Redis: one key per agent, `callflow:agent:{<agentId>}`, holding the
 * reservation as JSON, set with `SET NX PX` so one secure session at a time holds an agent
 * across every worker, and expiring on its own when the lease runs out (a crashed worker can
 * never leave an agent reserved). Renewal and release are Lua scripts that act only when the
 * stored token is the caller's: a worker whose lease already lapsed cannot end the agent's
 * next reservation.
 */
import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../store/redis-session-store.js';
import { callRedis } from '../store/redis-call.js';
import { StoreUnavailableError } from '../store/session-store.js';
import type { Reservation, ReservationStore } from './reservations.js';

const RENEW = `
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local r = cjson.decode(cur)
if r.token ~= ARGV[1] then return 0 end
r.expiresAt = tonumber(ARGV[3])
redis.call('SET', KEYS[1], cjson.encode(r), 'PX', ARGV[2])
return 1
`;

const RELEASE = `
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local r = cjson.decode(cur)
if r.token ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
`;

/** Options of the Redis reservation store. */
export interface RedisReservationStoreOptions {
  prefix?: string;
  /** The clock leases are stamped with (default Date.now). */
  now?: () => number;
}

/** Reservations in Redis: leases that one session holds at a time. */
export class RedisReservationStore implements ReservationStore {
  private readonly prefix: string;
  private readonly now: () => number;

  constructor(
    private readonly redis: RedisClient,
    options: RedisReservationStoreOptions = {},
  ) {
    this.prefix = options.prefix ?? 'callflow';
    this.now = options.now ?? Date.now;
  }

  /** The key of an agent's reservation. */
  keyOf(agentId: string): string {
    return `${this.prefix}:agent:{${agentId}}`;
  }

  async reserve(agentId: string, sessionId: string, leaseMs: number): Promise<Reservation | undefined> {
    const now = this.now();
    const r: Reservation = { agentId, sessionId, token: randomUUID(), reservedAt: now, expiresAt: now + leaseMs };
    const ok = await this.call('reserve an agent', () => this.redis.set(this.keyOf(agentId), JSON.stringify(r), 'PX', Math.max(1, Math.round(leaseMs)), 'NX'));
    if (ok === 'OK') return r;
    const current = await this.get(agentId);
    return current?.sessionId === sessionId ? current : undefined;
  }

  async renew(agentId: string, token: string, leaseMs: number): Promise<boolean> {
    const expiresAt = this.now() + leaseMs;
    const done = await this.call('renew a reservation', () =>
      this.redis.eval(RENEW, 1, this.keyOf(agentId), token, String(Math.max(1, Math.round(leaseMs))), String(expiresAt)),
    );
    return done === 1;
  }

  async release(agentId: string, token: string): Promise<boolean> {
    const done = await this.call('release a reservation', () => this.redis.eval(RELEASE, 1, this.keyOf(agentId), token));
    return done === 1;
  }

  async get(agentId: string): Promise<Reservation | undefined> {
    const text = await this.call('read a reservation', () => this.redis.get(this.keyOf(agentId)));
    return text ? (JSON.parse(text) as Reservation) : undefined;
  }

  async list(): Promise<Reservation[]> {
    // SCAN, never KEYS: a live Redis is not blocked. (On a cluster, scan each master.)
    const out: Reservation[] = [];
    const pattern = `${this.prefix}:agent:{*}`;
    for (const node of await this.scanTargets()) {
      let cursor = '0';
      do {
        const [next, keys] = await this.call('list reservations', () => (node as import('ioredis').Redis).scan(cursor, 'MATCH', pattern, 'COUNT', 200));
        cursor = next;
        for (const key of keys) {
          const text = await this.call('read a reservation', () => node.get(key));
          if (text) out.push(JSON.parse(text) as Reservation);
        }
      } while (cursor !== '0');
    }
    return out;
  }

  /** The one Redis, or every master of a cluster. */
  private async scanTargets(): Promise<RedisClient[]> {
    const redis = this.redis;
    if (!('nodes' in redis && typeof redis.nodes === 'function')) return [redis];
    // A cluster client knows its masters only once it is ready: before that `nodes()` holds none
    // or only the seed nodes it was given, and the listing would silently miss the other masters'
    // agents. A command waits for ready (or fails at once without an offline queue): one PING first.
    if (redis.status !== 'ready') await this.call('list reservations', () => redis.ping());
    const masters = redis.nodes('master');
    if (masters.length === 0) throw new StoreUnavailableError('Redis could not list reservations: no Redis Cluster master is known');
    return masters;
  }

  private call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return callRedis(what, fn);
  }
}
