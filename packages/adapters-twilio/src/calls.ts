/**
 * What the webhook remembers of each call (by CallSid): the session its requests go to, the
 * first TwiML it was answered (for a retried new-call webhook), and whether its session or the
 * call itself has ended. An entry outlives its call by `retentionMs`, so that a request Twilio
 * retries late is answered from it and starts nothing. The in-memory registry serves one
 * process; many workers share `RedisCallRegistry` (`@callflow/adapters-twilio/redis`).
 */
import { systemClock, type Clock } from '@callflow/flow-core';

/** What the webhook remembers of a call. */
export interface CallEntry {
  /** The call's session (the last one it was handed on to). */
  sessionId: string;
  /** The first TwiML of the call, answered again if Twilio retries the new-call webhook. */
  startTwiml?: string;
  /** The new-call webhook is still being answered (a copy of it waits for its answer). */
  starting?: boolean;
  /** The session has ended (the call may go on: in a queue, with an agent). */
  sessionEnded?: boolean;
  /** Twilio reported the call's final status: nothing may start on it any more. */
  callEnded?: boolean;
}

/** When `claim` binds a call to a new session. */
export type ClaimWhen =
  /** A new call: only a CallSid never seen (within the retention). */
  | 'new'
  /** An agent's hand-over: a call seen before, whose session has ended and which has not. */
  | 'handOver';

/**
 * CallSid → what the webhook remembers of the call. `claim` is atomic (one process: no await
 * between its read and its write; Redis: one script), so that two copies of one request never
 * start two sessions of one call.
 */
export interface CallRegistry {
  get(callSid: string): Promise<CallEntry | undefined>;
  /** Bind the call to `entry` when `when` allows it: `undefined`; otherwise the entry found, unchanged. */
  claim(callSid: string, entry: CallEntry, when: ClaimWhen): Promise<CallEntry | undefined>;
  /**
   * Change fields of the call's entry (creating it when there is none, with `sessionId` from
   * `change` or empty); with `ifSession`, only while the entry is that session's. Once
   * `callEnded`, it stays so, and the session with it.
   */
  update(callSid: string, change: Partial<CallEntry>, ifSession?: string): Promise<void>;
}

/**
 * How long the registry remembers a call after its last change, by default: 25 hours — a call of
 * up to 24 hours (Twilio's default time limit is 4 hours) plus an hour for Twilio's late retries.
 */
export const DEFAULT_CALL_RETENTION_MS = 25 * 60 * 60_000;

/** Options of the in-memory registry. */
export interface MemoryCallRegistryOptions {
  /** How long a call is remembered after its last change, ms (default `DEFAULT_CALL_RETENTION_MS`). */
  retentionMs?: number;
  /** The clock the retention is measured with (default: the system's). */
  clock?: Clock;
}

/** Whether `claim` may bind a call with `found` to a new session. */
export function claimable(found: CallEntry | undefined, when: ClaimWhen): boolean {
  if (found === undefined) return true;
  return when === 'handOver' && found.sessionEnded === true && found.callEnded !== true;
}

/** `found` changed by `change`; a call that ended stays ended (and its session with it). */
export function changed(found: CallEntry | undefined, change: Partial<CallEntry>): CallEntry {
  const entry: CallEntry = { sessionId: '', ...found, ...change };
  if (found?.callEnded === true) entry.callEnded = true;
  if (entry.callEnded === true) entry.sessionEnded = true;
  if (entry.sessionEnded === true || entry.startTwiml !== undefined) delete entry.starting;
  for (const key of Object.keys(entry) as (keyof CallEntry)[]) if (entry[key] === undefined || entry[key] === false) delete entry[key];
  return entry;
}

/** The embedded `CallRegistry`: a Map, for one process. */
export class MemoryCallRegistry implements CallRegistry {
  private readonly calls = new Map<string, { entry: CallEntry; until: number }>();
  private readonly retentionMs: number;
  private readonly clock: Clock;
  private writes = 0;

  constructor(options: MemoryCallRegistryOptions = {}) {
    this.retentionMs = Math.max(1, options.retentionMs ?? DEFAULT_CALL_RETENTION_MS);
    this.clock = options.clock ?? systemClock;
  }

  async get(callSid: string): Promise<CallEntry | undefined> {
    return this.read(callSid);
  }

  async claim(callSid: string, entry: CallEntry, when: ClaimWhen): Promise<CallEntry | undefined> {
    const found = this.read(callSid);
    if (!claimable(found, when)) return found;
    // A hand-over keeps what the call was first answered (a late new-call retry still gets it).
    this.write(callSid, changed(undefined, { ...entry, ...(found?.startTwiml !== undefined ? { startTwiml: found.startTwiml } : {}) }));
    return undefined;
  }

  async update(callSid: string, change: Partial<CallEntry>, ifSession?: string): Promise<void> {
    const found = this.read(callSid);
    if (ifSession !== undefined && found?.sessionId !== ifSession) return;
    this.write(callSid, changed(found, change));
  }

  /** Write an entry as it is (tests, tools). */
  async set(callSid: string, entry: CallEntry): Promise<void> {
    this.write(callSid, { ...entry });
  }

  /** Forget a call. */
  async delete(callSid: string): Promise<void> {
    this.calls.delete(callSid);
  }

  /** How many calls have a live session (for tests and metrics). */
  get size(): number {
    let live = 0;
    const now = this.clock.now();
    for (const { entry, until } of this.calls.values()) if (until > now && entry.sessionEnded !== true) live++;
    return live;
  }

  private read(callSid: string): CallEntry | undefined {
    const held = this.calls.get(callSid);
    if (held === undefined) return undefined;
    if (held.until <= this.clock.now()) {
      this.calls.delete(callSid);
      return undefined;
    }
    return { ...held.entry };
  }

  private write(callSid: string, entry: CallEntry): void {
    const now = this.clock.now();
    this.calls.set(callSid, { entry, until: now + this.retentionMs });
    // Forgotten calls are dropped now and then, not on every write.
    if (++this.writes % 1024 === 0) for (const [sid, held] of this.calls) if (held.until <= now) this.calls.delete(sid);
  }
}

/**
 * An agent's hand-over on a call that has a live session already (one live session per call):
 * nothing was started and no agent reserved. Hand over again once that session has ended.
 */
export class CallInSessionError extends Error {
  readonly code = 'CALL_IN_SESSION';
  constructor() {
    super('the call already has a live session: a second one is not started');
    this.name = 'CallInSessionError';
  }
}

/** An agent's hand-over on a call whose final status Twilio has reported: nothing is left running on it. */
export class CallEndedError extends Error {
  readonly code = 'CALL_ENDED';
  constructor() {
    super('the call has ended: no session is started on it');
    this.name = 'CallEndedError';
  }
}
