/**
 * `busy-loop`: a loop that never waits on the caller (say, play, set, switch, invoke,
 * callFlow, log, recording ...) and holds no bounded counter. The runtime would spin through
 * it without end: speaking over and over, or hammering a data action.
 *
 * A loop is bounded when a `switch` on it tests a variable that a `set` on it assigns (see
 * util/counters.ts). Every state of such a loop is reported, naming the loop.
 */
import { ACTIONS } from '@callflow/flow-core';
import { stronglyConnected } from '../analysis.js';
import type { Rule } from '../types.js';
import { hasBoundedCounter } from './util/counters.js';
import { listStates } from './util/names.js';

export const rule: Rule = {
  meta: {
    name: 'busy-loop',
    description: 'A loop with no caller interaction and no bounded counter: it would run forever.',
    defaultSeverity: 'error',
    docs: 'docs/rules/busy-loop.md',
    help: 'Break the loop with a caller input (collect, menu) or count the rounds: set a counter on the loop and test it in a switch.',
  },
  check(ctx) {
    const { graph } = ctx.analysis;
    // The graph restricted to states that do not wait on the caller.
    const busy = graph.actions.map((a) => !ACTIONS[a].waitsOnCaller);
    const successors = graph.successors.map((succ, i) => (busy[i] ? succ.filter((j) => busy[j]) : []));
    const { components } = stronglyConnected(successors);
    for (const members of components) {
      const first = members[0]!;
      const isCycle = members.length > 1 || successors[first]!.includes(first);
      if (!isCycle || hasBoundedCounter(ctx.flow, graph, members)) continue;
      const loop = listStates(graph, members);
      for (const i of members) {
        const name = graph.names[i]!;
        ctx.report({
          path: ['states', name],
          part: 'key',
          message: `states.${name}: the loop ${loop} never waits on the caller and has no counter, so it would run forever; wait for caller input on the way, or set a counter and test it in a switch`,
        });
      }
    }
  },
};
