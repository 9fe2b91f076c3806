/**
 * `defineFlow`: a flow written in TypeScript instead of YAML. The types catch wrong
 * transitions as you type (see types.ts); at run time the definition is checked against
 * flow-core's zod schema and its transitions, and the result is the same plain `Flow` model
 * that loading the YAML gives.
 */
import { FlowSchema, missingOutcomes, transitionsOf, type Flow } from '@callflow/flow-core';
import { dottedPath, FlowValidationError, type FlowIssue } from './errors.js';
import type { CheckedFlow, FlowDefinitionBase } from './types.js';

/**
 * Define a flow in code. A transition to a state that does not exist, a missing required
 * outcome, an outcome the action does not have and `next`/`on` on a terminal state are type
 * errors; what types cannot see (name formats, durations, the schema's other constraints) is
 * checked at run time.
 *
 * Write the definition inline (or `as const`): the checks need the literal state names. A
 * `Flow` already typed as such goes through `validateFlow` instead.
 *
 * @returns the flow as a plain `Flow` object, equal to the same flow loaded from YAML.
 * @throws FlowValidationError when the definition is not a valid flow.
 */
export function defineFlow<const T extends FlowDefinitionBase>(definition: CheckedFlow<T>): Flow {
  return validateFlow(definition);
}

/**
 * Check any value as a flow (e.g. one built dynamically, or read from JSON): the schema, the
 * transitions' targets, and the required ways out of every state.
 *
 * @returns a copy of the value, typed as `Flow`.
 * @throws FlowValidationError when it is not a valid flow.
 */
export function validateFlow(value: unknown): Flow {
  const name =
    value && typeof value === 'object' && typeof (value as { flow?: unknown }).flow === 'string'
      ? (value as { flow: string }).flow
      : undefined;
  const parsed = FlowSchema.safeParse(value);
  if (!parsed.success) {
    const issues: FlowIssue[] = parsed.error.issues.map((issue) => {
      const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
      return { code: 'schema', path, message: `${dottedPath(path)}: ${issue.message}` };
    });
    throw new FlowValidationError(name, issues);
  }
  // The input, not zod's output: the same keys in the author's order (as YAML keeps them).
  const flow = structuredClone(value) as Flow;
  const issues = transitionIssues(flow);
  if (issues.length > 0) throw new FlowValidationError(name, issues);
  return flow;
}

/** Transitions to states that do not exist, and required ways out that are not given. */
function transitionIssues(flow: Flow): FlowIssue[] {
  const issues: FlowIssue[] = [];
  const has = (state: string): boolean => Object.prototype.hasOwnProperty.call(flow.states, state);
  for (const key of ['start', 'onError', 'onHangup'] as const) {
    const target = flow[key];
    if (target !== undefined && !has(target)) {
      issues.push({ code: 'unknown-state', path: [key], message: `${key}: there is no state '${target}'` });
    }
  }
  for (const [name, state] of Object.entries(flow.states)) {
    for (const t of transitionsOf(name, state)) {
      if (!has(t.target)) {
        issues.push({ code: 'unknown-state', path: t.path, message: `${dottedPath(t.path)}: there is no state '${t.target}'` });
      }
    }
    for (const m of missingOutcomes(flow, state)) {
      const path = m.label === 'next' ? ['states', name, 'next'] : m.label === 'default' ? ['states', name, 'switch', 'default'] : ['states', name, 'on', m.label];
      issues.push({ code: 'dead-end', path, message: `${dottedPath(path)}: missing (${m.reason}); say which state follows` });
    }
  }
  return issues;
}
