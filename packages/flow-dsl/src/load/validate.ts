/**
 * Schema validation of a flow (or config) against the generated JSON Schema with ajv, and
 * the translation of ajv's errors into plain messages at the right line:
 * `states.bye: unknown action 'disconect' (did you mean 'disconnect'?)`.
 *
 * A state is checked on its own: first which action it holds (so a misspelt action gets one
 * clear message instead of seventeen union branches), then against that action's schema.
 */
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import { ACTION_NAMES, isActionName } from '@callflow/flow-core';
import type { Diagnostic } from '../lint/types.js';
import { getFlowSchema } from '../schema/generated.js';
import { compileValidators, type CompiledValidators } from './compile-validators.js';
import { didYouMean } from './did-you-mean.js';
import { renderPath } from './parse-yaml.js';
import type { NodePath, SourceMap } from './source-map.js';

type Json = Record<string, unknown>;

interface Validators extends CompiledValidators {
  sub: Map<string, ValidateFunction>;
}

let validators: Validators | undefined;

function getValidators(): Validators {
  validators ??= { ...compileValidators(), sub: new Map() };
  return validators;
}

/** Validate flow data; returns schema diagnostics (empty when valid). */
export function validateFlowData(data: unknown, source: SourceMap): Diagnostic[] {
  const v = getValidators();
  const out: Diagnostic[] = [];
  if (data === null || data === undefined) {
    out.push(diag(source, [], 'the file is empty: a flow needs at least `flow`, `kind`, `start` and `states`'));
    return out;
  }
  if (typeof data !== 'object' || Array.isArray(data)) {
    out.push(diag(source, [], `a flow file is a map of keys (flow, kind, start, states...), not ${describe(data)}`));
    return out;
  }
  if (!v.flowTop(data)) translate(v.flowTop.errors ?? [], [], data, source, out);
  const states = (data as Json).states;
  if (states && typeof states === 'object' && !Array.isArray(states)) {
    for (const [name, state] of Object.entries(states as Json)) validateState(name, state, source, out);
  }
  return out;
}

/** Validate config data. */
export function validateConfigData(data: unknown, source: SourceMap): Diagnostic[] {
  const v = getValidators();
  const out: Diagnostic[] = [];
  if (data === null || data === undefined) return out;
  if (!v.config(data)) translate(v.config.errors ?? [], [], data, source, out);
  return out;
}

function validateState(name: string, state: unknown, source: SourceMap, out: Diagnostic[]): void {
  const path = ['states', name];
  if (state === null || typeof state !== 'object' || Array.isArray(state)) {
    out.push(diag(source, path, `${renderPath(path)}: a state is a map with one action (say, collect, transfer...), not ${describe(state)}`));
    return;
  }
  const keys = Object.keys(state);
  const actions = keys.filter(isActionName);
  if (actions.length === 0) {
    const unknown = keys.filter((k) => k !== 'next' && k !== 'on' && k !== 'description');
    if (unknown.length === 0) {
      out.push(diag(source, path, `${renderPath(path)}: the state has no action (say, collect, invoke, transfer...)`, 'key'));
    }
    for (const k of unknown) {
      out.push(diag(source, [...path, k], `${renderPath(path)}: unknown action '${k}'${didYouMean(k, ACTION_NAMES)}`, 'key'));
    }
    return;
  }
  if (actions.length > 1) {
    out.push(
      diag(
        source,
        [...path, actions[1]!],
        `${renderPath(path)}: a state holds exactly one action, but this one has ${actions.map((a) => `'${a}'`).join(' and ')}; split it into states joined by next`,
        'key',
      ),
    );
    return;
  }
  const validate = getValidators().states.get(actions[0]!)!;
  if (!validate(state)) translate(validate.errors ?? [], path, state, source, out);
}

/** Turn ajv errors for `data` (at `base`) into diagnostics, one clear message per problem. */
function translate(errors: ErrorObject[], base: NodePath, data: unknown, source: SourceMap, out: Diagnostic[]): void {
  // Drop the branch errors under a failing anyOf/oneOf: the union is reported as one.
  const unions = errors.filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf');
  const underUnion = (e: ErrorObject) =>
    unions.some((u) => u !== e && e.schemaPath.startsWith(u.schemaPath.replace(/\/(anyOf|oneOf)$/, '')) && e.schemaPath !== u.schemaPath && e.instancePath.startsWith(u.instancePath));
  const seen = new Set<string>();
  for (const e of errors) {
    if (e.keyword !== 'anyOf' && e.keyword !== 'oneOf' && underUnion(e)) continue;
    const path = [...base, ...pointerToPath(e.instancePath)];
    for (const d of describeError(e, path, source)) {
      const key = `${d.line}:${d.column}:${d.message}`;
      if (!seen.has(key)) {
        seen.add(key);
        out.push(d);
      }
    }
  }
  void data;
}

function describeError(e: ErrorObject, path: NodePath, source: SourceMap): Diagnostic[] {
  const where = renderPath(path);
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const allowed = Object.keys(((e.parentSchema as Json | undefined)?.properties as Json | undefined) ?? {});
      const isOutcomes = path[path.length - 1] === 'on';
      const what = isOutcomes ? `unknown outcome '${key}'` : `unknown key '${key}'`;
      const options = allowed.length > 0 && allowed.length <= 12 ? `; expected one of ${allowed.join(', ')}` : '';
      const hint = didYouMean(key, allowed);
      return [diag(source, [...path, key], `${where}: ${what}${hint || options}`, 'key')];
    }
    case 'required':
      return [diag(source, path, `${where}: missing required key '${String(params.missingProperty)}'`, path.length > 0 ? 'key' : 'value')];
    case 'type':
      return [diag(source, path, `${where}: expected ${String(params.type)}, got ${describe(e.data)}`)];
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]).map(String);
      const got = String(e.data);
      const hint = typeof e.data === 'string' ? didYouMean(got, allowed) : '';
      return [diag(source, path, `${where}: '${got}' is not one of ${allowed.join(', ')}${hint}`)];
    }
    case 'const':
      return [diag(source, path, `${where}: expected ${JSON.stringify(params.allowedValue)}`)];
    case 'pattern': {
      const propertyName = (e as { propertyName?: string }).propertyName;
      if (propertyName !== undefined) {
        return [diag(source, [...path, propertyName], `${where}: ${patternMessage(String(params.pattern), propertyName)}`, 'key')];
      }
      return [diag(source, path, `${where}: ${patternMessage(String(params.pattern), e.data)}`)];
    }
    case 'propertyNames':
      return [];
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return [diag(source, path, `${where}: ${String(e.data)} ${e.message ?? 'is out of range'}`)];
    case 'minLength':
      return [diag(source, path, `${where}: must not be empty`)];
    case 'minItems':
      return [diag(source, path, `${where}: needs at least ${String(params.limit)} item(s)`)];
    case 'anyOf':
    case 'oneOf':
      return [unionMessage(e, path, source)];
    default:
      return [diag(source, path, `${where}: ${e.message ?? 'is not valid'}`)];
  }
}

/** A union (string or map, ...) failed: re-check the branch that matches the value's shape. */
function unionMessage(e: ErrorObject, path: NodePath, source: SourceMap): Diagnostic {
  const where = renderPath(path);
  const branches = ((e.schema as Json[] | undefined) ?? []).map(resolve);
  const kind = jsonType(e.data);
  const matching = branches.filter((b) => branchAccepts(b, kind));
  if (matching.length === 1) {
    const v = getValidators();
    const key = JSON.stringify(matching[0]);
    let validate = v.sub.get(key);
    if (!validate) {
      validate = v.branch(matching[0]!);
      v.sub.set(key, validate);
    }
    if (!validate(e.data) && validate.errors && validate.errors.length > 0) {
      const inner: Diagnostic[] = [];
      translate(validate.errors, path, e.data, source, inner);
      if (inner.length > 0) return inner[0]!;
    }
  }
  const forms = [...new Set(branches.map(branchName))].join(' or ');
  return diag(source, path, `${where}: expected ${forms}, got ${describe(e.data)}`);
}

function resolve(schema: Json): Json {
  const ref = schema.$ref;
  if (typeof ref === 'string' && ref.startsWith('#/$defs/')) {
    const defs = (getFlowSchema() as Json).$defs as Record<string, Json>;
    const target = defs[ref.slice('#/$defs/'.length)];
    if (target) return { ...target, ...schema, $ref: undefined };
  }
  return schema;
}

function branchAccepts(branch: Json, kind: string): boolean {
  const t = branch.type;
  if (t === undefined) return branch.anyOf === undefined && branch.oneOf === undefined;
  const types = Array.isArray(t) ? t : [t];
  return types.includes(kind) || (kind === 'integer' && types.includes('number'));
}

function branchName(branch: Json): string {
  if (branch.enum) return (branch.enum as unknown[]).map((v) => `'${String(v)}'`).join(' or ');
  if (branch.const !== undefined) return JSON.stringify(branch.const);
  const t = branch.type;
  if (t === 'object') {
    const props = Object.keys((branch.properties as Json | undefined) ?? {});
    return props.length > 0 ? `a map (${props.join(', ')})` : 'a map';
  }
  if (t === 'array') return 'a list';
  if (t === 'null') return 'nothing';
  if (t === 'string') return 'text';
  return typeof t === 'string' ? `a ${t}` : 'a value';
}

function patternMessage(pattern: string, value: unknown): string {
  const v = `'${String(value)}'`;
  if (pattern.includes('(ms|s|m|h)')) return `${v} is not a duration (use '500ms', '8s', '2m', '1h' or a number of seconds)`;
  if (pattern === '^[A-Za-z_][A-Za-z0-9_-]*$') return `${v} is not a valid name (a letter first, then letters, digits, _ or -)`;
  if (pattern === '^[A-Za-z_][A-Za-z0-9_]*$') return `${v} is not a valid variable name (a letter first, then letters, digits or _)`;
  if (pattern === '^[0-9*#]$') return `${v} is not a key (one of 0-9, * or #)`;
  if (pattern === '^[0-9*#]?$') return `${v} is not a key (one of 0-9, * or #)`;
  return `${v} does not match ${pattern}`;
}

function pointerToPath(pointer: string): (string | number)[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^(0|[1-9][0-9]*)$/.test(s) ? Number(s) : s));
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  if (typeof value === 'string') return `text '${value.length > 40 ? `${value.slice(0, 40)}…` : value}'`;
  return `${typeof value} ${String(value)}`;
}

function diag(source: SourceMap, path: NodePath, message: string, part: 'key' | 'value' = 'value'): Diagnostic {
  return { ruleId: 'schema', severity: 2, message, ...source.locate(path, part) };
}
