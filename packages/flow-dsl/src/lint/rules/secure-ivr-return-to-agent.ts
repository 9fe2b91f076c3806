/**
 * `secure-ivr-return-to-agent`: a secure IVR (`kind: secure`, `reservation: none`) has no
 * agent waiting for the caller, so `returnToAgent` cannot work there: every path must end in
 * `transfer` or `disconnect`. A secure flow without `reservation` reserves the agent.
 */
import type { Rule } from '../types.js';

export const rule: Rule = {
  meta: {
    name: 'secure-ivr-return-to-agent',
    description: 'returnToAgent in a secure IVR (kind: secure, reservation: none), where no agent waits.',
    defaultSeverity: 'error',
    docs: 'docs/rules/secure-ivr-return-to-agent.md',
    help: 'End the path with transfer (e.g. to a queue) or disconnect, or set reservation: agent if an agent sends callers here and waits.',
  },
  check(ctx) {
    const { flow } = ctx;
    if (flow.kind !== 'secure' || flow.reservation !== 'none') return;
    for (const name of ctx.analysis.statesWith('returnToAgent')) {
      ctx.report({
        path: ['states', name, 'returnToAgent'],
        part: 'key',
        message: `states.${name}.returnToAgent: this secure IVR (reservation: none) has no agent waiting to take the caller back; end with transfer or disconnect instead`,
      });
    }
  },
};
