/**
 * The "bounded counter" test that `busy-loop` and `unbounded-retries` share: a loop is
 * bounded when a `switch` on it tests a variable that a `set` on the same loop assigns
 * (`set: { tries: tries + 1 }` … `when: tries >= 3`). The test reads the CEL text for
 * identifiers rather than parsing it, so it stays linear in the size of the expressions.
 */
import type { Flow } from '@callflow/flow-core';
import type { StateGraph } from '../../analysis.js';

// String literals first (a name inside quotes is not a variable), then identifiers that are
// not a field access (`call.tries` reads the field `tries`, not a variable).
const STRING_LITERAL = /"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'/g;
const IDENTIFIER = /(?<![.\w])[A-Za-z_][A-Za-z0-9_]*/g;

/** The variable names an expression mentions (a superset: CEL keywords and functions too). */
export function identifiersOf(expression: unknown): string[] {
  if (typeof expression !== 'string') return [];
  return expression.replace(STRING_LITERAL, '""').match(IDENTIFIER) ?? [];
}

/**
 * Does the loop made of `members` (state indexes) hold a counter: a `switch` whose `when`
 * mentions a variable that a `set` of the loop assigns? Linear in the members' size.
 */
export function hasBoundedCounter(flow: Flow, graph: StateGraph, members: readonly number[]): boolean {
  const assigned = new Set<string>();
  for (const i of members) {
    if (graph.actions[i] !== 'set') continue;
    const body = (flow.states[graph.names[i]!] as { set?: Record<string, unknown> }).set;
    if (body && typeof body === 'object') for (const name of Object.keys(body)) assigned.add(name);
  }
  if (assigned.size === 0) return false;
  for (const i of members) {
    if (graph.actions[i] !== 'switch') continue;
    const body = (flow.states[graph.names[i]!] as { switch?: { cases?: { when?: unknown }[] } }).switch;
    for (const c of body?.cases ?? []) {
      if (identifiersOf(c.when).some((name) => assigned.has(name))) return true;
    }
  }
  return false;
}
