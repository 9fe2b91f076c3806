/**
 * The project a flow file belongs to, for running it (simulate, flow tests): its config
 * (the nearest callflow.config.yaml upward, or none), every flow beside it (under the
 * config's directory, or in the file's own directory), loaded and linted once.
 */
import { dirname, resolve } from 'node:path';
import type { Flow, ProjectConfig } from '@callflow/flow-core';
import { loadConfigText } from '../load/load-flow.js';
import { lint, summarise } from '../lint/engine.js';
import { RULES } from '../lint/rules/index.js';
import { findConfigFile, flowFilesIn, flowFilesUnder } from '../lint/project-files.js';
import type { Diagnostic, LintResult } from '../lint/types.js';
import { loadFlowText } from '../load/load-flow.js';
import { readSource } from '../load/source-size.js';

/** A loaded project. */
export interface LoadedProject {
  root: string;
  configFile?: string;
  config: ProjectConfig;
  /** Problems with the config file (positioned). */
  configDiagnostics: Diagnostic[];
  /** Every valid flow of the project, by name. */
  flows: Map<string, Flow>;
  /** The file each flow came from. */
  fileOf: Map<string, string>;
  /** Lint results of the requested files (with the project's other flows for references). */
  lintResults: LintResult[];
}

/** A file that cannot be read. */
export class ProjectReadError extends Error {
  readonly code = 'CALLFLOW_READ';
  constructor(message: string) {
    super(message);
    this.name = 'ProjectReadError';
  }
}

/** A file's text, or the diagnostic that refuses it for its size; throws when it cannot be read. */
function read(file: string): string | Diagnostic {
  const source = readSource(file);
  if ('unreadable' in source) throw new ProjectReadError(`cannot read ${file} (${source.unreadable})`);
  return 'text' in source ? source.text : source.tooLarge;
}

/** Load the project of `files` (all in one project) and lint `files` with it. */
export function loadProject(files: readonly string[], options: { configFile?: string } = {}): LoadedProject {
  const first = resolve(files[0] ?? '.');
  const configFile = options.configFile ? resolve(options.configFile) : findConfigFile(dirname(first));
  const root = configFile ? dirname(configFile) : dirname(first);
  let config: ProjectConfig = {};
  let configDiagnostics: Diagnostic[] = [];
  if (configFile) {
    const text = read(configFile);
    if (typeof text === 'string') {
      const loaded = loadConfigText(text, configFile, { ruleNames: RULES.map((r) => r.meta.name) });
      config = loaded.config;
      configDiagnostics = loaded.diagnostics.filter((d) => d.severity === 2);
    } else configDiagnostics = [text];
  }
  const targets = files.map((f) => resolve(f));
  const all = new Set([...(configFile ? flowFilesUnder(root) : flowFilesIn(root)), ...targets]);
  const sources: { file: string; text: string }[] = [];
  // Files over the size limit are never read: a target's lint result is that refusal.
  const refused = new Map<string, Diagnostic>();
  for (const file of all) {
    const text = read(file);
    if (typeof text === 'string') sources.push({ file, text });
    else refused.set(file, text);
  }
  const flows = new Map<string, Flow>();
  const fileOf = new Map<string, string>();
  for (const s of sources) {
    const r = loadFlowText(s.text, s.file);
    if (r.flow && !flows.has(r.flow.flow)) {
      flows.set(r.flow.flow, r.flow);
      fileOf.set(r.flow.flow, s.file);
    }
  }
  const isTarget = new Set(targets);
  const linted = lint({
    targets: sources.filter((s) => isTarget.has(s.file)),
    others: sources.filter((s) => !isTarget.has(s.file)),
    config,
    ...(configFile ? { configFile } : {}),
  });
  const lintResults = [...isTarget].map((file) => {
    const tooLarge = refused.get(file);
    return tooLarge ? summarise(file, [tooLarge]) : linted.find((r) => r.filePath === file)!;
  });
  return { root, ...(configFile ? { configFile } : {}), config, configDiagnostics, flows, fileOf, lintResults };
}
