/**
 * `return-outside-subflow`: `return` ends a subflow and hands its outputs back to the flow
 * that called it; a flow that is not `kind: subflow` has no caller flow to return to.
 */
import type { Rule } from '../types.js';

export const rule: Rule = {
  meta: {
    name: 'return-outside-subflow',
    description: 'return in a flow that is not kind: subflow (only a subflow has a flow to return to).',
    defaultSeverity: 'error',
    docs: 'docs/rules/return-outside-subflow.md',
    help: 'End the call with transfer or disconnect (or returnToAgent in a secure flow), or make this flow kind: subflow.',
  },
  check(ctx) {
    const { flow } = ctx;
    if (flow.kind === 'subflow') return;
    for (const name of ctx.analysis.statesWith('return')) {
      ctx.report({
        path: ['states', name, 'return'],
        part: 'key',
        message: `states.${name}.return: only a subflow can return, and this flow is kind: ${flow.kind}; end the call with transfer or disconnect instead`,
      });
    }
  },
};
