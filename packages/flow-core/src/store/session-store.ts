/**
 * The session store port and its embedded in-memory implementation. A session is stored as
 * an opaque serialized snapshot with a version: `put` succeeds only when the caller saw the
 * current version (optimistic concurrency), so two turns of one call can never both win.
 */
import { systemClock, type Clock } from '../runtime/clock.js';

/** A stored session. */
export interface StoredSession {
  /** The serialized snapshot (secure values inside are sealed). */
  value: string;
  /** Increases by one on every successful put. */
  version: number;
}

/** How a put went. */
export type PutResult = { ok: true; version: number } | { ok: false; reason: 'conflict'; currentVersion: number | undefined };

/** Options of a put. */
export interface PutOptions {
  /** The version the caller read; `undefined` to create a session that must not exist yet. */
  expectedVersion: number | undefined;
  /** Time to live from now, in ms. */
  ttlMs?: number;
}

/** Where sessions live between turns. */
export interface SessionStore {
  get(sessionId: string): Promise<StoredSession | undefined>;
  put(sessionId: string, value: string, options: PutOptions): Promise<PutResult>;
  delete(sessionId: string): Promise<void>;
}

/** The store could not be reached: an outage, not a bug in the flow. */
export class StoreUnavailableError extends Error {
  readonly code = 'STORE_UNAVAILABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}

interface Entry {
  value: string;
  version: number;
  expiresAt: number;
}

/** The embedded default: sessions in a Map, with versions and TTLs on the runtime's clock. */
export class MemorySessionStore implements SessionStore {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly clock: Clock = systemClock,
    private readonly defaultTtlMs = 4 * 60 * 60 * 1000,
  ) {}

  async get(sessionId: string): Promise<StoredSession | undefined> {
    const e = this.live(sessionId);
    return e ? { value: e.value, version: e.version } : undefined;
  }

  async put(sessionId: string, value: string, options: PutOptions): Promise<PutResult> {
    const e = this.live(sessionId);
    if (e?.version !== options.expectedVersion) {
      return { ok: false, reason: 'conflict', currentVersion: e?.version };
    }
    const version = (e?.version ?? 0) + 1;
    this.entries.set(sessionId, { value, version, expiresAt: this.clock.now() + (options.ttlMs ?? this.defaultTtlMs) });
    return { ok: true, version };
  }

  async delete(sessionId: string): Promise<void> {
    this.entries.delete(sessionId);
  }

  /** Every live session id (tests and diagnostics). */
  ids(): string[] {
    return [...this.entries.keys()].filter((id) => this.live(id));
  }

  /** The raw stored values (tests scan them for clear-text secrets). */
  rawValues(): string[] {
    return [...this.entries.values()].map((e) => e.value);
  }

  private live(id: string): Entry | undefined {
    const e = this.entries.get(id);
    if (e && e.expiresAt <= this.clock.now()) {
      this.entries.delete(id);
      return undefined;
    }
    return e;
  }
}
