/**
 * @callflow/adapters-twilio/redis: the webhook's `CallRegistry` (CallSid → session) in Redis,
 * so that any worker can answer a call's status callback or a retried new-call webhook. A
 * separate entry point: the adapter never loads a Redis client unless asked.
 *
 *   calls: new RedisCallRegistry(redis, { secrets })   // the runtime's key ring
 *
 * One key per call, `callflow:call:{<CallSid>}` (a Redis Cluster hash tag), holding JSON
 * `{ sessionId, startTwiml? }` with a time to live. The first TwiML of a call can speak personal
 * data (a read-back of the caller's details), so it is sealed (AES-256-GCM, flow-core's `seal`)
 * with the runtime's key ring, bound to its call (`call:<CallSid>`): Redis never holds it in clear
 * text, and an entry copied to another call's key does not open there.
 *
 * @packageDocumentation
 */
import { StoreUnavailableError, checkSecrets, isSealed, open, seal, type Sealed, type SecretsProvider } from '@callflow/flow-core';
import type { RedisClient } from '@callflow/flow-core/redis';
import type { CallEntry, CallRegistry } from './webhook.js';

/** Options of the Redis call registry. */
export interface RedisCallRegistryOptions {
  /** The runtime's key ring (the same on every worker): the first TwiML is sealed with it (its current key is checked here). */
  secrets: SecretsProvider;
  /** Key prefix (default `callflow`, as flow-core's Redis stores). */
  prefix?: string;
  /** How long an entry lives after its last write, ms (default 4 hours: the runtime's session TTL). */
  ttlMs?: number;
}

/** An entry as Redis holds it. */
interface StoredEntry {
  sessionId: string;
  startTwiml?: Sealed;
}

/** CallSid → session in Redis, shared by every webhook worker. */
export class RedisCallRegistry implements CallRegistry {
  private readonly secrets: SecretsProvider;
  private readonly prefix: string;
  private readonly ttlMs: number;

  constructor(
    private readonly redis: RedisClient,
    options: RedisCallRegistryOptions,
  ) {
    checkSecrets(options.secrets);
    this.secrets = options.secrets;
    this.prefix = options.prefix ?? 'callflow';
    this.ttlMs = Math.max(1, Math.round(options.ttlMs ?? 4 * 60 * 60_000));
  }

  /** The key of a call (hash-tagged by its CallSid). */
  keyOf(callSid: string): string {
    return `${this.prefix}:call:{${callSid}}`;
  }

  async get(callSid: string): Promise<CallEntry | undefined> {
    const text = await this.call('read a call', () => this.redis.get(this.keyOf(callSid)));
    if (text === null || text === undefined) return undefined;
    let stored: StoredEntry;
    try {
      stored = JSON.parse(text) as StoredEntry;
    } catch {
      return undefined;
    }
    if (typeof stored?.sessionId !== 'string') return undefined;
    const entry: CallEntry = { sessionId: stored.sessionId };
    // A TwiML sealed with a key this worker does not hold, for another call, or in the format
    // before entries were bound to their call (v1) is left out: the session still routes the
    // call, and a retried new-call webhook is answered from the session instead.
    if (stored.startTwiml !== undefined && isSealed(stored.startTwiml)) {
      try {
        entry.startTwiml = open<string>(stored.startTwiml, this.secrets, callContext(callSid));
      } catch {
        // Left out (above).
      }
    }
    return entry;
  }

  async set(callSid: string, entry: CallEntry): Promise<void> {
    const stored: StoredEntry = { sessionId: entry.sessionId };
    if (entry.startTwiml !== undefined) stored.startTwiml = seal(entry.startTwiml, this.secrets, callContext(callSid));
    await this.call('write a call', () => this.redis.set(this.keyOf(callSid), JSON.stringify(stored), 'PX', this.ttlMs));
  }

  async delete(callSid: string): Promise<void> {
    await this.call('delete a call', () => this.redis.del(this.keyOf(callSid)));
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      // The client's first line only (a connection error): never a key's value.
      throw new StoreUnavailableError(`Redis could not ${what}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`, { cause: error });
    }
  }
}

/** The owner a call's first TwiML is sealed for. */
function callContext(callSid: string): string {
  return `call:${callSid}`;
}
