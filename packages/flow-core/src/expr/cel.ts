/**
 * The CEL wrapper shared by the linter and the runtime: one `Environment` per flow and
 * scope (the flow's inputs and variables with their CEL types, `call`, and `value` or
 * `result` where the language provides them), the library functions flows may call, parse
 * and type-check results as values with character ranges, the identifiers an expression
 * reads, and conversion between flow values and CEL values (ints are `bigint` in CEL).
 */
import { Environment, type ASTNode } from '@marcbachmann/cel-js';

/** A node of a parsed CEL expression (cel-js's AST). */
export type { ASTNode as CelNode };
import type { ValueTypeName } from '../model/primitives.js';
import { luhnValid } from '../secure/redact.js';

/** Where an expression is evaluated: plain, inside `collect.validate` (`value`), or over `result`. */
export type ExpressionScope = 'plain' | 'value' | 'result';

/** The structural limits every flow expression is parsed under (flows are untrusted input). */
export const EXPRESSION_LIMITS = {
  maxAstNodes: 2000,
  maxDepth: 48,
  maxListElements: 256,
  maxMapEntries: 256,
  maxCallArguments: 16,
} as const;

/** The CEL type of each flow value type. */
export const CEL_TYPES: { readonly [K in ValueTypeName]: string } = {
  string: 'string',
  int: 'int',
  number: 'double',
  bool: 'bool',
  map: 'map',
  list: 'list',
};

/** The functions a flow may call besides CEL's standard ones. */
export const LIBRARY_FUNCTIONS = ['mask', 'last4', 'luhn'] as const;

/** `mask("4111111111111111")` → `************1111`: all but the last 4 characters hidden. */
export function mask(text: string): string {
  return text.length <= 4 ? text : '*'.repeat(text.length - 4) + text.slice(-4);
}

/** The last 4 characters. */
export function last4(text: string): string {
  return text.slice(-4);
}

/** Does the digit string pass the Luhn check (card numbers)? Non-digits fail. */
export function luhn(digits: string): boolean {
  return luhnValid(digits);
}

let library: Environment | undefined;

/** The fields of `call`: a typed object, so `call.from` is an error lint reports, not a run-time surprise. */
export const CALL_FIELDS = { caller: 'string', callee: 'string', callId: 'string', provider: 'string' } as const;

/** The environment with the library functions; cloned for each flow, never extended itself. */
function libraryEnvironment(): Environment {
  if (library) return library;
  library = new Environment({ limits: { ...EXPRESSION_LIMITS } })
    .registerFunction('mask(string): string', mask)
    .registerFunction('last4(string): string', last4)
    .registerFunction('luhn(string): bool', luhn)
    .registerType('Call', { fields: { ...CALL_FIELDS } });
  return library;
}

/** What a flow environment needs to know: the declared inputs and variables with their types. */
export interface FlowDeclarations {
  inputs?: Readonly<Record<string, { type: ValueTypeName }>> | undefined;
  variables?: Readonly<Record<string, { type: ValueTypeName }>> | undefined;
}

/** A CEL environment for one flow and scope, with the names it declares. */
export interface FlowEnvironment {
  readonly scope: ExpressionScope;
  readonly env: Environment;
  /** Names an expression may read here: inputs, variables, `call`, and `value`/`result`. */
  readonly names: ReadonlySet<string>;
  /** Is `name` known here (declared, or one of CEL's own such as `int` or `cel`)? */
  knows(name: string): boolean;
}

/**
 * A CEL environment for a flow: each input and variable with its CEL type, `call` (caller,
 * callee, callId, provider), and `value` (string) in the `value` scope or `result` (map) in
 * the `result` scope. A name CEL reserves (`int`, `map`...) cannot be declared and is skipped.
 */
export function createFlowEnvironment(flow: FlowDeclarations, scope: ExpressionScope = 'plain'): FlowEnvironment {
  const env = libraryEnvironment().clone();
  const names = new Set<string>();
  const declare = (name: string, type: string): void => {
    if (names.has(name)) return;
    try {
      env.registerVariable(name, type);
      names.add(name);
    } catch {
      // a CEL built-in name (int, map, cel...): the built-in keeps it
    }
  };
  if (scope === 'value') declare('value', 'string');
  if (scope === 'result') declare('result', 'map');
  for (const [name, decl] of Object.entries(flow.variables ?? {})) declare(name, CEL_TYPES[decl.type] ?? 'dyn');
  for (const [name, decl] of Object.entries(flow.inputs ?? {})) declare(name, CEL_TYPES[decl.type] ?? 'dyn');
  declare('call', 'Call');
  return { scope, env, names, knows: (name) => names.has(name) || env.hasVariable(name) };
}

/** A problem in an expression, with the characters it concerns (offsets into the expression). */
export interface ExpressionError {
  kind: 'syntax' | 'type' | 'unknown-variable';
  /** One line, without the source excerpt CEL adds. */
  message: string;
  from: number;
  to: number;
  /** The CEL AST node the error is attached to, if any. */
  node?: ASTNode;
}

/** A parsed expression, ready to check or evaluate many times. */
export interface ParsedExpression {
  ok: true;
  text: string;
  ast: ASTNode;
  /** Evaluate with CEL values (see `toCelValue`); throws CEL's EvaluationError. */
  evaluate(context: Record<string, unknown>): unknown;
  /** Type-check (cached after the first call). */
  check(): CheckResult;
}

/** A parse failure. */
export interface ParseFailure {
  ok: false;
  text: string;
  error: ExpressionError;
}

/** The outcome of a type check. */
export type CheckResult = { ok: true; type: string } | { ok: false; error: ExpressionError };

interface CelErrorLike {
  summary?: string;
  message?: string;
  range?: { start: number; end: number };
  node?: { pos?: number; start?: number; end?: number };
}

function toExpressionError(error: unknown, kind: 'syntax' | 'type', length: number): ExpressionError {
  const e = (error ?? {}) as CelErrorLike;
  const message = (e.summary ?? e.message ?? String(error)).split('\n')[0]!;
  const from = e.range?.start ?? e.node?.start ?? e.node?.pos ?? 0;
  const to = e.range?.end ?? e.node?.end ?? from;
  const unknown = kind === 'type' && message.startsWith('Unknown variable');
  const out: ExpressionError = {
    kind: unknown ? 'unknown-variable' : kind,
    message,
    from: Math.max(0, Math.min(from, length)),
    to: Math.max(0, Math.min(Math.max(to, from), length)),
  };
  const node = (e as { node?: unknown }).node;
  if (node && typeof node === 'object' && 'op' in node && 'args' in node) out.node = node as ASTNode;
  return out;
}

/** Parse an expression in an environment: the AST, or a syntax error with its characters. */
export function parseExpression(flowEnv: FlowEnvironment, text: string): ParsedExpression | ParseFailure {
  let parsed: ReturnType<Environment['parse']>;
  try {
    parsed = flowEnv.env.parse(text);
  } catch (error) {
    return { ok: false, text, error: toExpressionError(error, 'syntax', text.length) };
  }
  let checked: CheckResult | undefined;
  return {
    ok: true,
    text,
    ast: parsed.ast,
    evaluate: (context) => parsed(context),
    check() {
      if (checked) return checked;
      try {
        const r = parsed.check();
        checked = r.valid
          ? { ok: true, type: r.type ?? 'dyn' }
          : { ok: false, error: toExpressionError(r.error, 'type', text.length) };
      } catch (error) {
        checked = { ok: false, error: toExpressionError(error, 'type', text.length) };
      }
      return checked;
    },
  };
}

/** Parse and type-check an expression: its CEL type, or the first syntax or type error. */
export function checkExpression(flowEnv: FlowEnvironment, text: string): CheckResult {
  const parsed = parseExpression(flowEnv, text);
  return parsed.ok ? parsed.check() : { ok: false, error: parsed.error };
}

/** An identifier an expression reads, with its characters. */
export interface IdentifierRead {
  name: string;
  from: number;
  to: number;
  /** The field selected right after the name: `result.reference` and `result["reference"]` give `reference`. */
  member?: string;
}

/** Macros whose first argument names a loop variable bound in the other arguments. */
const BINDING_MACROS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);

interface Frame {
  node: ASTNode;
  bound: ReadonlySet<string> | undefined;
  member?: string;
}

/**
 * The free identifiers an expression reads, in source order. `a.b` reads `a`; loop variables
 * of `exists`/`all`/`map`/`filter` and `cel.bind` are not reads. Iterative, so a deep AST cannot
 * overflow the stack. (What a read reveals is the information-flow analysis's to say:
 * secure/information-flow.ts.)
 */
export function identifiersOf(ast: ASTNode): IdentifierRead[] {
  const out: IdentifierRead[] = [];
  const stack: Frame[] = [{ node: ast, bound: undefined }];
  const push = (node: unknown, bound: ReadonlySet<string> | undefined, member?: string): void => {
    if (!node || typeof node !== 'object' || !('op' in node)) return;
    stack.push(member === undefined ? { node: node as ASTNode, bound } : { node: node as ASTNode, bound, member });
  };
  const withBound = (bound: ReadonlySet<string> | undefined, name: string): ReadonlySet<string> => {
    const next = new Set(bound ?? []);
    next.add(name);
    return next;
  };
  while (stack.length > 0) {
    const { node, bound, member } = stack.pop()!;
    const op = node.op as string;
    const args = node.args as unknown;
    switch (op) {
      case 'value':
        break;
      case 'id': {
        const name = args as string;
        if (!bound?.has(name)) {
          out.push(member === undefined ? { name, from: node.start, to: node.end } : { name, from: node.start, to: node.end, member });
        }
        break;
      }
      case '.':
      case '.?': {
        const [object, field] = args as [ASTNode, string];
        push(object, bound, typeof field === 'string' ? field : undefined);
        break;
      }
      case '[]':
      case '[?]': {
        const [object, index] = args as [ASTNode, ASTNode];
        push(index, bound);
        const key = index.op === 'value' && typeof index.args === 'string' ? index.args : undefined;
        push(object, bound, key);
        break;
      }
      case 'call': {
        const [, list] = args as [string, ASTNode[]];
        for (let i = list.length - 1; i >= 0; i--) push(list[i], bound);
        break;
      }
      case 'rcall': {
        const [name, receiver, list] = args as [string, ASTNode, ASTNode[]];
        const first = list[0] as ASTNode | undefined;
        if (name === 'bind' && receiver.op === 'id' && receiver.args === 'cel' && first?.op === 'id' && list.length === 3) {
          push(list[2], withBound(bound, first.args as string));
          push(list[1], bound);
          break;
        }
        if (BINDING_MACROS.has(name) && first?.op === 'id' && list.length >= 2) {
          const inner = withBound(bound, first.args as string);
          for (let i = list.length - 1; i >= 1; i--) push(list[i], inner);
          push(receiver, bound);
          break;
        }
        for (let i = list.length - 1; i >= 0; i--) push(list[i], bound);
        push(receiver, bound);
        break;
      }
      case 'map': {
        const entries = args as [ASTNode, ASTNode][];
        for (let i = entries.length - 1; i >= 0; i--) {
          push(entries[i]![1], bound);
          push(entries[i]![0], bound);
        }
        break;
      }
      default: {
        if (Array.isArray(args)) for (let i = args.length - 1; i >= 0; i--) push(args[i], bound);
        else push(args, bound);
      }
    }
  }
  return out;
}

/** A flow value as CEL wants it: `int` as bigint, `number` as double, nested numbers as doubles. */
export function toCelValue(value: unknown, type?: ValueTypeName): unknown {
  if (type === 'int') {
    if (typeof value === 'bigint') return value;
    if (typeof value === 'number' && Number.isFinite(value)) return BigInt(Math.trunc(value));
    if (typeof value === 'string' && /^-?\d+$/.test(value.trim())) return BigInt(value.trim());
    return value;
  }
  if (type === 'number') {
    if (typeof value === 'bigint') return Number(value);
    if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
    return value;
  }
  if (type === 'string' && (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean')) {
    return String(value);
  }
  return value;
}

/**
 * A CEL result as a plain JSON-safe value: bigint becomes a number (a string when it does not
 * fit a double exactly), `Map` an object, bytes base64. `JSON.stringify` cannot take bigint.
 */
export function fromCelValue(value: unknown): unknown {
  // iterative over containers so a deep value cannot overflow the stack
  const convert = (v: unknown): unknown => {
    if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
    if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
    return v;
  };
  const root = { v: value };
  const work: [Record<string, unknown> | unknown[], string | number][] = [[root as Record<string, unknown>, 'v']];
  while (work.length > 0) {
    const [holder, key] = work.pop()!;
    const v = (holder as Record<string | number, unknown>)[key];
    let next: unknown;
    if (Array.isArray(v)) {
      const copy = v.slice();
      next = copy;
      copy.forEach((_, i) => work.push([copy, i]));
    } else if (v instanceof Map) {
      const copy: Record<string, unknown> = {};
      for (const [k, x] of v) copy[String(k)] = x;
      next = copy;
      for (const k of Object.keys(copy)) work.push([copy, k]);
    } else if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array) && Object.getPrototypeOf(v) === Object.prototype) {
      const copy: Record<string, unknown> = { ...(v as Record<string, unknown>) };
      next = copy;
      for (const k of Object.keys(copy)) work.push([copy, k]);
    } else next = convert(v);
    (holder as Record<string | number, unknown>)[key] = next;
  }
  return root.v;
}

/** Evaluate a parsed expression over flow values (converted with their declared types). */
export function evaluateExpression(
  parsed: ParsedExpression,
  values: Record<string, unknown>,
  types: Readonly<Record<string, ValueTypeName>> = {},
): unknown {
  const context: Record<string, unknown> = {};
  for (const [name, v] of Object.entries(values)) context[name] = toCelValue(v, types[name]);
  return parsed.evaluate(context);
}
