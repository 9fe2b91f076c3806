/**
 * `unbounded-retries` (warning): a loop back through a caller-input state (collect, menu,
 * authenticate) with no limit: no caller-input state of the loop sets `attempts:`, and no
 * `switch` of the loop tests a counter that the loop `set`s. A caller who never gets it
 * right is asked again and again; reported once per loop.
 */
import type { ActionName } from '@callflow/flow-core';
import type { Rule } from '../types.js';
import { hasBoundedCounter } from './util/counters.js';
import { listStates } from './util/names.js';

const CALLER_INPUT: ReadonlySet<ActionName> = new Set(['collect', 'menu', 'authenticate']);

export const rule: Rule = {
  meta: {
    name: 'unbounded-retries',
    description: 'A loop back through a caller input (collect, menu, authenticate) with no attempts limit and no counter.',
    defaultSeverity: 'warn',
    docs: 'docs/rules/unbounded-retries.md',
    help: 'Give a caller-input state on the loop an explicit attempts:, or count the rounds with a set and a switch on the loop.',
  },
  check(ctx) {
    const { analysis, flow } = ctx;
    const { graph } = analysis;
    const { components } = analysis.sccs;
    components.forEach((members, c) => {
      if (!analysis.isCycle(c)) return;
      let firstInput: number | undefined;
      let limited = false;
      for (const i of members) {
        const action = graph.actions[i]!;
        if (!CALLER_INPUT.has(action)) continue;
        firstInput ??= i;
        const body = (flow.states[graph.names[i]!] as Record<string, unknown>)[action] as { attempts?: unknown };
        if (body?.attempts !== undefined) limited = true;
      }
      if (firstInput === undefined || limited || hasBoundedCounter(flow, graph, members)) return;
      const name = graph.names[firstInput]!;
      ctx.report({
        path: ['states', name],
        part: 'key',
        message: `states.${name}: the loop ${listStates(graph, members)} asks the caller again with no limit; give ${graph.actions[firstInput]!}.attempts here, or set a counter on the loop and test it in a switch`,
      });
    });
  },
};
