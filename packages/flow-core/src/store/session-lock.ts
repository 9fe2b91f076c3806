/**
 * The session lock port: turns of one session run one at a time. The in-memory
 * implementation serializes them inside one process (a queue per session, first come first
 * served); `RedisSessionLock` (`@callflow/flow-core/redis`) serializes them across every worker
 * sharing one Redis. Either way the session store's version compare-and-set stays the fence
 * behind the lock: a lock that lapsed can cost a retry, never a lost update.
 */

/** How long a lock is held at most, and how long to wait for it. */
export interface SessionLockOptions {
  /** The lock lapses on its own after this long unless extended (a dead owner's lock ends), ms. */
  ttlMs: number;
  /** Give up waiting for a lock another turn holds after this long, ms (`Infinity`: wait). */
  waitMs: number;
}

/** A held session lock. */
export interface HeldSessionLock {
  /** Let the next turn go; does nothing when the lock already lapsed or passed on. */
  release(): Promise<void>;
  /** Keep holding for `ttlMs` more from now; false when the lock is no longer this holder's. */
  extend(ttlMs: number): Promise<boolean>;
}

/** Serializes the turns of one session. */
export interface SessionLock {
  /**
   * Take the session's lock, waiting up to `waitMs` while another turn holds it: the held lock,
   * or undefined when the wait ran out.
   */
  acquire(sessionId: string, options: SessionLockOptions): Promise<HeldSessionLock | undefined>;
}

interface Waiter {
  grant: (held: HeldSessionLock) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

interface Queue {
  waiters: Waiter[];
}

/**
 * The embedded default: one turn at a time per session in this process, in the order they
 * asked. No time to live: a turn of this process cannot die and leave its lock behind.
 */
export class MemorySessionLock implements SessionLock {
  /** A session is in the map while a turn holds its lock; its waiters queue behind. */
  private readonly queues = new Map<string, Queue>();

  async acquire(sessionId: string, options: SessionLockOptions): Promise<HeldSessionLock | undefined> {
    const queue = this.queues.get(sessionId);
    if (!queue) {
      const fresh: Queue = { waiters: [] };
      this.queues.set(sessionId, fresh);
      return this.held(sessionId, fresh);
    }
    if (options.waitMs <= 0) return undefined;
    return new Promise<HeldSessionLock | undefined>((resolve) => {
      const waiter: Waiter = { grant: resolve, timer: undefined };
      if (Number.isFinite(options.waitMs)) {
        waiter.timer = setTimeout(() => {
          const at = queue.waiters.indexOf(waiter);
          if (at >= 0) queue.waiters.splice(at, 1);
          resolve(undefined);
        }, options.waitMs);
      }
      queue.waiters.push(waiter);
    });
  }

  /** How many sessions have a turn holding their lock (tests and diagnostics). */
  get size(): number {
    return this.queues.size;
  }

  private held(sessionId: string, queue: Queue): HeldSessionLock {
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        const next = queue.waiters.shift();
        if (!next) {
          this.queues.delete(sessionId);
          return;
        }
        if (next.timer !== undefined) clearTimeout(next.timer);
        next.grant(this.held(sessionId, queue));
      },
      extend: async () => !released,
    };
  }
}
