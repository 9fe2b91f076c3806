/**
 * `unknown-state`: a transition (next, on.<outcome>, a menu option, a switch case or
 * default) or the flow's `start`, `onError` or `onHangup` names a state the flow does not
 * have. The runtime could not go on from there.
 */
import { closest } from '../../load/did-you-mean.js';
import { renderPath } from '../../load/parse-yaml.js';
import type { Rule } from '../types.js';

// Suggestions cost one edit distance per state; giving them for this many distinct unknown
// names at most keeps the rule linear on a flow that is wrong everywhere.
const MAX_SUGGESTED_NAMES = 20;

export const rule: Rule = {
  meta: {
    name: 'unknown-state',
    description: 'A transition, start, onError or onHangup names a state the flow does not have.',
    defaultSeverity: 'error',
    docs: 'docs/rules/unknown-state.md',
    help: 'Name a state of this flow (state names are case-sensitive), or add the missing state.',
  },
  check(ctx) {
    const graph = ctx.analysis.graph;
    const suggestions = new Map<string, string | undefined>();
    const suggest = (name: string): string => {
      if (!suggestions.has(name)) {
        suggestions.set(name, suggestions.size < MAX_SUGGESTED_NAMES ? closest(name, graph.names) : undefined);
      }
      const s = suggestions.get(name);
      return s === undefined ? '; add that state or name an existing one' : ` (did you mean '${s}'?)`;
    };
    const check = (path: (string | number)[], target: string): void => {
      if (graph.index.has(target)) return;
      ctx.report({ path, message: `${renderPath(path)}: there is no state named '${target}'${suggest(target)}` });
    };
    for (const key of ['start', 'onError', 'onHangup'] as const) {
      const target = ctx.flow[key];
      if (target !== undefined) check([key], target);
    }
    for (const transitions of graph.transitions) {
      for (const t of transitions) check(t.path, t.target);
    }
  },
};
