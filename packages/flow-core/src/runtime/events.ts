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

type RuntimeListeners = { [K in RuntimeEventName]: (payload: RuntimeEventMap[K]) => void };
type Listener<K extends RuntimeEventName> = EventEmitter.EventListener<RuntimeListeners, K>;
/** A listener as registered: the caller's function, run so that what it throws stays with it. */
type Guarded = ((...args: unknown[]) => void) & { listener: unknown };

/** What a listener threw, and for which event (its payload is left out on purpose). */
export type ListenerErrorHandler = (event: RuntimeEventName, error: unknown, payload: { sessionId?: string; flow?: string }) => void;

/**
 * The typed event bus. A listener that throws does not touch the call: eventemitter3 calls
 * listeners synchronously from the turn, so each one is run inside its own try/catch, the
 * others still run, and what it threw goes to `onListenerError` (the runtime logs it).
 * `listeners()` and `off()` take and give the functions as they were registered.
 */
export class RuntimeEvents extends EventEmitter<RuntimeListeners> {
  constructor(private readonly onListenerError: ListenerErrorHandler = () => {}) {
    super();
  }

  override on<K extends RuntimeEventName>(event: K, fn: Listener<K>, context?: unknown): this {
    return super.on(event, this.guard(event, fn), context);
  }

  override addListener<K extends RuntimeEventName>(event: K, fn: Listener<K>, context?: unknown): this {
    return super.addListener(event, this.guard(event, fn), context);
  }

  override once<K extends RuntimeEventName>(event: K, fn: Listener<K>, context?: unknown): this {
    return super.once(event, this.guard(event, fn), context);
  }

  override removeListener<K extends RuntimeEventName>(event: K, fn?: Listener<K>, context?: unknown, once?: boolean): this {
    if (fn === undefined) return super.removeListener(event, undefined, context, once);
    for (const registered of super.listeners(event) as unknown as Guarded[]) {
      if (registered.listener === fn) super.removeListener(event, registered as unknown as Listener<K>, context, once);
    }
    return this;
  }

  override off<K extends RuntimeEventName>(event: K, fn?: Listener<K>, context?: unknown, once?: boolean): this {
    return this.removeListener(event, fn, context, once);
  }

  override listeners<K extends RuntimeEventName>(event: K): Listener<K>[] {
    return (super.listeners(event) as unknown as Guarded[]).map((g) => g.listener as Listener<K>);
  }

  private guard<K extends RuntimeEventName>(event: K, fn: Listener<K>): Listener<K> {
    const report = this.onListenerError;
    const guarded = function (this: unknown, ...args: unknown[]): void {
      try {
        (fn as (...a: unknown[]) => void).apply(this, args);
      } catch (error) {
        const p = (args[0] ?? {}) as { sessionId?: unknown; flow?: unknown };
        try {
          report(event, error, {
            ...(typeof p.sessionId === 'string' ? { sessionId: p.sessionId } : {}),
            ...(typeof p.flow === 'string' ? { flow: p.flow } : {}),
          });
        } catch {
          // Reporting must not throw into the call either.
        }
      }
    } as Guarded;
    guarded.listener = fn;
    return guarded as unknown as Listener<K>;
  }
}

/** A reservation as events show it (no token). */
export function publicReservation(r: Reservation): { agentId: string; expiresAt: number } {
  return { agentId: r.agentId, expiresAt: r.expiresAt };
}
