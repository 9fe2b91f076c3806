/**
 * `invalid-expression`: a CEL expression or `${}` template that cannot run: a syntax error,
 * a type error (CEL does not mix int and double: `amount * 2` with a `number` amount needs
 * `2.0`), a `switch.when` or `collect.validate` that is not a bool, an invalid regex in
 * `collect.validate`, an unterminated `${`. Unknown names are `undefined-variable`'s.
 */
import type { CelNode, ExpressionError } from '@callflow/flow-core';
import { renderPath } from '../../load/parse-yaml.js';
import { flowExpressions } from '../expressions.js';
import type { Rule } from '../types.js';

/** A hint for CEL's strict numbers: `2` is an int, `2.0` a double. */
function numberHint(error: ExpressionError): string {
  const m = /no such overload: (?:dyn<)?(double|int)>? \S+ (?:dyn<)?(double|int)>?/.exec(error.message);
  if (!m || m[1] === m[2]) return '';
  const args = error.node?.args;
  if (Array.isArray(args)) {
    for (const arg of args as CelNode[]) {
      if (arg && typeof arg === 'object' && arg.op === 'value' && typeof arg.args === 'bigint') {
        return `; CEL does not mix int and double: write ${arg.args.toString()}.0 for a double`;
      }
    }
  }
  return '; CEL does not mix int and double: convert one side with double(...) or int(...)';
}

export const rule: Rule = {
  meta: {
    name: 'invalid-expression',
    description: 'A CEL expression, ${} template or collect.validate that cannot be parsed or type-checked.',
    defaultSeverity: 'error',
    docs: 'docs/rules/invalid-expression.md',
    help: 'Fix the expression at the column shown. CEL is strict about numbers: an int literal is 2, a double 2.0, and the two do not mix without double(...) or int(...). switch.when and CEL validations must be bool.',
  },
  check(ctx) {
    for (const entry of flowExpressions(ctx).entries) {
      const where = renderPath(entry.path);
      if (entry.templateError) {
        const e = entry.templateError;
        ctx.report({ path: entry.path, within: { from: e.from, to: e.to }, message: `${where}: ${e.message}` });
      }
      if (entry.validation?.kind === 'invalid-regex') {
        const v = entry.validation;
        ctx.report({
          path: entry.path,
          within: { from: v.from, to: v.to },
          message: `${where}: invalid regex: ${v.message}; fix the pattern (or write luhn, or a CEL expression over value)`,
        });
      }
      for (const piece of entry.pieces) {
        if (piece.shorthand !== undefined) continue;
        const at = (e: ExpressionError) => ({ from: piece.offset + e.from, to: piece.offset + e.to });
        if (!piece.parsed.ok) {
          const e = piece.parsed.error;
          ctx.report({ path: entry.path, within: at(e), message: `${where}: invalid expression: ${e.message}` });
          continue;
        }
        // an unknown name is undefined-variable's to report, and hides the type of what uses it
        if (piece.reads.some((r) => !entry.env.knows(r.name))) continue;
        const checked = piece.parsed.check();
        if (!checked.ok) {
          const e = checked.error;
          if (e.kind === 'unknown-variable') continue;
          ctx.report({ path: entry.path, within: at(e), message: `${where}: type error: ${e.message}${numberHint(e)}` });
          continue;
        }
        if (entry.mustBeBool && checked.type !== 'bool' && checked.type !== 'dyn') {
          const what = entry.role.kind === 'validate' ? 'a validation' : 'a switch condition';
          ctx.report({
            path: entry.path,
            within: { from: piece.offset, to: piece.offset + piece.text.length },
            message: `${where}: ${what} must be a bool expression, but this one is ${checked.type}; compare it (e.g. == or >) to get true or false`,
          });
        }
      }
    }
  },
};
