/**
 * After a store outage: which sessions a turn left behind when the session store (or the
 * reservation store) failed under it, so that the runtime can end them and let their agents go
 * once the store answers again. The caller of such a turn got an error (an adapter answers its
 * fail-safe: an apology and a transfer or a hang-up), so the session must not stay active, nor
 * its agent reserved until the lease runs out. The ledger lives in this process's memory and is
 * bounded: a session that does not fit is left to its lease and its time to live.
 */
import type { HeldReservation, LiveSession, SessionRecord } from './session.js';
import type { SessionEnd } from './types.js';

/** The code of the `error` event, the session end and the caller-facing error of a store outage. */
export const STORE_UNAVAILABLE = 'STORE_UNAVAILABLE';

/** What the `error` event says: the store's own message may name hosts and ports, so it is not passed on. */
export const STORE_UNAVAILABLE_MESSAGE = 'the session store could not be reached; the session is ended once it answers again';

/** How a session left behind by an outage ends. */
export const OUTAGE_END: SessionEnd = { type: 'error', code: STORE_UNAVAILABLE, message: 'the session store could not be reached' };

/** Is this error a store outage (any store's `StoreUnavailableError`, by its code)? */
export function isStoreOutage(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === STORE_UNAVAILABLE;
}

/** A session a failed turn left behind. */
export interface OutageEntry {
  sessionId: string;
  /** Its flow, when the turn got as far as reading it (for events). */
  flow: string;
  /**
   * The stored version the turn started from. When the session is read back at another version,
   * a turn ran after the outage and the session is left alone. Unknown when the read failed.
   */
  version?: number;
  /**
   * The request the failed turn answered (its id and order), for when the version is unknown:
   * a stored session that answered this request, or a later one, went on after the outage.
   */
  requestId?: string;
  requestOrder?: number;
  /** A reservation the turn could not release (or could not be sure it released). */
  agent?: HeldReservation;
}

/** The sessions to recover, oldest first, at most `max` of them. */
export class OutageLedger {
  private readonly entries = new Map<string, OutageEntry>();

  constructor(private readonly max = 10_000) {}

  get size(): number {
    return this.entries.size;
  }

  /** Remember a session (merged with what is known of it already: an agent is never forgotten). */
  remember(entry: OutageEntry): void {
    const known = this.entries.get(entry.sessionId);
    if (known) {
      if (entry.flow !== '') known.flow = entry.flow;
      if (entry.agent) known.agent = entry.agent;
      if (known.version === undefined) known.version = entry.version;
      if (known.requestId === undefined) known.requestId = entry.requestId;
      if (known.requestOrder === undefined) known.requestOrder = entry.requestOrder;
      return;
    }
    // Bounded: the oldest entry gives way (its agent's lease and its TTL still end it).
    if (this.entries.size >= this.max) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(entry.sessionId, { ...entry });
  }

  forget(sessionId: string): void {
    this.entries.delete(sessionId);
  }

  /** A copy of the entries, oldest first. */
  list(): OutageEntry[] {
    return [...this.entries.values()];
  }
}

/** Did the stored session go on after the failed turn (so it is not the outage's to end)? */
export function wentOnAfter(entry: OutageEntry, stored: { version: number; record: SessionRecord }): boolean {
  if (entry.version !== undefined) return stored.version !== entry.version;
  const r = stored.record;
  if (entry.requestId !== undefined && r.lastRequestId === entry.requestId) return true;
  return entry.requestOrder !== undefined && r.lastRequestOrder !== undefined && r.lastRequestOrder >= entry.requestOrder;
}

/**
 * End a session the outage left active: status ended with `OUTAGE_END`, no wait pending, the
 * secure slot wiped. The caller releases the agent, persists, and emits the events.
 */
export function endAfterOutage(live: LiveSession): void {
  const record = live.record;
  record.status = 'ended';
  record.end = OUTAGE_END;
  record.agent = undefined;
  for (const frame of record.frames) frame.wait = undefined;
  live.slot = { call: {}, vars: {} };
}
