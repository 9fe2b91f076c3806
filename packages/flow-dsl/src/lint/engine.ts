/**
 * The lint engine: loads every flow of a project, runs each enabled rule over each target
 * file with a valid model, and collects positioned diagnostics. A rule that throws becomes
 * an `internal-error` diagnostic; the engine itself never throws on bad input.
 */
import type { ProjectConfig } from '@callflow/flow-core';
import { loadFlowText, type FlowLoadResult } from '../load/load-flow.js';
import { FlowAnalysis } from './analysis.js';
import { RULES } from './rules/index.js';
import type { Diagnostic, LintResult, LoadedFlow, ProjectIndex, Rule, RuleLevel } from './types.js';

/** A file to lint, or a sibling flow that references resolve against. */
export interface SourceFile {
  file: string;
  text: string;
}

/** What to lint. */
export interface LintInput {
  /** The files reported on. */
  targets: SourceFile[];
  /** Other flows of the project (read for references, not reported on). */
  others?: SourceFile[];
  config?: ProjectConfig;
  configFile?: string;
  /** Rule levels from the command line or a caller; they win over the config. */
  ruleLevels?: Record<string, RuleLevel>;
  /** The rules to run (default: all). */
  rules?: readonly Rule[];
  /** The largest text taken (default `MAX_SOURCE_BYTES`, 5 MB; the benchmark lints larger flows). */
  maxSourceBytes?: number;
}

/** Map a config setting (`warn`, 2, ...) onto a level. */
export function toLevel(setting: unknown): RuleLevel | undefined {
  if (setting === 'off' || setting === 0) return 'off';
  if (setting === 'warn' || setting === 1) return 'warn';
  if (setting === 'error' || setting === 2) return 'error';
  return undefined;
}

/** Lint a set of files as one project. */
export function lint(input: LintInput): LintResult[] {
  const rules = input.rules ?? RULES;
  const config = input.config ?? {};
  const loaded = new Map<string, FlowLoadResult>();
  for (const f of [...input.targets, ...(input.others ?? [])]) {
    if (!loaded.has(f.file)) loaded.set(f.file, loadFlowText(f.text, f.file, input.maxSourceBytes));
  }
  const flows = new Map<string, LoadedFlow>();
  for (const r of loaded.values()) {
    if (r.flow && !flows.has(r.flow.flow)) flows.set(r.flow.flow, { file: r.file, flow: r.flow, source: r.source });
  }
  const project: ProjectIndex = { flows, config, ...(input.configFile ? { configFile: input.configFile } : {}) };
  const levels = new Map<string, RuleLevel>();
  for (const rule of rules) {
    const fromConfig = toLevel(config.rules?.[rule.meta.name]);
    const fromInput = input.ruleLevels?.[rule.meta.name];
    levels.set(rule.meta.name, fromInput ?? fromConfig ?? rule.meta.defaultSeverity);
  }

  const results: LintResult[] = [];
  for (const target of input.targets) {
    const r = loaded.get(target.file)!;
    const messages: Diagnostic[] = r.diagnostics.filter((d) => levelOf(levels, d.ruleId) !== 'off');
    for (const d of messages) d.severity = d.severity === 1 ? 1 : levelOf(levels, d.ruleId) === 'warn' ? 1 : 2;
    if (r.flow) {
      const base: LoadedFlow = { file: r.file, flow: r.flow, source: r.source };
      const analysis = new FlowAnalysis(r.flow);
      for (const rule of rules) {
        const level = levels.get(rule.meta.name)!;
        if (level === 'off') continue;
        const severity = level === 'warn' ? 1 : 2;
        const context = {
          ...base,
          project,
          analysis,
          report: (rep: { message: string; path: readonly (string | number)[]; part?: 'key' | 'value'; within?: { from: number; to: number } }) => {
            const range = rep.within
              ? r.source.locateInString(rep.path, rep.within.from, rep.within.to)
              : r.source.locate(rep.path, rep.part ?? 'value');
            messages.push({ ruleId: rule.meta.name, severity, message: rep.message, ...range });
          },
        };
        try {
          rule.check(context);
        } catch (error) {
          messages.push({
            ruleId: 'internal-error',
            severity: 2,
            message: `rule ${rule.meta.name} failed on this file (a bug in callflow, please report it): ${error instanceof Error ? error.message : String(error)}`,
            ...r.source.fileStart(),
          });
        }
      }
    }
    messages.sort((a, b) => a.line - b.line || a.column - b.column || a.ruleId.localeCompare(b.ruleId));
    results.push(summarise(target.file, messages, target.text));
  }
  return results;
}

function levelOf(levels: Map<string, RuleLevel>, ruleId: string): RuleLevel {
  // schema problems cannot be switched off: without a valid model nothing else can be checked.
  if (ruleId === 'schema') return 'error';
  return levels.get(ruleId) ?? 'error';
}

/** Count a file's messages the way ESLint does. */
export function summarise(filePath: string, messages: Diagnostic[], source?: string): LintResult {
  let errorCount = 0;
  let warningCount = 0;
  let fatalErrorCount = 0;
  for (const m of messages) {
    if (m.severity === 2) errorCount++;
    else warningCount++;
    if (m.fatal) fatalErrorCount++;
  }
  return { filePath, messages, errorCount, warningCount, fatalErrorCount, ...(source === undefined ? {} : { source }) };
}
