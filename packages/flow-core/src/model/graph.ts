/**
 * The transition structure of a flow: which action a state holds, where each of its ways
 * out leads, and which required ways out are missing. Shared by the linter's path rules and
 * the runtime's compiler so both read a flow the same way.
 */
import { ACTIONS, isActionName, type ActionName, type ActionSpec } from './actions.js';
import type { Flow, FlowState } from './flow.js';

/** A path into the flow object (keys and list indexes). */
export type ModelPath = (string | number)[];

/** One way out of a state. */
export interface Transition {
  /** `next`, an outcome name, a menu key (`option 1`), a switch case (`case 0`) or `default`. */
  label: string;
  /** The state it leads to. */
  target: string;
  /** Where the target is written, from the flow's root. */
  path: ModelPath;
}

/** The action key of a state. */
export function actionOf(state: FlowState): ActionName {
  for (const key of Object.keys(state)) if (isActionName(key)) return key;
  throw new Error('state without an action (the schema admits none)');
}

/** The spec of a state's action. */
export function specOf(state: FlowState): ActionSpec {
  return ACTIONS[actionOf(state)];
}

/** The body of a state's action (what is written under the action key). */
export function bodyOf(state: FlowState): unknown {
  return (state as Record<string, unknown>)[actionOf(state)];
}

/** Every written transition of a state, in document order. */
export function transitionsOf(name: string, state: FlowState): Transition[] {
  const out: Transition[] = [];
  const base: ModelPath = ['states', name];
  const s = state as Record<string, unknown>;
  const action = actionOf(state);
  if (action === 'menu') {
    const options = (s.menu as { options?: Record<string, string> }).options ?? {};
    for (const [key, target] of Object.entries(options)) {
      out.push({ label: `option ${key}`, target, path: [...base, 'menu', 'options', key] });
    }
  }
  if (action === 'switch') {
    const body = s.switch as { cases?: { goto: string }[]; default?: string };
    (body.cases ?? []).forEach((c, i) => out.push({ label: `case ${i}`, target: c.goto, path: [...base, 'switch', 'cases', i, 'goto'] }));
    if (typeof body.default === 'string') out.push({ label: 'default', target: body.default, path: [...base, 'switch', 'default'] });
  }
  if (typeof s.next === 'string') out.push({ label: 'next', target: s.next, path: [...base, 'next'] });
  const on = s.on as Record<string, string> | undefined;
  if (on && typeof on === 'object') {
    for (const [outcome, target] of Object.entries(on)) {
      if (typeof target === 'string') out.push({ label: outcome, target, path: [...base, 'on', outcome] });
    }
  }
  return out;
}

/** A required way out that the state does not give. */
export interface MissingOutcome {
  /** `next`, an outcome name, or `default` for a switch. */
  label: string;
  /** Why it is needed. */
  reason: string;
}

/**
 * The ways out a state must give and does not. An optional outcome whose fallback is the
 * flow's `onError` counts as given when the flow has one.
 */
export function missingOutcomes(flow: Flow, state: FlowState): MissingOutcome[] {
  const spec = specOf(state);
  const s = state as Record<string, unknown>;
  if (spec.terminal) return [];
  if (spec.name === 'switch') {
    const body = s.switch as { default?: string };
    if (body.default === undefined && s.next === undefined) {
      return [{ label: 'default', reason: 'no case may hold: give switch.default (or next)' }];
    }
    return [];
  }
  if (spec.transitions === 'next') {
    return s.next === undefined ? [{ label: 'next', reason: `a ${spec.name} state needs next` }] : [];
  }
  const on = (s.on ?? {}) as Record<string, unknown>;
  const missing: MissingOutcome[] = [];
  for (const o of spec.outcomes) {
    if (on[o.name] !== undefined) continue;
    if (o.required) {
      if (o.fallback === 'onError' && flow.onError !== undefined) continue;
      missing.push({ label: o.name, reason: o.description });
    }
  }
  return missing;
}

/** Where an outcome goes, following the documented fallbacks; undefined when nowhere. */
export function resolveOutcome(flow: Flow, state: FlowState, outcome: string): string | undefined {
  const spec = specOf(state);
  const on = ((state as Record<string, unknown>).on ?? {}) as Record<string, string | undefined>;
  let current: string | undefined = outcome;
  const seen = new Set<string>();
  while (current !== undefined && !seen.has(current)) {
    seen.add(current);
    const target = on[current];
    if (target !== undefined) return target;
    const o = spec.outcomes.find((x) => x.name === current);
    if (!o?.fallback) return undefined;
    if (o.fallback === 'onError') return flow.onError;
    current = o.fallback;
  }
  return undefined;
}
