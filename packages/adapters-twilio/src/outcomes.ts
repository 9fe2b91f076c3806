/**
 * How a hand-on ended, from Twilio's own words: a `<Dial>`'s `DialCallStatus` or an
 * `<Enqueue>`'s `QueueResult`, with the caller's leg's `CallStatus`. One table, so that every
 * value Twilio documents has a defined answer: the call is over (hang up), or the caller is
 * still on the line and nobody took the call (the fail-safe).
 */
import type { CallEvent } from '@callflow/flow-core';
import { param, type FormParams } from './http.js';

/** The runtime's view of a hand-on's end. */
export type TransferStatus = Extract<CallEvent, { type: 'transferResult' }>['status'];

/** `DialCallStatus` → the runtime's status (also a `connect` state's outcome). */
export const DIAL_STATUS: Readonly<Record<string, TransferStatus>> = {
  // The called party answered; the conversation is over (`answered`: the same, for some legs).
  completed: 'completed',
  answered: 'completed',
  busy: 'busy',
  'no-answer': 'noAnswer',
  failed: 'failed',
  // The dialled leg was cancelled before it was answered.
  canceled: 'failed',
};

/** `QueueResult` → the runtime's status. */
const QUEUE_RESULT: Readonly<Record<string, TransferStatus>> = {
  // Bridged to whoever dequeued the call (the request comes when both sides are done), or on
  // its way there: the call was taken.
  bridged: 'completed',
  'bridging-in-process': 'completed',
  // Moved out of the queue through the REST API: the call runs other TwiML now.
  redirected: 'completed',
  'redirected-from-bridged': 'completed',
  // The caller hung up while waiting.
  hangup: 'completed',
  // Nobody took the call, and the caller is still on the line: the queue was full, the
  // enqueue failed (a bad queue or workflow: `error`; Twilio's side: `system-error`), or the
  // wait TwiML let the caller go (`<Leave>`, e.g. the line closed).
  'queue-full': 'failed',
  error: 'failed',
  'system-error': 'failed',
  leave: 'failed',
};

/** The caller's leg has ended (these `CallStatus` values are final). */
export const TERMINAL_CALL_STATUSES: ReadonlySet<string> = new Set(['completed', 'busy', 'failed', 'no-answer', 'canceled']);

/** How a hand-on ended, and what the caller gets. */
export interface TransferOutcome {
  /** For the runtime's `transferResult`. */
  status: TransferStatus;
  /** Twilio's value, when it is one Twilio documents (for reports); otherwise `unknown`. */
  value: string;
  /** `hangUp`: connected and over, or the caller is gone. `failSafe`: the caller waits and nobody took the call. */
  answer: 'hangUp' | 'failSafe';
}

/**
 * Read a `<Dial>` or `<Enqueue>` action request. A value Twilio does not document (or none)
 * counts as not connected: the caller, if still there, gets the fail-safe rather than silence.
 */
export function transferOutcomeOf(params: FormParams): TransferOutcome {
  const dial = param(params, 'DialCallStatus');
  const queue = dial === undefined ? param(params, 'QueueResult') : undefined;
  const raw = dial ?? queue;
  const known = dial !== undefined ? lookUp(DIAL_STATUS, dial) : queue !== undefined ? lookUp(QUEUE_RESULT, queue) : undefined;
  const status = known ?? 'failed';
  const callerGone = TERMINAL_CALL_STATUSES.has(param(params, 'CallStatus') ?? '');
  return {
    status,
    value: known !== undefined && raw !== undefined ? raw : 'unknown',
    answer: status === 'completed' || callerGone ? 'hangUp' : 'failSafe',
  };
}

/** A table's own entry (never one of Object's: `constructor`, `toString`, ...). */
export function lookUp<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}
