/**
 * Agent reservations mirrored into TaskRouter: while a secure flow holds an agent, the agent's
 * Worker sits in an activity that is offered no new work (`reservedActivitySid`, an activity
 * with `available: false`); when the reservation ends — returnToAgent, hang-up, transfer,
 * error, lease expiry, shutdown — the Worker goes to `availableActivitySid`.
 *
 * Failures are never silent. A move that fails (after one retry of a time-out, a 429 or a 5xx)
 * is told to `onFailure` and thrown as a typed error: the runtime turns a throw during a turn
 * into an `error` event (`MIRROR_FAILED`), but it swallows throws from `sweep()` and
 * `shutdown()`, so `onFailure` is the one place every failure reaches. A Worker that could
 * not be moved back is kept in `stuck()` until a later move of the same agent succeeds or
 * `retryStuck()` (call it beside `runtime.sweep()`) moves it.
 */
import type { ReleaseReason, Reservation, ReservationMirror } from '@callflow/flow-core';
import { DEFAULT_REST_TIMEOUT_MS, TwilioRestError, TwilioRestTimeoutError, callTwilio } from './rest.js';

/** The slice of the `twilio` REST client the mirror uses (a `Twilio` client fits it). */
export interface TaskRouterWorkerClient {
  taskrouter: {
    v1: {
      workspaces(workspaceSid: string): {
        workers(workerSid: string): {
          update(params: { activitySid: string; rejectPendingReservations?: boolean }): Promise<unknown>;
        };
      };
    };
  };
}

/** How `twilioReservationMirror` finds workers and which activities it moves them to. */
export interface TwilioReservationMirrorOptions {
  client: TaskRouterWorkerClient;
  /** The TaskRouter workspace (`WS…`) the agents' workers live in. */
  workspaceSid: string;
  /** The agent's Worker sid (`WK…`); undefined when the agent has none (reported as a failure). */
  workerSidOf(agentId: string): string | undefined | Promise<string | undefined>;
  /** An activity with `available: false`: the reserved agent is offered no new work. */
  reservedActivitySid: string;
  /** Where the Worker goes when the reservation ends. */
  availableActivitySid: string;
  /**
   * Reject the Worker's pending TaskRouter reservations when it is moved to the reserved
   * activity (Twilio refuses a move to an unavailable activity while some are pending).
   */
  rejectPendingReservations?: boolean;
  /** How long one Worker update may take, ms (default 4000). */
  timeoutMs?: number;
  /** Tries per move for time-outs, 429 and 5xx (default 2); other errors are not retried. */
  attempts?: number;
  /** Pause between tries, ms (default 200). */
  retryDelayMs?: number;
  /** Told about every move that failed, whoever called the mirror (a turn, `sweep`, `shutdown`). */
  onFailure?: (failure: MirrorFailure) => void;
}

/** A Worker move that failed. Carries ids and codes, never a caller's value. */
export interface MirrorFailure {
  /** `TWILIO_REST_FAILED`, `TWILIO_REST_TIMEOUT` or `TASKROUTER_WORKER_UNKNOWN`. */
  code: string;
  message: string;
  /** `reserve`: the agent may still be offered work. `release`: the Worker is stuck unavailable. */
  move: 'reserve' | 'release';
  agentId: string;
  sessionId: string;
  workerSid?: string;
  reason?: ReleaseReason;
}

/** A Worker left in the reserved activity because moving it back failed. */
export interface StuckWorker {
  agentId: string;
  workerSid?: string;
  reservation: Reservation;
  reason: ReleaseReason;
  code: string;
}

/** The TaskRouter `ReservationMirror`, with what it could not undo. */
export interface TwilioReservationMirror extends ReservationMirror {
  /** Workers whose move back to the available activity failed and was not retried successfully. */
  stuck(): StuckWorker[];
  /** Try again to move every stuck Worker back; how many are still stuck. */
  retryStuck(): Promise<number>;
}

/** The agent has no TaskRouter Worker (`workerSidOf` gave none). */
export class WorkerNotFoundError extends Error {
  readonly code = 'TASKROUTER_WORKER_UNKNOWN';
  constructor(readonly agentId: string) {
    super(`no TaskRouter worker is configured for agent '${agentId}'`);
    this.name = 'WorkerNotFoundError';
  }
}

/** Mirror agent reservations into TaskRouter Worker activities through the `twilio` REST client. */
export function twilioReservationMirror(options: TwilioReservationMirrorOptions): TwilioReservationMirror {
  const timeoutMs = options.timeoutMs ?? DEFAULT_REST_TIMEOUT_MS;
  const attempts = Math.max(1, options.attempts ?? 2);
  const retryDelayMs = options.retryDelayMs ?? 200;
  const stuck = new Map<string, StuckWorker>();
  // One move at a time per agent, in the order asked: a release never overtakes its reserve.
  const queues = new Map<string, Promise<unknown>>();

  const inOrder = <T>(agentId: string, fn: () => Promise<T>): Promise<T> => {
    const previous = queues.get(agentId) ?? Promise.resolve();
    const next = previous.then(fn, fn);
    const tail = next.then(() => undefined, () => undefined);
    queues.set(agentId, tail);
    void tail.then(() => {
      if (queues.get(agentId) === tail) queues.delete(agentId);
    });
    return next;
  };

  const report = (failure: MirrorFailure) => {
    try {
      options.onFailure?.(failure);
    } catch {
      // a reporting hook must not change what the runtime is told
    }
  };

  async function moveWorker(workerSid: string, activitySid: string, reject: boolean): Promise<void> {
    const worker = options.client.taskrouter.v1.workspaces(options.workspaceSid).workers(workerSid);
    for (let attempt = 1; ; attempt++) {
      try {
        await callTwilio('updateWorker', timeoutMs, () => worker.update({ activitySid, ...(reject ? { rejectPendingReservations: true } : {}) }));
        return;
      } catch (error) {
        const retryable = (error instanceof TwilioRestError || error instanceof TwilioRestTimeoutError) && error.retryable;
        if (!retryable || attempt >= attempts) throw error;
        await new Promise((resolve) => setTimeout(resolve, retryDelayMs));
      }
    }
  }

  async function move(reservation: Reservation, to: 'reserve' | 'release', reason?: ReleaseReason): Promise<void> {
    const { agentId, sessionId } = reservation;
    let workerSid: string | undefined;
    // A new reservation supersedes a stuck release of an older one: the Worker should now be
    // reserved anyway, and retrying that old release would offer work to a busy agent.
    if (to === 'reserve') stuck.delete(agentId);
    try {
      workerSid = await options.workerSidOf(agentId);
      if (workerSid === undefined) throw new WorkerNotFoundError(agentId);
      if (to === 'reserve') await moveWorker(workerSid, options.reservedActivitySid, options.rejectPendingReservations === true);
      else await moveWorker(workerSid, options.availableActivitySid, false);
      stuck.delete(agentId);
    } catch (error) {
      const e = error as { code?: unknown; message?: unknown };
      const code = typeof e.code === 'string' ? e.code : 'TASKROUTER_MIRROR_FAILED';
      const message = typeof e.code === 'string' && typeof e.message === 'string' ? e.message : 'the worker could not be updated';
      if (to === 'release') {
        stuck.set(agentId, { agentId, reservation, reason: reason ?? 'ended', code, ...(workerSid !== undefined ? { workerSid } : {}) });
      }
      report({ code, message, move: to, agentId, sessionId, ...(workerSid !== undefined ? { workerSid } : {}), ...(reason !== undefined ? { reason } : {}) });
      throw error instanceof Error && typeof e.code === 'string' ? error : new TwilioRestError('updateWorker', undefined, undefined, undefined);
    }
  }

  return {
    reserved: (reservation) => inOrder(reservation.agentId, () => move(reservation, 'reserve')),
    released: (reservation, reason) => inOrder(reservation.agentId, () => move(reservation, 'release', reason)),
    stuck: () => [...stuck.values()].map((s) => ({ ...s })),
    async retryStuck() {
      for (const s of [...stuck.values()]) {
        await inOrder(s.agentId, async () => {
          // A newer move of this agent (a new reservation) settled it meanwhile: leave it be.
          if (stuck.get(s.agentId) !== s) return;
          await move(s.reservation, 'release', s.reason);
        }).catch(() => undefined);
      }
      return stuck.size;
    },
  };
}
