/**
 * `secure-collect-target`: in a `kind: secure` flow every collected value is secure by the
 * contract, so `collect.into` must name a variable declared `secure: true`: the declaration
 * then says what the runtime does (never logged, persisted in clear, shown to an agent).
 */
import { renderPath } from '../../load/parse-yaml.js';
import { flowExpressions } from '../expressions.js';
import type { Rule } from '../types.js';

export const rule: Rule = {
  meta: {
    name: 'secure-collect-target',
    description: 'In a secure flow, collect.into names a variable that is not declared secure: true.',
    defaultSeverity: 'error',
    docs: 'docs/rules/secure-collect-target.md',
    help: 'Add secure: true to the variable that collect.into names: everything a secure flow collects is secure.',
  },
  check(ctx) {
    if (ctx.flow.kind !== 'secure') return;
    const variables = ctx.flow.variables ?? {};
    for (const w of flowExpressions(ctx).writes) {
      if (w.via !== 'collect') continue;
      const decl = variables[w.variable];
      if (!decl || decl.secure === true) continue; // undeclared: undefined-variable reports it
      ctx.report({
        path: w.path,
        message: `${renderPath(w.path)}: '${w.variable}' receives a value collected in a secure flow but is not declared secure; add secure: true to variables.${w.variable}`,
      });
    }
  },
};
