/**
 * A flow compiled into an xstate v5 machine, once per flow object and cached. The machine
 * is the flow's state graph: one xstate state per flow state, one event per way out
 * (`next`, an outcome, `option:KEY`, `case:N`, `default`), with the documented fallbacks
 * (timeout → error, busy → failed, error → onError ...) resolved at compile time, and a
 * final state for every terminal action.
 *
 * It holds no timers (`after`) and no context: a session is restored from its persisted
 * snapshot for each turn, and xstate does not persist delayed transitions (field notes), so
 * time-outs come from the provider or the runtime's clock.
 */
import { createMachine, transition, type AnyMachineSnapshot, type AnyStateMachine } from 'xstate';
import { ACTIONS } from '../model/actions.js';
import type { Flow, FlowState } from '../model/flow.js';
import { actionOf, resolveOutcome, transitionsOf } from '../model/graph.js';

/** The event that takes a way out of the current state. */
export interface OutcomeEvent {
  type: string;
}

/** The machine event for a menu key. */
export const optionEvent = (key: string): string => `option:${key}`;
/** The machine event for a switch case. */
export const caseEvent = (index: number): string => `case:${index}`;

/** A machine cursor for the length of one turn: restored at its start, persisted at its end. */
export interface MachineCursor {
  /** The current state. */
  readonly state: string;
  /** Take a way out; the new state, or undefined when the current state has no such way out. */
  take(event: string): string | undefined;
  /** The persisted snapshot (what a session stores). */
  persist(): unknown;
  stop(): void;
}

/** A compiled flow. */
export interface CompiledMachine {
  machine: AnyStateMachine;
  /** Restore a machine standing in `state` (or from a persisted snapshot). */
  restore(from: string | { value: string }): MachineCursor;
}

const cache = new WeakMap<Flow, CompiledMachine>();

/** Compile (or fetch from the cache) the machine of a flow. */
export function compileMachine(flow: Flow): CompiledMachine {
  const cached = cache.get(flow);
  if (cached) return cached;
  const states: Record<string, object> = {};
  for (const [name, state] of Object.entries(flow.states)) states[name] = stateNode(flow, name, state);
  const machine = createMachine({ id: flow.flow, initial: flow.start, states: states as never });
  // The machines are pure: no context, guards, actions, timers or children. So the step
  // from a state on an event is a function of the two alone: xstate computes it (and the
  // state's persisted snapshot) the first time it is needed, and the compiled flow keeps it.
  // A turn then costs a few map lookups instead of an actor (profiles of busy webhooks showed
  // actor restore, send and persist as a sixth of a turn).
  const resolved = new Map<string, AnyMachineSnapshot>();
  const persisted = new Map<string, Readonly<Record<string, unknown>>>();
  const steps = new Map<string, Map<string, string | null>>();
  const snapshotOf = (value: string): AnyMachineSnapshot => {
    let snapshot = resolved.get(value);
    if (!snapshot) {
      if (!Object.hasOwn(flow.states, value)) throw new Error(`flow '${flow.flow}' has no state '${value}'`);
      snapshot = machine.resolveState({ value, context: {} }) as AnyMachineSnapshot;
      resolved.set(value, snapshot);
    }
    return snapshot;
  };
  const step = (value: string, event: string): string | undefined => {
    let from = steps.get(value);
    if (!from) steps.set(value, (from = new Map()));
    let next = from.get(event);
    if (next === undefined) {
      const snapshot = snapshotOf(value);
      next = snapshot.can({ type: event }) ? (transition(machine, snapshot, { type: event })[0].value as string) : null;
      from.set(event, next);
    }
    return next ?? undefined;
  };
  const persist = (value: string): Readonly<Record<string, unknown>> => {
    let p = persisted.get(value);
    if (!p) {
      p = Object.freeze(machine.getPersistedSnapshot(snapshotOf(value)) as Record<string, unknown>);
      persisted.set(value, p);
    }
    return p;
  };
  const compiled: CompiledMachine = {
    machine,
    restore(from) {
      let value = typeof from === 'string' ? from : from.value;
      snapshotOf(value);
      return {
        get state() {
          return value;
        },
        take(event) {
          const next = step(value, event);
          if (next !== undefined) value = next;
          return next;
        },
        persist: () => persist(value),
        stop: () => undefined,
      };
    },
  };
  cache.set(flow, compiled);
  return compiled;
}

/** The machine event of a transition label from `transitionsOf`. */
export function eventOfLabel(label: string): string {
  if (label.startsWith('option ')) return optionEvent(label.slice('option '.length));
  if (label.startsWith('case ')) return caseEvent(Number(label.slice('case '.length)));
  return label;
}

function stateNode(flow: Flow, name: string, state: FlowState): object {
  const spec = ACTIONS[actionOf(state)];
  if (spec.terminal) return { type: 'final' };
  const on: Record<string, string> = {};
  for (const t of transitionsOf(name, state)) {
    if (flow.states[t.target]) on[eventOfLabel(t.label)] = t.target;
  }
  // Unlisted optional outcomes follow their documented fallback.
  for (const o of spec.outcomes) {
    if (on[o.name] !== undefined) continue;
    const target = resolveOutcome(flow, state, o.name);
    if (target !== undefined && flow.states[target]) on[o.name] = target;
  }
  return { on };
}
