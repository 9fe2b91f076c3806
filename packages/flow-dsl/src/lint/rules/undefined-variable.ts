/**
 * `undefined-variable`: an expression reads a name that is not an input, a variable, `call`,
 * or the scope's `value` (collect.validate) / `result` (invoke.output, callFlow.outputs); or
 * collect.into, a set key or an output key names a variable that is not declared.
 */
import { didYouMean } from '../../load/did-you-mean.js';
import { renderPath } from '../../load/parse-yaml.js';
import { flowExpressions } from '../expressions.js';
import type { Rule } from '../types.js';

const SCOPE_HINT: Record<string, string> = {
  value: '; value is only defined inside collect.validate',
  result: '; result is only defined inside invoke.output and callFlow.outputs',
};

export const rule: Rule = {
  meta: {
    name: 'undefined-variable',
    description: 'An expression reads, or an assignment writes, a name that the flow does not declare.',
    defaultSeverity: 'error',
    docs: 'docs/rules/undefined-variable.md',
    help: 'Declare the name under variables (or inputs), or fix its spelling. Expressions may read inputs, variables and call; value inside collect.validate; result inside invoke.output and callFlow.outputs.',
  },
  check(ctx) {
    const { flow } = ctx;
    const variables = new Set(Object.keys(flow.variables ?? {}));
    const inputs = new Set(Object.keys(flow.inputs ?? {}));
    const listing = flowExpressions(ctx);
    for (const entry of listing.entries) {
      const where = renderPath(entry.path);
      const candidates = [...entry.env.names];
      for (const piece of entry.pieces) {
        const reported = new Set<string>();
        for (const r of piece.reads) {
          if (entry.env.knows(r.name) || reported.has(r.name)) continue;
          reported.add(r.name);
          ctx.report({
            path: entry.path,
            within: { from: r.from, to: r.to },
            message: `${where}: unknown variable '${r.name}'${didYouMean(r.name, candidates)}${SCOPE_HINT[r.name] ?? '; declare it under variables (or inputs)'}`,
          });
        }
      }
    }
    for (const w of listing.writes) {
      if (variables.has(w.variable)) continue;
      const where = renderPath(w.path);
      const message = inputs.has(w.variable)
        ? `${where}: '${w.variable}' is an input, and inputs cannot be assigned; declare a variable to hold the new value`
        : `${where}: '${w.variable}' is not a declared variable${didYouMean(w.variable, variables)}; declare it under variables`;
      ctx.report({ path: w.path, part: w.part, message });
    }
  },
};
