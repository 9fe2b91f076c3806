/**
 * @callflow/flow-dsl: YAML flow loading with source positions, the JSON Schema, the typed
 * builder API, the lint engine and its rules. The `callflow` CLI is this package's bin.
 *
 * @packageDocumentation
 */
export { loadFlowText, loadConfigText, type FlowLoadResult, type ConfigLoadResult } from './load/load-flow.js';
export { parseYaml, renderPath, MAX_ALIAS_COUNT, type ParsedYaml } from './load/parse-yaml.js';
export { MAX_SOURCE_BYTES } from './load/source-size.js';
export { SourceMap, type NodePath, type SourceRange, type PathPart, type DuplicateKey } from './load/source-map.js';
export { getFlowSchema, getConfigSchema } from './schema/generated.js';
export { defineFlow, validateFlow, FlowValidationError, toYaml, type FlowIssue, type ToYamlOptions, type CheckedFlow, type ValidFlow, type FlowDefinitionBase } from './builder/index.js';
export { lint, summarise, toLevel, type LintInput, type SourceFile } from './lint/engine.js';
export { FlowAnalysis, stronglyConnected, type StateGraph } from './lint/analysis.js';
export { RULES, ruleByName } from './lint/rules/index.js';
export type {
  Diagnostic,
  Severity,
  RuleLevel,
  RuleMeta,
  Rule,
  RuleContext,
  Report,
  LoadedFlow,
  ProjectIndex,
  LintResult,
} from './lint/types.js';
