/**
 * Which variables of a flow can hold a secure value (taint analysis), shared by
 * `secure-data-leak` and `twilio-secure-readback`.
 *
 * Sources: inputs and variables declared `secure: true`; in a `kind: secure` flow, every
 * `collect.into` target; an `invoke.output` that reads a `result` field the config declares
 * `{ secure: true }`. An assignment (set, invoke.output, callFlow.outputs) of an expression
 * that reads a tainted name outside a sanitiser taints its target. Flow-insensitive, solved
 * with a worklist: linear in the number of assignments and reads.
 */
import type { ActionDeclaration, ActionFieldSpec, IdentifierRead } from '@callflow/flow-core';
import { flowExpressions, type ExpressionPiece, type FlowExpression } from './expressions.js';
import type { RuleContext } from './types.js';

/** Why a name holds a secure value. */
export interface TaintFacts {
  /** Tainted names (variables and inputs). */
  tainted: ReadonlySet<string>;
  /** Is the name declared `secure: true` (variable or input)? */
  declaredSecure(name: string): boolean;
}

/** A secure value an expression lets through, and where it is read. */
export interface Exposure {
  /** The tainted name, or `result.FIELD` for a secure action output. */
  name: string;
  from: number;
  to: number;
}

function isSecureField(field: ActionFieldSpec | undefined): boolean {
  return typeof field === 'object' && field !== null && field.secure === true;
}

/** Reads of `result` in an invoke.output that reach a field the config declares secure. */
function secureResultReads(piece: ExpressionPiece, action: ActionDeclaration | undefined): Exposure[] {
  const output = action?.output;
  if (!output) return [];
  const secureFields = Object.keys(output).filter((f) => isSecureField(output[f]));
  if (secureFields.length === 0) return [];
  const out: Exposure[] = [];
  for (const r of piece.reads) {
    if (r.name !== 'result' || r.sanitised) continue;
    if (r.member === undefined) out.push({ name: `result (${secureFields.join(', ')})`, from: r.from, to: r.to });
    else if (secureFields.includes(r.member)) out.push({ name: `result.${r.member}`, from: r.from, to: r.to });
  }
  return out;
}

/** The taint facts of a flow, computed once. */
export function taintFacts(ctx: Pick<RuleContext, 'flow' | 'analysis' | 'project'>): TaintFacts {
  return ctx.analysis.memo('taint', () => computeTaint(ctx));
}

function computeTaint(ctx: Pick<RuleContext, 'flow' | 'analysis' | 'project'>): TaintFacts {
  const { flow } = ctx;
  const secure = new Set<string>();
  for (const [n, d] of Object.entries(flow.variables ?? {})) if (d.secure === true) secure.add(n);
  for (const [n, d] of Object.entries(flow.inputs ?? {})) if (d.secure === true) secure.add(n);

  const tainted = new Set<string>(secure);
  const listing = flowExpressions(ctx);
  if (flow.kind === 'secure') for (const w of listing.writes) if (w.via === 'collect') tainted.add(w.variable);

  // name → targets assigned from an expression that reads it unsanitised
  const dependents = new Map<string, string[]>();
  const actions = ctx.project.config.actions ?? {};
  for (const entry of listing.entries) {
    const role = entry.role;
    const target = role.kind === 'set' || role.kind === 'invoke-output' || role.kind === 'callFlow-output' ? role.variable : undefined;
    if (target === undefined) continue;
    for (const piece of entry.pieces) {
      if (role.kind === 'invoke-output' && secureResultReads(piece, actions[role.action]).length > 0) tainted.add(target);
      for (const r of piece.reads) {
        if (r.sanitised) continue;
        let list = dependents.get(r.name);
        if (!list) dependents.set(r.name, (list = []));
        list.push(target);
      }
    }
  }
  const work = [...tainted];
  while (work.length > 0) {
    const name = work.pop()!;
    for (const t of dependents.get(name) ?? []) {
      if (!tainted.has(t)) {
        tainted.add(t);
        work.push(t);
      }
    }
  }
  return { tainted, declaredSecure: (name) => secure.has(name) };
}

/** The secure values an entry lets through unsanitised, in source order, one per name. */
export function exposures(ctx: Pick<RuleContext, 'flow' | 'analysis' | 'project'>, entry: FlowExpression): Exposure[] {
  const facts = taintFacts(ctx);
  const out: Exposure[] = [];
  const seen = new Set<string>();
  const add = (e: Exposure): void => {
    if (seen.has(e.name)) return;
    seen.add(e.name);
    out.push(e);
  };
  const role = entry.role;
  for (const piece of entry.pieces) {
    if (role.kind === 'invoke-output') {
      for (const e of secureResultReads(piece, ctx.project.config.actions?.[role.action])) add(e);
    }
    for (const r of piece.reads as IdentifierRead[]) if (!r.sanitised && facts.tainted.has(r.name)) add(r);
  }
  return out;
}
