/**
 * `no-terminal-path`: a state (reachable from an entry point) from which no path ends the
 * call: every way on leads round a loop with no way out. Every such state is reported, so
 * the whole trap is visible.
 *
 * A missing transition is `dead-end`'s to report and a transition to a state that does not
 * exist is `unknown-state`'s: both count as exits here, so one forgotten `next` is reported
 * once, where it is missing, rather than on every state before it as well.
 */
import { ACTIONS, missingOutcomes } from '@callflow/flow-core';
import type { FlowAnalysis } from '../analysis.js';
import type { Rule } from '../types.js';
import { listStates } from './util/names.js';

/** 1 for each state from which a terminal action, a dead end or an unknown target is reachable. */
function canLeave(analysis: FlowAnalysis): Uint8Array {
  return analysis.memo('no-terminal-path.canLeave', () => {
    const { graph, flow } = analysis;
    const ok = new Uint8Array(graph.names.length);
    const stack: number[] = [];
    graph.names.forEach((name, i) => {
      const exits =
        ACTIONS[graph.actions[i]!].terminal ||
        graph.transitions[i]!.some((t) => !graph.index.has(t.target)) ||
        missingOutcomes(flow, flow.states[name]!).length > 0;
      if (exits) {
        ok[i] = 1;
        stack.push(i);
      }
    });
    while (stack.length > 0) {
      const j = stack.pop()!;
      for (const i of graph.predecessors[j]!) {
        if (!ok[i]) {
          ok[i] = 1;
          stack.push(i);
        }
      }
    }
    return ok;
  });
}

export const rule: Rule = {
  meta: {
    name: 'no-terminal-path',
    description: 'A state from which no path ends the call (transfer, disconnect, ...): a loop with no way out.',
    defaultSeverity: 'error',
    docs: 'docs/rules/no-terminal-path.md',
    help: 'Give the loop a way out that ends the call: a transition to a transfer, disconnect, returnToAgent or return state.',
  },
  check(ctx) {
    const { analysis } = ctx;
    const { graph } = analysis;
    const reachable = analysis.reachable;
    const ok = canLeave(analysis);
    graph.names.forEach((name, i) => {
      if (!reachable[i] || ok[i]) return;
      const { component, components } = analysis.sccs;
      const c = component[i]!;
      const message = analysis.isCycle(c)
        ? `states.${name}: no path from this state ends the call: it is caught in the loop ${listStates(graph, components[c]!)}; give the loop a way out to a transfer, disconnect or other ending state`
        : `states.${name}: no path from this state ends the call: every way on leads into a loop with no way out; add a way out to a transfer, disconnect or other ending state`;
      ctx.report({ path: ['states', name], part: 'key', message });
    });
  },
};
