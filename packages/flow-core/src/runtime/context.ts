/**
 * What a turn needs from the runtime around it (ports, policies, and the few services that
 * reach beyond one session). Kept as an interface so the turn logic can be read alone.
 */
import type { ActionCaller } from '../actions/data-action.js';
import type { Flow } from '../model/flow.js';
import type { SecurityAnalysis } from '../secure/information-flow.js';
import type { LockoutPolicy, LockoutStore } from '../secure/otp.js';
import type { ReleaseReason } from '../secure/reservations.js';
import type { Clock } from './clock.js';
import type { RuntimeEventMap, RuntimeEventName, EventBase } from './events.js';
import type { LogLevel } from './logger.js';
import type { TurnRunner } from './turn.js';
import type { CallInfo } from './types.js';

/** What the runtime does when a flow fails with no handler. */
export interface FailSafe {
  /** Said first (default: an apology). */
  say?: string;
  /** Transfer to this queue; otherwise disconnect. */
  transferQueue?: string;
}

/** The runtime as a turn sees it. */
export interface RuntimeContext {
  readonly flows: ReadonlyMap<string, Flow>;
  readonly actions: ActionCaller;
  readonly clock: Clock;
  readonly maxStepsPerTurn: number;
  /** Subflow calls (callFlow) one session may have in progress at once. */
  readonly maxCallDepth: number;
  readonly failSafe: FailSafe;
  readonly lockouts: LockoutStore;
  readonly lockoutPolicy: LockoutPolicy;
  readonly otp: { digits: number; ttlMs: number };
  /** Where secure values may go in these flows (the analysis lint runs too, made here whatever lint said). */
  readonly security: SecurityAnalysis;
  /** Emit an event for the runner's session (redacted). */
  emit<K extends RuntimeEventName>(runner: TurnRunner, name: K, payload: Omit<RuntimeEventMap[K], keyof EventBase>): void;
  /** Write a log record for the runner's session (redacted). */
  log(runner: TurnRunner, level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
  /** End the session's agent reservation, if it holds one. */
  release(runner: TurnRunner, reason: ReleaseReason): Promise<void>;
  /** Start `flow` as session `sessionId`, carrying on this call (enterSecureFlow, transfer to a flow). */
  handOn(runner: TurnRunner, flow: Flow, inputs: Record<string, unknown>, call: CallInfo, sessionId: string): Promise<void>;
  /** Count a failure of this caller; alerts when they pile up. */
  recordFailure(runner: TurnRunner, kind: string, message: string): void;
}
