/**
 * `duplicate-option`: a menu lists the same key twice (`1:` and `"1":`, or the same key
 * written again). YAML keeps only the last, so one of the branches silently disappears.
 */
import type { Rule } from '../types.js';

export const rule: Rule = {
  meta: {
    name: 'duplicate-option',
    description: 'A menu lists the same key twice; only the last one would take effect.',
    defaultSeverity: 'error',
    docs: 'docs/rules/duplicate-option.md',
    help: 'Give each menu key once. A key written as 1 and as "1" is the same key.',
  },
  check(ctx) {
    for (const dup of ctx.source.duplicateKeys) {
      const p = dup.path;
      if (p.length === 5 && p[0] === 'states' && p[2] === 'menu' && p[3] === 'options') {
        ctx.report({
          path: p,
          part: 'key',
          message: `states.${String(p[1])}.menu: option '${dup.key}' is listed twice (first at line ${dup.firstLine}); only the last one would take effect`,
        });
      }
    }
  },
};
