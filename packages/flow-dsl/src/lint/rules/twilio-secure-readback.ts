/**
 * `twilio-secure-readback` (provider twilio): a spoken text (say, a prompt, a no-input or
 * no-match prompt) that reads a secure value unmasked. The contract allows reading a value
 * back to the caller, but Twilio receives the text in the TwiML <Say> and keeps it in its
 * request logs: outside the PCI scope this flow is meant to keep.
 */
import { renderPath } from '../../load/parse-yaml.js';
import { SECURE } from '@callflow/flow-core';
import { flowExpressions } from '../expressions.js';
import { securityOf } from '../security.js';
import type { Rule } from '../types.js';

export const rule: Rule = {
  meta: {
    name: 'twilio-secure-readback',
    description: 'With provider twilio, a spoken text reads a secure value back unmasked, which puts it in Twilio\'s request logs.',
    defaultSeverity: 'error',
    docs: 'docs/rules/twilio-secure-readback.md',
    help: 'Read back a masked form (last4(x), mask(x)) or nothing; for card payments use Twilio <Pay>, which keeps card data off your TwiML and logs.',
  },
  check(ctx) {
    if (ctx.project.config.provider !== 'twilio') return;
    const security = securityOf(ctx);
    for (const entry of flowExpressions(ctx).entries) {
      if (entry.role.kind !== 'speech') continue;
      const site = security.siteAt(entry.path);
      const e = site?.label === SECURE ? site.culprit : undefined;
      if (e) {
        ctx.report({
          path: entry.path,
          within: { from: e.from, to: e.to },
          message: `${renderPath(entry.path)}: secure value '${e.name}' is read back in clear; the text goes to Twilio in TwiML and would reach Twilio's request logs: read back last4(${e.name}) or mask(${e.name}), or take card data with <Pay>`,
        });
      }
    }
  },
};
