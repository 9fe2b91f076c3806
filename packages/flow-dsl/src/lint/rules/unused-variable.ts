/**
 * `unused-variable` (warning): a declared variable or input that no expression or template
 * ever reads. Being written (collect.into, set, outputs) is not a use.
 */
import { renderPath } from '../../load/parse-yaml.js';
import { namesRead } from '../expressions.js';
import type { Rule } from '../types.js';

export const rule: Rule = {
  meta: {
    name: 'unused-variable',
    description: 'A declared variable or input that no expression or template reads.',
    defaultSeverity: 'warn',
    docs: 'docs/rules/unused-variable.md',
    help: 'Remove the declaration, or use the value (a variable only ever written holds data for nothing; a secure one is data held for no reason).',
  },
  check(ctx) {
    const read = namesRead(ctx);
    for (const [section, what] of [['variables', 'variable'], ['inputs', 'input']] as const) {
      for (const name of Object.keys(ctx.flow[section] ?? {})) {
        if (read.has(name)) continue;
        const path = [section, name];
        ctx.report({
          path,
          part: 'key',
          message: `${renderPath(path)}: ${what} '${name}' is never read by any expression or template; remove it or use it`,
        });
      }
    }
  },
};
