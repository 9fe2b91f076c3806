/**
 * `dead-end`: a way out of a state that leads nowhere: a non-terminal state without `next`,
 * a required outcome missing from `on:` (an optional one falls back as the action table
 * says; `error` falls back to the flow's `onError`), a switch with neither `default` nor
 * `next`. The call would stop in the middle of the flow.
 */
import { ACTIONS, missingOutcomes, type OutcomeSpec } from '@callflow/flow-core';
import type { Rule } from '../types.js';

export const rule: Rule = {
  meta: {
    name: 'dead-end',
    description: 'A way out of a non-terminal state (next, a required outcome, a switch default) that leads nowhere.',
    defaultSeverity: 'error',
    docs: 'docs/rules/dead-end.md',
    help: 'Say where the call goes: add next, the missing on.<outcome>, or switch.default.',
  },
  check(ctx) {
    const { graph } = ctx.analysis;
    graph.names.forEach((name, i) => {
      const state = ctx.flow.states[name]!;
      for (const missing of missingOutcomes(ctx.flow, state)) {
        const action = graph.actions[i]!;
        let message: string;
        if (missing.label === 'next') {
          message = `states.${name}: nothing follows this ${action} state; add next (or end the call with transfer or disconnect)`;
        } else if (missing.label === 'default') {
          message = `states.${name}: when no case holds, the switch has nowhere to go; add switch.default (or next)`;
        } else {
          const spec: OutcomeSpec | undefined = ACTIONS[action].outcomes.find((o) => o.name === missing.label);
          const orOnError = spec?.fallback === 'onError' ? ' (or a flow-level onError)' : '';
          message = `states.${name}: outcome '${missing.label}' has nowhere to go; add on.${missing.label}${orOnError}`;
        }
        ctx.report({ path: ['states', name], part: 'key', message });
      }
    });
  },
};
