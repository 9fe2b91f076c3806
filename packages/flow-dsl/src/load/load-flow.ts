/**
 * Loading a flow file or a project config: YAML → data → schema check → typed model, with
 * every problem as a positioned diagnostic. Never throws on bad input.
 */
import type { Flow, ProjectConfig } from '@callflow/flow-core';
import type { Diagnostic } from '../lint/types.js';
import { didYouMean } from './did-you-mean.js';
import { parseYaml } from './parse-yaml.js';
import type { SourceMap } from './source-map.js';
import { validateConfigData, validateFlowData } from './validate.js';

/** A flow file after loading: the model when it is valid, and what was wrong. */
export interface FlowLoadResult {
  file: string;
  /** The model, present only when the file has no schema errors. */
  flow?: Flow;
  /** The data as read, even when invalid (e.g. to find the flow's name). */
  data: unknown;
  source: SourceMap;
  diagnostics: Diagnostic[];
}

/** Load a flow from YAML text (`maxBytes`: the largest text taken, default 5 MB). */
export function loadFlowText(text: string, file: string, maxBytes?: number): FlowLoadResult {
  const parsed = parseYaml(text, file, maxBytes);
  const diagnostics = [...parsed.diagnostics];
  if (parsed.diagnostics.some((d) => d.fatal)) {
    return { file, data: parsed.data, source: parsed.source, diagnostics };
  }
  diagnostics.push(...validateFlowData(parsed.data, parsed.source));
  if (diagnostics.every((d) => d.severity < 2)) {
    diagnostics.push(...structuralChecks(parsed.data as Flow, parsed.source));
  }
  const valid = diagnostics.every((d) => d.severity < 2 || d.ruleId !== 'schema');
  return valid
    ? { file, flow: parsed.data as Flow, data: parsed.data, source: parsed.source, diagnostics }
    : { file, data: parsed.data, source: parsed.source, diagnostics };
}

/** A config file after loading. */
export interface ConfigLoadResult {
  file: string;
  config: ProjectConfig;
  source: SourceMap;
  diagnostics: Diagnostic[];
  valid: boolean;
}

/**
 * Load `callflow.config.yaml` from text. An invalid config yields an empty one. With
 * `ruleNames`, a rule the config names that does not exist is an error (a typo would
 * otherwise switch nothing off, silently).
 */
export function loadConfigText(text: string, file: string, options: { ruleNames?: readonly string[] } = {}): ConfigLoadResult {
  const parsed = parseYaml(text, file);
  const diagnostics = [...parsed.diagnostics];
  if (!parsed.diagnostics.some((d) => d.fatal)) diagnostics.push(...validateConfigData(parsed.data, parsed.source));
  const rules = (parsed.data as { rules?: unknown } | null | undefined)?.rules;
  if (options.ruleNames && rules && typeof rules === 'object' && !Array.isArray(rules)) {
    for (const name of Object.keys(rules)) {
      if (!options.ruleNames.includes(name)) {
        diagnostics.push({
          ruleId: 'schema',
          severity: 2,
          message: `rules.${name}: there is no rule named '${name}'${didYouMean(name, options.ruleNames)}`,
          ...parsed.source.locate(['rules', name], 'key'),
        });
      }
    }
  }
  const valid = diagnostics.every((d) => d.severity < 2);
  const config = valid && parsed.data && typeof parsed.data === 'object' ? (parsed.data as ProjectConfig) : {};
  return { file, config, source: parsed.source, diagnostics, valid };
}

/** Names an input or variable cannot take: CEL's own, and the ones the flow language gives. */
const RESERVED_NAMES = new Map<string, string>([
  ...['int', 'uint', 'double', 'bool', 'string', 'bytes', 'list', 'map', 'null_type', 'type', 'dyn', 'timestamp', 'duration'].map(
    (n) => [n, "a CEL type name"] as [string, string],
  ),
  ...['true', 'false', 'null', 'in', 'as', 'break', 'const', 'continue', 'else', 'for', 'function', 'if', 'import', 'let', 'loop', 'package', 'namespace', 'return', 'var', 'void', 'while', 'cel', 'has'].map(
    (n) => [n, 'a word CEL reserves'] as [string, string],
  ),
  ['call', 'the call (caller, callee, callId, provider)'],
  ['result', "the data action's or subflow's answer in outputs"],
  ['value', 'the collected text in collect.validate'],
]);

/** Rules of the language that JSON Schema does not say well. */
function structuralChecks(flow: Flow, source: SourceMap): Diagnostic[] {
  const out: Diagnostic[] = [];
  const at = (path: (string | number)[], message: string, part: 'key' | 'value' = 'key'): void => {
    out.push({ ruleId: 'schema', severity: 2, message, ...source.locate(path, part) });
  };
  for (const section of ['inputs', 'variables'] as const) {
    for (const name of Object.keys(flow[section] ?? {})) {
      if (RESERVED_NAMES.has(name)) {
        at([section, name], `${section}.${name}: '${name}' is ${RESERVED_NAMES.get(name)}; an expression reading it would not see this ${section === 'inputs' ? 'input' : 'variable'}: choose another name`);
      }
    }
  }
  if (flow.protectedIdentity !== undefined) {
    const decl = flow.variables?.[flow.protectedIdentity] ?? flow.inputs?.[flow.protectedIdentity];
    if (!decl) at(['protectedIdentity'], `protectedIdentity: there is no variable named '${flow.protectedIdentity}'; name a bool variable`, 'value');
    else if (decl.type !== 'bool') at(['protectedIdentity'], `protectedIdentity: '${flow.protectedIdentity}' is a ${decl.type}; name a bool variable`, 'value');
  }
  if (flow.reservation !== undefined && flow.kind !== 'secure') {
    at(['reservation'], `reservation: only secure flows reserve an agent (this flow is kind: ${flow.kind})`);
  }
  for (const [name, state] of Object.entries(flow.states)) {
    const s = state as Record<string, unknown>;
    if ('transfer' in s) {
      const t = s.transfer as Record<string, unknown>;
      const targets = ['queue', 'number', 'user', 'sip', 'flow'].filter((k) => t[k] !== undefined);
      if (targets.length !== 1) {
        at(
          ['states', name, 'transfer'],
          targets.length === 0
            ? `states.${name}.transfer: name one target: queue, number, user, sip or flow`
            : `states.${name}.transfer: name one target, not ${targets.join(' and ')}`,
        );
      }
    }
    if ('switch' in s) {
      const sw = s.switch as { default?: string };
      if (sw.default !== undefined && s.next !== undefined) {
        at(['states', name, 'next'], `states.${name}: give the switch default once: switch.default or next, not both`);
      }
    }
    if ('collect' in s) {
      const d = (s.collect as { digits?: { min?: number; max?: number } }).digits;
      if (d?.min !== undefined && d.max !== undefined && d.min > d.max) {
        at(['states', name, 'collect', 'digits', 'min'], `states.${name}.collect.digits: min (${d.min}) is more than max (${d.max})`, 'value');
      }
    }
    if ('menu' in s) {
      const options = (s.menu as { options: Record<string, string> }).options;
      if (Object.keys(options).length === 0) {
        at(['states', name, 'menu', 'options'], `states.${name}.menu.options: a menu needs at least one option`);
      }
    }
  }
  return out;
}
