/**
 * `secure-data-leak`: a secure value (or a masked form of one) would go where it may not:
 * the findings of flow-core's information-flow analysis (docs/rules/secure-data-leak.md is
 * its specification; flow-core's sinks.ts lists every place a value can go). The runtime
 * refuses to run the same states, whether a flow was linted or not.
 */
import { renderPath } from '../../load/parse-yaml.js';
import { securityOf } from '../security.js';
import type { Rule } from '../types.js';

export const rule: Rule = {
  meta: {
    name: 'secure-data-leak',
    description: 'A secure value, or something computed from one, would reach a log, an agent, another system, a recording, or decide the path of the call.',
    defaultSeverity: 'error',
    docs: 'docs/rules/secure-data-leak.md',
    help: 'Pass the masked form last4(x) or mask(x) of the whole secure variable where a value may be released (logs, outputs, transfer data, prompts), or a permitted fact (luhn(x), size(x)); declare the receiving variable, data action or flow input secure: true when it really must hold the value.',
  },
  check(ctx) {
    for (const finding of securityOf(ctx).findings) {
      ctx.report({
        path: finding.path,
        within: { from: finding.culprit.from, to: finding.culprit.to },
        message: `${renderPath(finding.path)}: ${finding.message}`,
      });
    }
  },
};
