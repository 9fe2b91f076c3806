/**
 * Everything the runtime needs to execute one flow, prepared once per flow object and
 * cached: its xstate machine, its CEL environments, every expression and template parsed
 * on first use (parse once, evaluate many), and which of its variables hold secure values.
 */
import { compileMachine, type CompiledMachine } from '../compile/machine.js';
import {
  createFlowEnvironment,
  identifiersOf,
  parseExpression,
  type ExpressionScope,
  type FlowEnvironment,
  type ParsedExpression,
} from '../expr/cel.js';
import { parseTemplate, type ParsedTemplate } from '../expr/template.js';
import { parseValidation, type Validation } from '../expr/validate.js';
import type { Flow } from '../model/flow.js';
import type { ValueTypeName } from '../model/primitives.js';

/** A flow that cannot run: the message names the flow, state and field. */
export class FlowRuntimeError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly state?: string,
  ) {
    super(message);
    this.name = 'FlowRuntimeError';
  }
}

/** A flow prepared for execution. */
export class FlowProgram {
  readonly machine: CompiledMachine;
  readonly types: Record<string, ValueTypeName> = {};
  /** Names whose values are secure in this flow (sealed, redacted, never handed on unmasked). */
  readonly secureNames = new Set<string>();
  /** Personal data of the caller (sealed like secure values, kept off agent screens for protected identities). */
  readonly personalNames = new Set<string>();
  private readonly envs = new Map<ExpressionScope, FlowEnvironment>();
  private readonly expressions = new Map<string, ParsedExpression>();
  private readonly templates = new Map<string, ParsedTemplate>();
  private readonly validations = new Map<string, Validation>();

  constructor(readonly flow: Flow) {
    this.machine = compileMachine(flow);
    for (const [name, d] of Object.entries(flow.inputs ?? {})) {
      this.types[name] = d.type;
      if (d.secure) this.secureNames.add(name);
      if (d.personal) this.personalNames.add(name);
    }
    for (const [name, d] of Object.entries(flow.variables ?? {})) {
      this.types[name] = d.type;
      if (d.secure) this.secureNames.add(name);
      if (d.personal) this.personalNames.add(name);
    }
    if (flow.kind === 'secure') {
      // Every value collected in a secure flow is secure, declared so or not.
      for (const state of Object.values(flow.states)) {
        const into = (state as { collect?: { into?: string } }).collect?.into;
        if (into) this.secureNames.add(into);
      }
    }
  }

  /** Parse (once) an expression in a scope; throws FlowRuntimeError on a syntax error. */
  expression(text: string, scope: ExpressionScope = 'plain', state?: string): ParsedExpression {
    const key = `${scope}\u0000${text}`;
    let parsed = this.expressions.get(key);
    if (!parsed) {
      let env = this.envs.get(scope);
      if (!env) {
        env = createFlowEnvironment(this.flow, scope);
        this.envs.set(scope, env);
      }
      const p = parseExpression(env, text);
      if (!p.ok) throw new FlowRuntimeError('EXPRESSION_SYNTAX', `${this.where(state)}: ${p.error.message}`, state);
      parsed = p;
      this.expressions.set(key, parsed);
    }
    return parsed;
  }

  /**
   * Seal these names too (the runtime's information-flow analysis found they can hold a secure
   * or masked value). Only ever adds: a flow shared by two runtimes is sealed by both rules.
   */
  adoptSealed(names: Iterable<string>): void {
    for (const n of names) this.secureNames.add(n);
  }

  /** Is the value of `name` kept in the sealed slot? */
  isSealed(name: string): boolean {
    return this.secureNames.has(name) || this.personalNames.has(name);
  }

  /** Does an expression read personal data? */
  readsPersonal(text: string, scope: ExpressionScope = 'plain'): boolean {
    if (this.personalNames.size === 0) return false;
    return identifiersOf(this.expression(text, scope).ast).some((r) => this.personalNames.has(r.name));
  }

  /** Does an expression read a secure name? */
  readsSecure(text: string, scope: ExpressionScope = 'plain'): boolean {
    if (this.secureNames.size === 0) return false;
    const parsed = this.expression(text, scope);
    return identifiersOf(parsed.ast).some((r) => this.secureNames.has(r.name));
  }

  /** Parse (once) a template; throws FlowRuntimeError on an unterminated `${`. */
  template(text: string, state?: string): ParsedTemplate {
    let parsed = this.templates.get(text);
    if (!parsed) {
      parsed = parseTemplate(text);
      if (parsed.error) throw new FlowRuntimeError('TEMPLATE_SYNTAX', `${this.where(state)}: ${parsed.error.message}`, state);
      this.templates.set(text, parsed);
    }
    return parsed;
  }

  /** Does a template read a secure name? */
  templateReadsSecure(text: string): boolean {
    if (this.secureNames.size === 0) return false;
    return this.template(text).parts.some((p) => p.kind === 'expression' && this.readsSecure(p.text));
  }

  /** Read (once) a collect.validate text. */
  validation(text: string): Validation {
    let v = this.validations.get(text);
    if (!v) {
      v = parseValidation(text);
      this.validations.set(text, v);
    }
    return v;
  }

  private where(state?: string): string {
    return state ? `${this.flow.flow}: states.${state}` : this.flow.flow;
  }
}

const programs = new WeakMap<Flow, FlowProgram>();

/** The program of a flow, prepared once. */
export function programOf(flow: Flow): FlowProgram {
  let p = programs.get(flow);
  if (!p) {
    p = new FlowProgram(flow);
    programs.set(flow, p);
  }
  return p;
}
