/**
 * The runtime's typed event bus (eventemitter3). Every payload is redacted before it is
 * emitted: a listener can forward events anywhere without leaking a secure value.
 */
import { EventEmitter } from 'eventemitter3';
import type { ReleaseReason, Reservation } from '../secure/reservations.js';
import type { CallEvent, Command, SessionEnd } from './types.js';

/** Fields every event carries. */
export interface EventBase {
  sessionId: string;
  flow: string;
  /** Milliseconds since the epoch, from the runtime's clock. */
  at: number;
}

/** Every event the runtime emits, by name. */
export interface RuntimeEventMap {
  'session.started': EventBase & { kind: string; secure: boolean; parentSessionId?: string };
  'state.entered': EventBase & { state: string; action: string };
  command: EventBase & { command: Command };
  /** A caller input; secure inputs carry `[secure]` instead of the value. */
  input: EventBase & { state?: string; event: CallEvent };
  'action.started': EventBase & { state: string; action: string };
  'action.succeeded': EventBase & { state: string; action: string; ms: number; attempts: number };
  'action.failed': EventBase & { state: string; action: string; ms: number; attempts: number; outcome: 'error' | 'timeout'; code?: string; message?: string };
  'reservation.reserved': EventBase & { agentId: string; expiresAt: number };
  'reservation.released': EventBase & { agentId: string; reason: ReleaseReason };
  'secure.entered': EventBase & { reservation: 'agent' | 'none' };
  'secure.exited': EventBase & { reason: string };
  /** Something that needs a person: repeated failed authentication, repeated failed lookups from one caller. */
  alert: EventBase & { code: string; message: string; count: number };
  'session.ended': EventBase & { end: SessionEnd };
  error: EventBase & { code: string; message: string; state?: string };
}

/** The name of a runtime event. */
export type RuntimeEventName = keyof RuntimeEventMap;

/** The typed event bus. */
export class RuntimeEvents extends EventEmitter<{ [K in RuntimeEventName]: (payload: RuntimeEventMap[K]) => void }> {}

/** A reservation as events show it (no token). */
export function publicReservation(r: Reservation): { agentId: string; expiresAt: number } {
  return { agentId: r.agentId, expiresAt: r.expiresAt };
}
