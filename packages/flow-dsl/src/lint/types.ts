/**
 * The shapes the lint engine, its rules and its formatters share.
 */
import type { Flow, ProjectConfig } from '@callflow/flow-core';
import type { NodePath, PathPart, SourceMap, SourceRange } from '../load/source-map.js';
import type { FlowAnalysis } from './analysis.js';

/** 1 = warning, 2 = error (ESLint's numbers). */
export type Severity = 1 | 2;

/** A rule's setting: off, warn or error. */
export type RuleLevel = 'off' | 'warn' | 'error';

/** One problem found in a file. */
export interface Diagnostic extends SourceRange {
  /** The rule that found it (stable name, e.g. `unknown-state`). */
  ruleId: string;
  severity: Severity;
  message: string;
  /** The file could not be read as a flow at all (YAML syntax). */
  fatal?: boolean;
}

/** What a rule is, for the registry, docs, SARIF and the config. */
export interface RuleMeta {
  /** Stable name: the file name of the rule and of its docs page. */
  name: string;
  /** One sentence: what it reports. */
  description: string;
  defaultSeverity: 'error' | 'warn';
  /** Path of the docs page in the repository, e.g. `docs/rules/unknown-state.md`. */
  docs: string;
  /** Longer help (why it matters, how to fix), shown in SARIF. */
  help?: string;
}

/** A flow file that loaded into a valid model. */
export interface LoadedFlow {
  file: string;
  flow: Flow;
  source: SourceMap;
}

/** Every flow of the project, by name, and its config. */
export interface ProjectIndex {
  flows: ReadonlyMap<string, LoadedFlow>;
  config: ProjectConfig;
  /** The config file, if one was found. */
  configFile?: string;
}

/** What a problem report says. */
export interface Report {
  message: string;
  /** Where: a path in the flow document. */
  path: NodePath;
  /** Point at the key rather than the value. */
  part?: PathPart;
  /** Characters inside the string at `path` (e.g. a CEL error's span). */
  within?: { from: number; to: number };
}

/** What a rule sees. */
export interface RuleContext extends LoadedFlow {
  project: ProjectIndex;
  /** Shared, lazily computed facts about the flow (graph, expressions). */
  analysis: FlowAnalysis;
  report(report: Report): void;
}

/** A lint rule: metadata and a check. */
export interface Rule {
  meta: RuleMeta;
  check(context: RuleContext): void;
}

/** The lint result of one file (ESLint's shape). */
export interface LintResult {
  filePath: string;
  messages: Diagnostic[];
  errorCount: number;
  warningCount: number;
  fatalErrorCount: number;
  /** The file's text (formatters that show code may use it). */
  source?: string;
}
