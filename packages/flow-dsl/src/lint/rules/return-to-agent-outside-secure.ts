/**
 * `return-to-agent-outside-secure`: `returnToAgent` reconnects the caller to the agent a
 * secure flow reserved; a flow that is not `kind: secure` has no such agent.
 */
import type { Rule } from '../types.js';

export const rule: Rule = {
  meta: {
    name: 'return-to-agent-outside-secure',
    description: 'returnToAgent in a flow that is not kind: secure (only a secure flow has a reserved agent).',
    defaultSeverity: 'error',
    docs: 'docs/rules/return-to-agent-outside-secure.md',
    help: 'Use transfer (to a queue or user) instead, or make this a kind: secure flow with reservation: agent.',
  },
  check(ctx) {
    const { flow } = ctx;
    if (flow.kind === 'secure') return;
    for (const name of ctx.analysis.statesWith('returnToAgent')) {
      ctx.report({
        path: ['states', name, 'returnToAgent'],
        part: 'key',
        message: `states.${name}.returnToAgent: only a secure flow returns the caller to its reserved agent, and this flow is kind: ${flow.kind}; use transfer instead`,
      });
    }
  },
};
