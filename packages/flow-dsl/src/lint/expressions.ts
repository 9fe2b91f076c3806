/**
 * The flow's expression listing (flow-core's `expressionSites`: every CEL expression and
 * template with its role and the identifiers it reads, and every variable write), cached per
 * flow with `analysis.memo` for the expression rules and the secure data-flow rules.
 */
import { expressionSites, type FlowExpressions } from '@callflow/flow-core';
import type { RuleContext } from './types.js';

export type {
  ExpressionRole,
  ExpressionPiece,
  FlowExpression,
  FlowExpressions,
  VariableWrite,
} from '@callflow/flow-core';

/** The listing, computed once per flow. */
export function flowExpressions(ctx: Pick<RuleContext, 'flow' | 'analysis'>): FlowExpressions {
  return ctx.analysis.memo('expressions', () => expressionSites(ctx.flow));
}

/** Every identifier read by the flow (for `unused-variable`), counting names in text that did not parse. */
export function namesRead(ctx: Pick<RuleContext, 'flow' | 'analysis'>): ReadonlySet<string> {
  return ctx.analysis.memo('expressions.namesRead', () => {
    const read = new Set<string>();
    for (const entry of flowExpressions(ctx).entries) {
      const broken = entry.templateError !== undefined || entry.pieces.some((p) => !p.parsed.ok);
      if (broken) {
        // the text could not be read as CEL: count every name-like word, so a typo is not
        // reported twice (invalid-expression, then unused-variable for what it meant to read)
        for (const m of entry.text.matchAll(/[A-Za-z_][A-Za-z0-9_]*/g)) read.add(m[0]);
      }
      for (const p of entry.pieces) for (const r of p.reads) read.add(r.name);
    }
    return read;
  });
}
