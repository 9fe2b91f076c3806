/**
 * The information-flow analysis of secure values, shared by the linter (which reports what it
 * finds) and the runtime (which refuses to run a state where a value would leak, whether or not
 * the flow was linted). The specification is docs/rules/secure-data-leak.md; in short:
 *
 * - Every value has a label: clear < masked < secure. Sources of secure values: inputs and
 *   variables declared `secure: true`, every `collect.into` of a `kind: secure` flow, and the
 *   output fields of a data action declared secure.
 * - An expression's label is the highest label it reads, through every operator, function,
 *   macro, list, map and ternary (the condition of a ternary included: the value chosen is as
 *   secure as the condition). Exceptions, each revealing a documented few bits:
 *   `luhn(v)`, `size(v)` / `v.size()`, `v == w` / `v != w` of two secure values, `v == ""`,
 *   and `v.startsWith("…")` with at most 6 characters of a card-length value (the BIN),
 *   all only of a whole pure secure variable `v`.
 * - Declassification: exactly `last4(v)` or `mask(v)` of a whole pure secure variable `v`
 *   that is long enough (collected with at least 12 digits, or `validate: luhn`, or declared
 *   `declassify: last4`) and not declared `declassify: never` gives a masked value. A masked
 *   value may go only where a flow may release one (sinks.ts: logs, outputs, transfer data,
 *   and what the caller hears).
 * - Pure: a secure variable or input whose value is exactly what came in (keyed in by the
 *   caller, handed in whole by the caller of the flow), never assigned from an expression.
 * - Variables take the highest label ever assigned to them (flow-insensitive), across flows
 *   through callFlow / enterSecureFlow / transfer inputs and subflow outputs: a fixpoint over
 *   the project, each expression re-labelled only when a name it reads changed.
 * - A branch on a secure value (a switch case, a validation reading another secure value
 *   beyond permitted facts) is reported as an implicit flow: the path the call takes would
 *   reveal it. In a secure flow, a menu's key is secure: until its options join again, what
 *   is stored, handed on or sent to a data action is secure.
 * - The number dialled or texted, and a secure data action's input, take secure values only
 *   whole; a read-back only while the recording is paused (a secure entry keyed in on a
 *   running recording is listed apart: its tones are the recorder's concern).
 */
import type { ASTNode } from '@marcbachmann/cel-js';
import type { Flow } from '../model/flow.js';
import { transitionsOf } from '../model/graph.js';
import { expressionSites, type ExpressionRole, type FlowExpression, type SitePath } from '../model/sites.js';
import { sinkOf, sinkWhere, type SinkClass } from './sinks.js';

/** A value's label: 0 clear, 1 masked, 2 secure. */
export type Label = 0 | 1 | 2;
/** Labels by name. */
export const CLEAR: Label = 0;
export const MASKED: Label = 1;
export const SECURE: Label = 2;

/** The declassification a secure value allows (see `VariableDecl.declassify`). */
type DeclassifyVerdict = true | 'not-pure' | 'short' | 'never';

/** What the analysis needs to know about a data action. */
export interface ActionSecurity {
  /** May receive secure values. */
  secure?: boolean;
  /** Input fields that may receive secure values (the action itself not being secure). */
  secureInputs?: readonly string[];
  /** Output fields that hold secure values. */
  secureOutputs?: readonly string[];
}

/** Looks a data action up by name; undefined when it is not known (lint gives it the benefit of the doubt). */
export type ActionSecurityLookup = (name: string) => ActionSecurity | undefined;

/** The secure read an expression's label comes from (offsets in the site's text). */
export interface Culprit {
  name: string;
  from: number;
  to: number;
  label: Label;
  /** Read inside last4()/mask(), which did not declassify it: why. */
  refused?: Exclude<DeclassifyVerdict, true>;
  /** Not a read: the site is where a secure flow's menu branch is still open (the menu's state). */
  menu?: string;
}

/** The label of one expression site. */
export interface SiteLabel {
  label: Label;
  culprit?: Culprit;
  /** Names declassified by last4()/mask() here (the runtime checks their length before it evaluates). */
  declassified: string[];
  /** The expression is one whole variable. */
  whole?: boolean;
  /** Its secure parts are whole variables joined with `+` (nothing computed from a secure value). */
  joined?: boolean;
}

/** What a finding is. */
export type FindingKind = 'leak' | 'store' | 'implicit' | 'recorded' | 'whole';

/** A place where a secure (or masked) value would go where it may not. Names only, never values. */
export interface LeakFinding {
  flow: string;
  state: string;
  path: SitePath;
  role: ExpressionRole;
  kind: FindingKind;
  culprit: Culprit;
  /** One sentence, naming the value and where it would go. */
  message: string;
  /** Holds only while the call recording runs: the runtime checks it when the text is spoken. */
  whileRecording?: boolean;
}

/** The facts about one flow. */
export interface FlowSecurity {
  readonly flow: string;
  /** The label of a variable or input. */
  label(name: string): Label;
  /** Names whose values are secure (kept sealed, redacted, never emitted). */
  readonly secure: ReadonlySet<string>;
  /** Names whose values are secure or masked (kept in the sealed slot). */
  readonly sealed: ReadonlySet<string>;
  /** Every finding, in document order. */
  readonly findings: readonly LeakFinding[];
  /** Secure entries (`collect.into`) keyed in where the recording may run: their tones would be recorded. */
  readonly recordedEntries: readonly LeakFinding[];
  /** The first finding of a state that holds whatever the recording does (stores aside: they leave nothing). */
  blockedAt(state: string): LeakFinding | undefined;
  /** The first finding of a state that holds while the call recording runs (a secure read-back). */
  recordedAt(state: string): LeakFinding | undefined;
  /** The secure variables a state declassifies with last4()/mask(). */
  declassifiedAt(state: string): readonly string[];
  /** The label of the site at `path` (undefined for a path that is no site). */
  siteAt(path: SitePath): SiteLabel | undefined;
  /** Is the call recording paused whenever this state runs (on every path)? */
  recordingPausedAt(state: string): boolean;
}

/** The analysis of a set of flows. */
export interface SecurityAnalysis {
  /** The facts of a flow, by name. */
  flow(name: string): FlowSecurity | undefined;
}

const DECLASSIFIERS = new Set(['last4', 'mask']);
const BIN_LENGTH = 6;
/** The shortest value last4/mask may declassify: 4 shown, at least 8 hidden. */
export const MIN_DECLASSIFY_LENGTH = 12;

interface NameState {
  label: Label;
  /** Declared secure or collected in a secure flow: a source. */
  source: boolean;
  /** Assigned from an expression somewhere (or handed in as one): not pure. */
  impure: boolean;
  /**
   * Shortest length its writers guarantee: a collect's digits, what every flow handing it in
   * knows of what it hands in, 0 for a data action's answer (Infinity: no writer yet).
   */
  minLength: number;
  /** Something writes it (a collect, a data action's answer, a flow handing it in). */
  written: boolean;
  /** A data action's answer is written into it whole (its length is the action's to say). */
  answered?: boolean;
  /** An input (flows of the project may hand it in). */
  input?: boolean;
  declassify?: 'never' | 'last4';
}

interface FlowFacts {
  flow: Flow;
  names: Map<string, NameState>;
  outputs: Map<string, Label>;
  sites: FlowExpression[];
  labels: SiteLabel[];
  /** It, or a subflow it calls, has a `recording: resume` (computed when first asked). */
  resumes?: boolean;
  /**
   * States where a branch on what the caller keyed into a secure flow's menu is still open
   * (from the options to where the paths join again): what happens there tells which key.
   */
  menuRegion: ReadonlyMap<string, string>;
}

const key = (flow: string, name: string): string => `${flow}\u0000${name}`;
const pathKey = (path: SitePath): string => path.join('\u0000');

/**
 * Analyse a project's flows: labels, sealed names and findings for each. Linear in the size
 * of the flows for flows without long assignment chains across flows; every expression is
 * labelled again only when a name it reads changes, which happens at most a few times.
 */
export function analyseSecurity(flows: Iterable<Flow>, actions: ActionSecurityLookup = () => undefined): SecurityAnalysis {
  const facts = new Map<string, FlowFacts>();
  for (const flow of flows) if (!facts.has(flow.flow)) facts.set(flow.flow, initialFacts(flow));

  // who reads what: name key → sites to label again when it changes
  const readers = new Map<string, [FlowFacts, number][]>();
  const addReader = (k: string, f: FlowFacts, i: number): void => {
    const list = readers.get(k);
    if (list) list.push([f, i]);
    else readers.set(k, [[f, i]]);
  };
  for (const f of facts.values()) {
    f.sites.forEach((site, i) => {
      for (const p of site.pieces) {
        for (const r of p.reads) addReader(key(f.flow.flow, r.name), f, i);
        if (p.shorthand !== undefined || site.role.kind === 'callFlow-output') {
          const target = site.role.kind === 'callFlow-output' ? site.role.flow : '';
          addReader(key(target, '#outputs'), f, i);
        }
      }
    });
  }

  // a secure input handed in by flows of the project is as long as what every one of them hands in
  for (const f of facts.values()) {
    for (const site of f.sites) {
      if (site.role.kind !== 'flow-input') continue;
      const input = facts.get(site.role.flow)?.names.get(site.role.input);
      if (input?.input) input.written = true;
    }
  }

  const queue: [FlowFacts, number][] = [];
  const queued = new Set<string>();
  const enqueue = (f: FlowFacts, i: number): void => {
    const k = `${f.flow.flow}\u0000${i}`;
    if (queued.has(k)) return;
    queued.add(k);
    queue.push([f, i]);
  };
  const changed = (flow: string, name: string): void => {
    for (const [f, i] of readers.get(key(flow, name)) ?? []) enqueue(f, i);
  };
  const raise = (f: FlowFacts, name: string, label: Label): void => {
    const n = f.names.get(name);
    if (!n || label <= n.label) return;
    n.label = label;
    changed(f.flow.flow, name);
  };

  for (const f of facts.values()) f.sites.forEach((_, i) => enqueue(f, i));
  while (queue.length > 0) {
    const [f, i] = queue.pop()!;
    queued.delete(`${f.flow.flow}\u0000${i}`);
    const site = f.sites[i]!;
    const l = labelSite(f, site, facts, actions);
    f.labels[i] = l;
    const role = site.role;
    switch (role.kind) {
      case 'set':
      case 'invoke-output':
      case 'callFlow-output':
      case 'pay-output':
        raise(f, role.variable, l.label);
        break;
      case 'flow-input': {
        const target = facts.get(role.flow);
        const input = target?.names.get(role.input);
        if (!target || !input) break;
        // a secure value into an input not declared secure is a finding at the call site (and
        // refused there at run time): what the target can receive through it is at most masked
        raise(target, role.input, input.source ? l.label : (Math.min(l.label, MASKED) as Label));
        const whole = isPureRead(f, site);
        if (l.label === SECURE && !input.impure && whole === undefined) {
          input.impure = true;
          changed(target.flow.flow, role.input);
        }
        const length = whole !== undefined && verdictOf(whole) === true ? whole.minLength : 0;
        if (length < input.minLength) {
          input.minLength = length;
          changed(target.flow.flow, role.input);
        }
        break;
      }
      case 'agent-output':
        // a secure output is a finding (refused at run time): the caller gets at most a masked value
        if (role.via === 'return' && Math.min(l.label, MASKED) > (f.outputs.get(role.output) ?? CLEAR)) {
          f.outputs.set(role.output, Math.min(l.label, MASKED) as Label);
          changed(f.flow.flow, '#outputs');
        }
        break;
      default:
        break;
    }
  }

  const recording = recordingFacts(facts);
  const results = new Map<string, FlowSecurity>();
  for (const f of facts.values()) results.set(f.flow.flow, finish(f, facts, actions, recording));
  return { flow: (name) => results.get(name) };
}

const RESULT_FIELD = /^\s*result\.[A-Za-z_][A-Za-z0-9_]*\s*$/;

/** The value at a path of the flow document. */
function bodyAt(flow: Flow, path: SitePath): unknown {
  let v: unknown = flow;
  for (const part of path) v = v !== null && typeof v === 'object' ? (v as Record<string | number, unknown>)[part] : undefined;
  return v;
}

function initialFacts(flow: Flow): FlowFacts {
  const names = new Map<string, NameState>();
  const declare = (name: string, d: { secure?: boolean | undefined; declassify?: 'never' | 'last4' | undefined }): void => {
    const n: NameState = { label: d.secure === true ? SECURE : CLEAR, source: d.secure === true, impure: false, minLength: Infinity, written: false };
    if (d.declassify !== undefined) n.declassify = d.declassify;
    names.set(name, n);
  };
  for (const [name, d] of Object.entries(flow.variables ?? {})) declare(name, d);
  for (const [name, d] of Object.entries(flow.inputs ?? {})) {
    if (!names.has(name)) declare(name, d);
    names.get(name)!.input = true;
  }
  const listing = expressionSites(flow);
  for (const w of listing.writes) {
    const n = names.get(w.variable);
    if (!n) continue;
    n.written = true;
    if (w.via !== 'collect') {
      // `token: result.token` takes a data action's answer whole, like a collect takes the
      // caller's: still pure, but nothing is known of its length
      if (w.via === 'invoke-output' && RESULT_FIELD.test(String(bodyAt(flow, w.path) ?? ''))) n.answered = true;
      else {
        n.impure = true;
        n.minLength = 0;
      }
      continue;
    }
    const body = (flow.states[w.state] as { collect?: { digits?: { min?: number; max?: number; length?: number }; validate?: string } }).collect;
    const min = body?.digits?.length ?? body?.digits?.min ?? (body?.validate === 'luhn' ? MIN_DECLASSIFY_LENGTH : 0);
    const max = body?.digits?.length ?? body?.digits?.max ?? Infinity;
    n.minLength = Math.min(n.minLength, max < MIN_DECLASSIFY_LENGTH ? 0 : min);
    if (flow.kind === 'secure') {
      n.source = true;
      n.label = SECURE;
    }
  }
  return {
    flow,
    names,
    outputs: new Map(),
    sites: listing.entries,
    labels: listing.entries.map(() => ({ label: CLEAR, declassified: [] })),
    menuRegion: flow.kind === 'secure' ? menuRegions(flow) : new Map(),
  };
}

/** The whole pure secure variable the site is exactly (handed on as it is), if it is one. */
function isPureRead(f: FlowFacts, site: FlowExpression): NameState | undefined {
  if (site.pieces.length !== 1) return undefined;
  const p = site.pieces[0]!;
  if (!p.parsed.ok || p.parsed.ast.op !== 'id') return undefined;
  const n = f.names.get(p.parsed.ast.args as string);
  return n !== undefined && n.source && !n.impure ? n : undefined;
}

function verdictOf(n: NameState | undefined): DeclassifyVerdict {
  if (!n || !n.source || n.impure) return 'not-pure';
  if (n.declassify === 'never') return 'never';
  // What its writers guarantee wins over the declaration. `declassify: last4` speaks for what
  // no collect or flow of the project says: a value the host hands in, or a data action's answer.
  if (n.minLength < MIN_DECLASSIFY_LENGTH) return 'short';
  if (!n.written || n.answered) return n.declassify === 'last4' ? true : 'short';
  return true;
}

function labelSite(f: FlowFacts, site: FlowExpression, facts: Map<string, FlowFacts>, actions: ActionSecurityLookup): SiteLabel {
  const role = site.role;
  const resultLabel = (member: string | undefined): Label => {
    if (role.kind === 'invoke-output') {
      const secureOut = actions(role.action)?.secureOutputs ?? [];
      if (secureOut.length === 0) return CLEAR;
      return member === undefined || secureOut.includes(member) ? SECURE : CLEAR;
    }
    if (role.kind === 'callFlow-output') {
      const outs = facts.get(role.flow)?.outputs;
      if (!outs) return CLEAR;
      if (member !== undefined) return outs.get(member) ?? CLEAR;
      let max: Label = CLEAR;
      for (const l of outs.values()) if (l > max) max = l;
      return max;
    }
    return CLEAR;
  };
  const env: LabelEnv = {
    label: (name, member) => {
      if (name === 'result' && site.scope === 'result') return resultLabel(member);
      // A validation of the caller's own entry (a pattern, a range, a check digit) tells
      // whether it is accepted: 1 bit a try (documented). What else it reads counts.
      if (name === 'value' && site.scope === 'value') return CLEAR;
      return f.names.get(name)?.label ?? CLEAR;
    },
    pure: (name) => {
      const n = f.names.get(name);
      return n !== undefined && n.source && !n.impure;
    },
    verdict: (name) => verdictOf(f.names.get(name)),
    entry: (name) => name === 'value' && site.scope === 'value',
  };
  const out: SiteLabel = { label: CLEAR, declassified: [] };
  for (const p of site.pieces) {
    if (p.shorthand !== undefined) {
      const l = resultLabel(p.shorthand);
      if (l > out.label) {
        out.label = l;
        out.culprit = { name: `result.${p.shorthand}`, from: p.offset, to: p.offset + p.text.length, label: l };
      }
      continue;
    }
    if (p.parsed.ok) labelAst(p.parsed.ast, p.offset, env, out);
  }
  // whole / joined matter only where a secure value may go if it is (see findingKind)
  const sink = sinkOf(role);
  const only = (sink === 'destination' || sink === 'action-input') && site.pieces.length === 1 && site.form === 'expression' ? site.pieces[0]! : undefined;
  if (only?.parsed.ok && only.shorthand === undefined) {
    out.whole = only.parsed.ast.op === 'id';
    out.joined = joined(only.parsed.ast, env);
  }
  // a secure flow's menu branch still open: what happens here tells which key the caller pressed
  const menu = f.menuRegion.get(site.state);
  if (menu !== undefined && out.label < SECURE && PC_SINKS.has(sink)) {
    out.label = SECURE;
    out.culprit = { name: menu, from: 0, to: site.text.length, label: SECURE, menu };
  }
  return out;
}

/**
 * Sinks a menu branch in a secure flow taints: where the key could be kept (a variable, another
 * flow) or sent away (a data action). Which way the call went stays visible, as every path is
 * (the states it entered, the end the agent gets): a menu is for choices, never for secrets.
 */
const PC_SINKS: ReadonlySet<SinkClass> = new Set(['store', 'action-input', 'flow-input']);

/** Are the expression's secure parts whole variables joined with `+` (nothing computed from one)? */
function joined(ast: ASTNode, env: LabelEnv): boolean {
  const stack: ASTNode[] = [ast];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (node.op === 'id' || node.op === 'value') continue;
    if (node.op === '+' && Array.isArray(node.args)) {
      for (const a of node.args) if (isNode(a)) stack.push(a);
      continue;
    }
    const acc: SiteLabel = { label: CLEAR, declassified: [] };
    labelAst(node, 0, env, acc);
    if (acc.label === SECURE) return false;
  }
  return true;
}

interface LabelEnv {
  label(name: string, member?: string): Label;
  pure(name: string): boolean;
  verdict(name: string): DeclassifyVerdict;
  /** Is the name what the caller just keyed in (`value` inside a validation)? */
  entry?(name: string): boolean;
}

interface WalkFrame {
  node: ASTNode;
  bound: ReadonlySet<string> | undefined;
  member?: string;
  /** Inside last4()/mask() that could not declassify: why. */
  refused?: Exclude<DeclassifyVerdict, true>;
}

const isNode = (n: unknown): n is ASTNode => n !== null && typeof n === 'object' && 'op' in n;

/** The label of an AST, accumulated into `acc` (highest label, its first read, declassified names). Iterative. */
export function labelAst(ast: ASTNode, offset: number, env: LabelEnv, acc: SiteLabel): void {
  const stack: WalkFrame[] = [{ node: ast, bound: undefined }];
  const bump = (label: Label, culprit: Omit<Culprit, 'label'>): void => {
    if (label > acc.label) {
      acc.label = label;
      acc.culprit = { ...culprit, label };
    }
  };
  const freeId = (n: unknown, bound: ReadonlySet<string> | undefined): string | undefined =>
    isNode(n) && n.op === 'id' && !bound?.has(n.args as string) ? (n.args as string) : undefined;
  const securePure = (n: unknown, bound: ReadonlySet<string> | undefined): string | undefined => {
    const id = freeId(n, bound);
    return id !== undefined && env.label(id) === SECURE && env.pure(id) ? id : undefined;
  };
  const push = (node: unknown, bound: ReadonlySet<string> | undefined, refused?: WalkFrame['refused'], member?: string): void => {
    if (!isNode(node)) return;
    const frame: WalkFrame = { node, bound };
    if (refused !== undefined) frame.refused = refused;
    if (member !== undefined) frame.member = member;
    stack.push(frame);
  };
  const withBound = (bound: ReadonlySet<string> | undefined, name: string): ReadonlySet<string> => new Set([...(bound ?? []), name]);

  while (stack.length > 0) {
    const { node, bound, member, refused } = stack.pop()!;
    const op = node.op as string;
    const args = node.args as unknown;
    switch (op) {
      case 'value':
        break;
      case 'id': {
        const name = args as string;
        if (bound?.has(name)) break;
        const l = env.label(name, member);
        if (l > CLEAR) {
          const culprit: Omit<Culprit, 'label'> = { name: member !== undefined && name === 'result' ? `result.${member}` : name, from: node.start + offset, to: node.end + offset };
          if (refused !== undefined) culprit.refused = refused;
          bump(l, culprit);
        }
        break;
      }
      case '.':
      case '.?': {
        const [object, field] = args as [ASTNode, string];
        push(object, bound, refused, typeof field === 'string' ? field : undefined);
        break;
      }
      case '[]':
      case '[?]': {
        const [object, index] = args as [ASTNode, ASTNode];
        const k = isNode(index) && index.op === 'value' && typeof index.args === 'string' ? index.args : undefined;
        push(index, bound, refused);
        push(object, bound, refused, k);
        break;
      }
      case 'call': {
        const [name, list] = args as [string, ASTNode[]];
        if (list.length === 1) {
          const id = freeId(list[0], bound);
          if (id !== undefined && DECLASSIFIERS.has(name) && env.label(id) === SECURE) {
            const verdict = env.verdict(id);
            if (verdict === true) {
              bump(MASKED, { name: id, from: node.start + offset, to: node.end + offset });
              if (!acc.declassified.includes(id)) acc.declassified.push(id);
              break;
            }
            push(list[0], bound, verdict);
            break;
          }
          if ((name === 'luhn' || name === 'size') && securePure(list[0], bound) !== undefined) break;
        }
        for (let i = list.length - 1; i >= 0; i--) push(list[i], bound, refused);
        break;
      }
      case 'rcall': {
        const [name, receiver, list] = args as [string, ASTNode, ASTNode[]];
        const first = list[0];
        if (name === 'size' && list.length === 0 && securePure(receiver, bound) !== undefined) break;
        if (name === 'startsWith' && list.length === 1 && isNode(first) && first.op === 'value' && typeof first.args === 'string' && first.args.length <= BIN_LENGTH) {
          const id = securePure(receiver, bound);
          if (id !== undefined && env.verdict(id) === true) break;
        }
        if (name === 'bind' && isNode(receiver) && receiver.op === 'id' && receiver.args === 'cel' && isNode(first) && first.op === 'id' && list.length === 3) {
          push(list[2], withBound(bound, first.args as string), refused);
          push(list[1], bound, refused);
          break;
        }
        if (isNode(first) && first.op === 'id' && list.length >= 2 && ['all', 'exists', 'exists_one', 'map', 'filter'].includes(name)) {
          const inner = withBound(bound, first.args as string);
          for (let i = list.length - 1; i >= 1; i--) push(list[i], inner, refused);
          push(receiver, bound, refused);
          break;
        }
        for (let i = list.length - 1; i >= 0; i--) push(list[i], bound, refused);
        push(receiver, bound, refused);
        break;
      }
      case '==':
      case '!=': {
        const [a, b] = args as [ASTNode, ASTNode];
        const pa = securePure(a, bound);
        const pb = securePure(b, bound);
        const empty = (n: unknown): boolean => isNode(n) && n.op === 'value' && n.args === '';
        const entry = (n: unknown): boolean => {
          const id = freeId(n, bound);
          return id !== undefined && env.entry?.(id) === true;
        };
        // two secure values (or the caller's entry and one: a PIN keyed twice) equal or not; empty or not
        if ((pa !== undefined && (pb !== undefined || empty(b) || entry(b))) || (pb !== undefined && (empty(a) || entry(a)))) break;
        push(b, bound, refused);
        push(a, bound, refused);
        break;
      }
      case 'map': {
        const entries = args as [ASTNode, ASTNode][];
        for (let i = entries.length - 1; i >= 0; i--) {
          push(entries[i]![1], bound, refused);
          push(entries[i]![0], bound, refused);
        }
        break;
      }
      default: {
        if (Array.isArray(args)) for (let i = args.length - 1; i >= 0; i--) push(args[i], bound, refused);
        else push(args, bound, refused);
      }
    }
  }
}

// ---- menus of secure flows: where their branch is still open ----

/**
 * For each menu of a secure flow, the states its options lead to before the paths join again
 * (its immediate post-dominator): state → the menu. Where the paths never join, everything
 * reachable from the options.
 */
function menuRegions(flow: Flow): Map<string, string> {
  const names = Object.keys(flow.states);
  const menus = names.filter((n) => 'menu' in (flow.states[n] as object));
  const region = new Map<string, string>();
  if (menus.length === 0) return region;
  const index = new Map(names.map((n, i) => [n, i]));
  const succ: number[][] = names.map((n) => {
    const out: number[] = [];
    for (const t of transitionsOf(n, flow.states[n]!)) {
      const j = index.get(t.target);
      if (j !== undefined && !out.includes(j)) out.push(j);
    }
    return out;
  });
  const ipdom = postDominators(succ);
  for (const m of menus) {
    const mi = index.get(m)!;
    const stop = ipdom[mi];
    const seen = new Set<number>();
    const work = [...succ[mi]!];
    while (work.length > 0) {
      const i = work.pop()!;
      if (i === stop || seen.has(i)) continue;
      seen.add(i);
      if (!region.has(names[i]!)) region.set(names[i]!, m);
      work.push(...succ[i]!);
    }
  }
  return region;
}

/**
 * Immediate post-dominators (Cooper, Harvey and Kennedy's iterative algorithm on the reversed
 * graph, a virtual exit after every state without successors): -1 where the exit is the only
 * one (or the state cannot reach an exit).
 */
function postDominators(succ: number[][]): number[] {
  const n = succ.length;
  const EXIT = n;
  // the reversed graph: exit → states without successors; v → u for every edge u → v
  const rsucc: number[][] = Array.from({ length: n + 1 }, () => []);
  for (let u = 0; u < n; u++) {
    if (succ[u]!.length === 0) rsucc[EXIT]!.push(u);
    for (const v of succ[u]!) rsucc[v]!.push(u);
  }
  // postorder of the reversed graph from the exit (iterative)
  const order: number[] = [];
  const post = new Int32Array(n + 1).fill(-1);
  const visited = new Uint8Array(n + 1);
  const stack: [number, number][] = [[EXIT, 0]];
  visited[EXIT] = 1;
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const next = rsucc[top[0]]![top[1]++];
    if (next === undefined) {
      post[top[0]] = order.length;
      order.push(top[0]);
      stack.pop();
    } else if (!visited[next]) {
      visited[next] = 1;
      stack.push([next, 0]);
    }
  }
  const idom = new Int32Array(n + 1).fill(-1);
  idom[EXIT] = EXIT;
  const intersect = (a: number, b: number): number => {
    while (a !== b) {
      while (post[a]! < post[b]!) a = idom[a]!;
      while (post[b]! < post[a]!) b = idom[b]!;
    }
    return a;
  };
  for (let changed = true; changed; ) {
    changed = false;
    for (let k = order.length - 2; k >= 0; k--) {
      const b = order[k]!;
      // predecessors of b in the reversed graph: its successors, and the exit if it has none
      const preds = succ[b]!.length === 0 ? [EXIT] : succ[b]!;
      let d = -1;
      for (const p of preds) {
        if (idom[p] === -1) continue;
        d = d === -1 ? p : intersect(p, d);
      }
      if (d !== -1 && idom[b] !== d) {
        idom[b] = d;
        changed = true;
      }
    }
  }
  return Array.from(idom.subarray(0, n), (d) => (d === EXIT ? -1 : d));
}

// ---- the call recording: is it paused whenever a state runs? ----

type Paused = Map<string, Map<string, boolean>>;

/** Per flow and state: the recording is paused on every path into the state (secure flows: always). */
function recordingFacts(facts: Map<string, FlowFacts>): Paused {
  const out: Paused = new Map();
  // subflow entries: paused where every call site is; unknown (no call seen yet) counts as paused
  const callSites = new Map<string, [string, string][]>();
  for (const f of facts.values()) {
    for (const [name, state] of Object.entries(f.flow.states)) {
      const target = (state as { callFlow?: { flow?: unknown } }).callFlow?.flow;
      if (typeof target === 'string') {
        const list = callSites.get(target) ?? [];
        list.push([f.flow.flow, name]);
        callSites.set(target, list);
      }
    }
  }
  const entry = (flow: Flow): boolean => {
    if (flow.kind === 'secure') return true;
    if (flow.kind !== 'subflow') return false;
    const sites = callSites.get(flow.flow) ?? [];
    if (sites.length === 0) return false;
    return sites.every(([caller, state]) => out.get(caller)?.get(state) ?? true);
  };
  // a few rounds settle chains of subflows; whatever is still open is taken as not paused
  for (let round = 0; round < 4; round++) {
    let changedAny = false;
    for (const f of facts.values()) {
      const states = statesPaused(f.flow, entry(f.flow), facts);
      const before = out.get(f.flow.flow);
      if (!before || [...states].some(([s, p]) => before.get(s) !== p)) changedAny = true;
      out.set(f.flow.flow, states);
    }
    if (!changedAny) break;
  }
  return out;
}

function statesPaused(flow: Flow, atStart: boolean, facts: Map<string, FlowFacts>): Map<string, boolean> {
  const names = Object.keys(flow.states);
  const result = new Map<string, boolean>();
  if (flow.kind === 'secure') {
    for (const n of names) result.set(n, true);
    return result;
  }
  const resumes = (target: string): boolean => resumesRecording(target, facts, new Set());
  const pausedIn = new Map<string, boolean>();
  const work: string[] = [];
  const meet = (state: string, value: boolean): void => {
    if (!(state in flow.states)) return;
    const before = pausedIn.get(state);
    const next = before === undefined ? value : before && value;
    if (next !== before) {
      pausedIn.set(state, next);
      work.push(state);
    }
  };
  meet(flow.start, atStart);
  if (flow.onError !== undefined) meet(flow.onError, false);
  if (flow.onHangup !== undefined) meet(flow.onHangup, false);
  while (work.length > 0) {
    const name = work.pop()!;
    const state = flow.states[name]!;
    const inside = pausedIn.get(name)!;
    const rec = recordingOf(state);
    const call = (state as { callFlow?: { flow?: unknown } }).callFlow?.flow;
    const after = rec === 'pause' ? true : rec === 'resume' ? false : typeof call === 'string' ? inside && !resumes(call) : inside;
    for (const t of transitionsOf(name, state)) meet(t.target, after);
  }
  for (const n of names) result.set(n, pausedIn.get(n) ?? false);
  return result;
}

/** Does a flow, or any subflow it calls, resume the recording? (An unknown flow may.) */
function resumesRecording(name: string, facts: Map<string, FlowFacts>, visiting: Set<string>): boolean {
  const f = facts.get(name);
  if (!f) return true;
  if (f.resumes !== undefined) return f.resumes;
  if (visiting.has(name)) return false; // a cycle adds nothing its members do not do themselves
  visiting.add(name);
  let resumes = false;
  for (const state of Object.values(f.flow.states)) {
    const call = (state as { callFlow?: { flow?: unknown } }).callFlow?.flow;
    if (recordingOf(state) === 'resume' || (typeof call === 'string' && resumesRecording(call, facts, visiting))) {
      resumes = true;
      break;
    }
  }
  visiting.delete(name);
  f.resumes = resumes;
  return resumes;
}

function recordingOf(state: unknown): 'pause' | 'resume' | undefined {
  const body = (state as { recording?: unknown }).recording;
  if (body === 'pause' || body === 'resume') return body;
  if (body && typeof body === 'object') {
    const a = (body as { action?: unknown }).action;
    if (a === 'pause' || a === 'resume') return a;
  }
  return undefined;
}

// ---- findings ----

function finish(f: FlowFacts, facts: Map<string, FlowFacts>, actions: ActionSecurityLookup, recording: Paused): FlowSecurity {
  const flowName = f.flow.flow;
  const paused = recording.get(flowName) ?? new Map<string, boolean>();
  const findings: LeakFinding[] = [];
  // secure entries keyed in where the recording may run: the recorder hears the tones (the
  // provider's concern, reported by its own rule; the runtime sends no value anywhere)
  const entries: LeakFinding[] = [];
  const byPath = new Map<string, SiteLabel>();
  // a read-back (or a secure entry) the runtime refuses while the recording runs, by state,
  // whether lint thinks the recording may run there or not
  const recorded = new Map<string, LeakFinding>();
  const add = (site: Pick<FlowExpression, 'state' | 'path' | 'role'>, kind: FindingKind, culprit: Culprit, reported: boolean): void => {
    const finding: LeakFinding = { flow: flowName, state: site.state, path: site.path, role: site.role, kind, culprit, message: describe(kind, site.role, culprit) };
    if (kind === 'recorded') {
      finding.whileRecording = true;
      if (!recorded.has(site.state)) recorded.set(site.state, finding);
    }
    if (reported) findings.push(finding);
  };
  f.sites.forEach((site, i) => {
    const l = f.labels[i]!;
    byPath.set(pathKey(site.path), l);
    const isPaused = paused.get(site.state) === true;
    if (l.label === CLEAR || !l.culprit) return;
    if (sinkOf(site.role) === 'caller' && l.label === SECURE) {
      add(site, 'recorded', l.culprit, !isPaused);
      return;
    }
    const kind = findingKind(f, site, l, facts, actions);
    if (kind) add(site, kind, l.culprit, true);
  });
  // what the caller keys into a secure variable is heard as tones on a running recording
  for (const [state, body] of Object.entries(f.flow.states)) {
    const into = (body as { collect?: { into?: unknown } }).collect?.into;
    if (typeof into !== 'string' || f.names.get(into)?.label !== SECURE) continue;
    if (paused.get(state) === true) continue;
    const path = ['states', state, 'collect', 'into'];
    const role: ExpressionRole = { kind: 'keyed-in', variable: into };
    const culprit: Culprit = { name: into, from: 0, to: into.length, label: SECURE };
    entries.push({ flow: flowName, state, path, role, kind: 'recorded', culprit, message: describe('recorded', role, culprit), whileRecording: true });
  }
  const secure = new Set<string>();
  const sealed = new Set<string>();
  for (const [name, n] of f.names) {
    if (n.label === SECURE) secure.add(name);
    if (n.label >= MASKED) sealed.add(name);
  }
  const declassified = new Map<string, string[]>();
  f.sites.forEach((site, i) => {
    for (const name of f.labels[i]!.declassified) {
      const list = declassified.get(site.state) ?? [];
      if (!list.includes(name)) list.push(name);
      declassified.set(site.state, list);
    }
  });
  const blocked = new Map<string, LeakFinding>();
  // a store is no way out (the variable is sealed like a secure one); every other finding is
  for (const finding of findings) {
    if (!finding.whileRecording && finding.kind !== 'store' && !blocked.has(finding.state)) blocked.set(finding.state, finding);
  }
  return {
    flow: flowName,
    label: (name) => f.names.get(name)?.label ?? CLEAR,
    secure,
    sealed,
    findings,
    recordedEntries: entries,
    blockedAt: (state) => blocked.get(state),
    recordedAt: (state) => recorded.get(state),
    declassifiedAt: (state) => declassified.get(state) ?? [],
    siteAt: (path) => byPath.get(pathKey(path)),
    recordingPausedAt: (state) => paused.get(state) === true,
  };
}

function findingKind(
  f: FlowFacts,
  site: FlowExpression,
  l: SiteLabel,
  facts: Map<string, FlowFacts>,
  actions: ActionSecurityLookup,
): FindingKind | undefined {
  const role = site.role;
  const label = l.label;
  switch (sinkOf(role)) {
    case 'store': {
      if (label < SECURE || !('variable' in role)) return undefined;
      const n = f.names.get(role.variable);
      if (!n) return undefined; // undeclared: undefined-variable's
      return n.source ? undefined : 'store';
    }
    case 'caller':
      return undefined; // see finish(): only while the recording runs
    case 'release':
      return label === SECURE ? 'leak' : undefined;
    case 'clear':
      return 'leak';
    case 'destination':
      // the number dialled or texted: a whole secure variable, not something computed from one
      return label === SECURE && !l.whole ? 'whole' : undefined;
    case 'action-input': {
      if (role.kind !== 'invoke-input') return undefined;
      const a = actions(role.action);
      if (!a) return undefined;
      if (a.secure === true || a.secureInputs?.includes(role.field)) {
        // computed from a secure value, the action's answer would become a test of it
        return label === SECURE && !l.joined ? 'whole' : undefined;
      }
      return 'leak';
    }
    case 'flow-input': {
      if (role.kind !== 'flow-input') return undefined;
      const target = facts.get(role.flow)?.flow;
      if (!target) return undefined; // not a flow of the project: unknown-flow's
      const input = target.inputs?.[role.input];
      if (!input) return 'leak'; // an input the flow does not declare: nothing would seal it
      if (label < SECURE || input.secure === true) return undefined;
      return 'leak';
    }
    case 'condition':
      return label === SECURE ? 'implicit' : undefined;
  }
}

function describe(kind: FindingKind, role: ExpressionRole, c: Culprit): string {
  const what = c.menu !== undefined
    ? `the key the caller pressed at menu '${c.menu}' (what a caller keys in a secure flow is secure; until the menu's options join again, where the call goes tells which key)`
    : c.label === MASKED ? `masked value of '${c.name}'` : `secure value '${c.name}'`;
  const why =
    c.refused === 'short'
      ? ` (last4/mask declassify only a value known to be at least ${MIN_DECLASSIFY_LENGTH} characters long — collected with digits min ${MIN_DECLASSIFY_LENGTH} or more, or validate: luhn — so a security code or PIN never is)`
      : c.refused === 'never'
        ? ` (declared declassify: never)`
        : c.refused === 'not-pure'
          ? ` (last4/mask declassify only a whole secure variable holding what was keyed in or handed in, never an expression or a variable assigned from one)`
          : '';
  const where = sinkWhere(role);
  const sink = sinkOf(role);
  switch (kind) {
    case 'store':
      return `${what} would be stored in ${where}, which is not declared secure${why}; add secure: true to its declaration, or store a masked form (last4 or mask of the whole variable)`;
    case 'recorded':
      return role.kind === 'keyed-in'
        ? `${what} would be keyed in while the call recording may be running (its tones would be recorded); pause the recording first (recording: pause)`
        : `${what} would be read back while the call recording may be running${why}; pause the recording first (recording: pause), or read back a masked form`;
    case 'implicit':
      return `${what} decides ${where}${why}: the path the call takes would reveal it; branch only on a permitted fact (luhn(x), size(x), x == y of two secure values, a card's first ${BIN_LENGTH} digits with startsWith)`;
    case 'whole':
      return sink === 'destination'
        ? `${what} would be used as ${where} after a computation; only a whole secure variable (or a clear value) may be dialled or texted`
        : `${what} would reach ${where} computed from a secure value; a secure data action receives secure values only whole (a variable, or whole variables joined with +), or its answer would become a test of them`;
    case 'leak':
      return c.label === MASKED
        ? `${what} would reach ${where}; a masked form may go only to logs, returnToAgent/return outputs, transfer data and prompts`
        : `${what} would reach ${where}${why}; send a masked form (last4 or mask of the whole variable) or nothing${sink === 'action-input' ? ', or declare the action (or this input) secure: true if it must receive the value' : ''}${sink === 'flow-input' ? ', or declare that input secure: true in the target flow' : ''}`;
  }
}
