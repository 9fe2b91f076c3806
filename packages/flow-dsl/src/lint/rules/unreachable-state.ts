/**
 * `unreachable-state`: a state that no path from an entry point leads to (`start`, and the
 * `onError` and `onHangup` handlers, which the runtime enters). It can never run: usually a
 * transition was forgotten or points at the wrong state.
 */
import type { Rule } from '../types.js';

export const rule: Rule = {
  meta: {
    name: 'unreachable-state',
    description: 'A state that no path from start (or onError / onHangup) leads to.',
    defaultSeverity: 'error',
    docs: 'docs/rules/unreachable-state.md',
    help: 'Add a transition that leads to the state, or remove the state.',
  },
  check(ctx) {
    const { graph } = ctx.analysis;
    // Without a start state every state would be "unreachable": unknown-state reports the
    // cause once instead.
    if (!graph.index.has(ctx.flow.start)) return;
    const reachable = ctx.analysis.reachable;
    graph.names.forEach((name, i) => {
      if (reachable[i]) return;
      ctx.report({
        path: ['states', name],
        part: 'key',
        message: `states.${name}: no path from start leads to this state; add a transition to it or remove it`,
      });
    });
  },
};
