/**
 * @callflow/adapters-twilio/redis: the webhook's `CallRegistry` (CallSid → session) in Redis,
 * so that any worker can answer a call's status callback or a retried new-call webhook. A
 * separate entry point: the adapter never loads a Redis client unless asked.
 *
 *   calls: new RedisCallRegistry(redis, { secrets })   // the runtime's key ring
 *
 * One key per call, `callflow:call:{<CallSid>}` (a Redis Cluster hash tag), holding JSON
 * `{ sessionId, startTwiml?, starting?, sessionEnded?, callEnded? }` with a time to live that
 * starts again at each write (default 25 hours: the call's lifetime and a margin for Twilio's
 * retries). `claim` and `update` are Lua scripts: read and write in one step. The first TwiML of a call can speak personal
 * data (a read-back of the caller's details), so it is sealed (AES-256-GCM, flow-core's `seal`)
 * with the runtime's key ring, bound to its call (`call:<CallSid>`): Redis never holds it in clear
 * text, and an entry copied to another call's key does not open there.
 *
 * @packageDocumentation
 */
import { StoreUnavailableError, checkSecrets, isSealed, open, seal, type Sealed, type SecretsProvider } from '@callflow/flow-core';
import type { RedisClient } from '@callflow/flow-core/redis';
import { DEFAULT_CALL_RETENTION_MS, type CallEntry, type CallRegistry, type ClaimWhen } from './calls.js';

/** Options of the Redis call registry. */
export interface RedisCallRegistryOptions {
  /** The runtime's key ring (the same on every worker): the first TwiML is sealed with it (its current key is checked here). */
  secrets: SecretsProvider;
  /** Key prefix (default `callflow`, as flow-core's Redis stores). */
  prefix?: string;
  /** How long an entry lives after its last write, ms (default `DEFAULT_CALL_RETENTION_MS`, 25 hours). */
  ttlMs?: number;
}

/** An entry as Redis holds it. */
interface StoredEntry extends Omit<CallEntry, 'startTwiml'> {
  startTwiml?: Sealed;
}

/** Bind the call to a new session (ARGV[1]) unless it has one ('new') or a live one or has ended ('handOver'). */
const CLAIM = `
local cur = redis.call('GET', KEYS[1])
if cur then
  local ok, e = pcall(cjson.decode, cur)
  if ok and type(e) == 'table' then
    if ARGV[3] ~= 'handOver' or e.sessionEnded ~= true or e.callEnded == true then return cur end
    local n = cjson.decode(ARGV[1])
    if e.startTwiml ~= nil then n.startTwiml = e.startTwiml end
    redis.call('SET', KEYS[1], cjson.encode(n), 'PX', ARGV[2])
    return false
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false`;

/** Merge ARGV[1] into the entry (only while it is session ARGV[3], when given); an ended call stays ended. */
const UPDATE = `
local cur = redis.call('GET', KEYS[1])
local e = {}
if cur then
  local ok, d = pcall(cjson.decode, cur)
  if ok and type(d) == 'table' then e = d end
end
if ARGV[3] ~= '' and e.sessionId ~= ARGV[3] then return 0 end
local ended = e.callEnded == true
for k, v in pairs(cjson.decode(ARGV[1])) do e[k] = v end
if ended then e.callEnded = true end
if e.callEnded == true then e.sessionEnded = true end
if e.sessionEnded == true or e.startTwiml ~= nil then e.starting = nil end
if e.sessionId == nil then e.sessionId = '' end
redis.call('SET', KEYS[1], cjson.encode(e), 'PX', ARGV[2])
return 1`;

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
    this.ttlMs = Math.max(1, Math.round(options.ttlMs ?? DEFAULT_CALL_RETENTION_MS));
  }

  /** The key of a call (hash-tagged by its CallSid). */
  keyOf(callSid: string): string {
    return `${this.prefix}:call:{${callSid}}`;
  }

  async get(callSid: string): Promise<CallEntry | undefined> {
    const text = await this.call('read a call', () => this.redis.get(this.keyOf(callSid)));
    return this.entryOf(callSid, text);
  }

  async claim(callSid: string, entry: CallEntry, when: ClaimWhen): Promise<CallEntry | undefined> {
    const text = await this.call('claim a call', () => this.redis.eval(CLAIM, 1, this.keyOf(callSid), JSON.stringify(this.stored(callSid, entry)), String(this.ttlMs), when));
    return this.entryOf(callSid, typeof text === 'string' ? text : null);
  }

  async update(callSid: string, change: Partial<CallEntry>, ifSession?: string): Promise<void> {
    await this.call('update a call', () => this.redis.eval(UPDATE, 1, this.keyOf(callSid), JSON.stringify(this.stored(callSid, change)), String(this.ttlMs), ifSession ?? ''));
  }

  /** The entry as Redis holds it: the first TwiML sealed for its call. */
  private stored(callSid: string, entry: Partial<CallEntry>): Partial<StoredEntry> {
    const { startTwiml, ...rest } = entry;
    return { ...rest, ...(startTwiml !== undefined ? { startTwiml: seal(startTwiml, this.secrets, callContext(callSid)) } : {}) };
  }

  private entryOf(callSid: string, text: string | null | undefined): CallEntry | undefined {
    if (text === null || text === undefined) return undefined;
    let stored: StoredEntry;
    try {
      stored = JSON.parse(text) as StoredEntry;
    } catch {
      return undefined;
    }
    if (typeof stored?.sessionId !== 'string') return undefined;
    const entry: CallEntry = { sessionId: stored.sessionId };
    for (const flag of ['starting', 'sessionEnded', 'callEnded'] as const) if (stored[flag] === true) entry[flag] = true;
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

  /** Write an entry as it is (tests, tools). */
  async set(callSid: string, entry: CallEntry): Promise<void> {
    await this.call('write a call', () => this.redis.set(this.keyOf(callSid), JSON.stringify(this.stored(callSid, entry)), 'PX', this.ttlMs));
  }

  /** Forget a call. */
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
