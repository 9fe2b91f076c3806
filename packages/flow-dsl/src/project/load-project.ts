/**
 * The project a flow file belongs to, for running it (simulate, flow tests): its config
 * (the nearest callflow.config.yaml upward, or none), every flow beside it (under the
 * config's directory, or in the file's own directory), loaded and linted once.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Flow, ProjectConfig } from '@callflow/flow-core';
import { loadConfigText } from '../load/load-flow.js';
import { lint } from '../lint/engine.js';
import { RULES } from '../lint/rules/index.js';
import { findConfigFile, flowFilesIn, flowFilesUnder } from '../lint/project-files.js';
import type { Diagnostic, LintResult } from '../lint/types.js';
import { loadFlowText } from '../load/load-flow.js';

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

function read(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ProjectReadError(`cannot read ${file}${code ? ` (${code})` : ''}`);
  }
}

/** Load the project of `files` (all in one project) and lint `files` with it. */
export function loadProject(files: readonly string[], options: { configFile?: string } = {}): LoadedProject {
  const first = resolve(files[0] ?? '.');
  const configFile = options.configFile ? resolve(options.configFile) : findConfigFile(dirname(first));
  const root = configFile ? dirname(configFile) : dirname(first);
  let config: ProjectConfig = {};
  let configDiagnostics: Diagnostic[] = [];
  if (configFile) {
    const loaded = loadConfigText(read(configFile), configFile, { ruleNames: RULES.map((r) => r.meta.name) });
    config = loaded.config;
    configDiagnostics = loaded.diagnostics.filter((d) => d.severity === 2);
  }
  const targets = files.map((f) => resolve(f));
  const all = new Set([...(configFile ? flowFilesUnder(root) : flowFilesIn(root)), ...targets]);
  const sources = [...all].map((file) => ({ file, text: read(file) }));
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
  const lintResults = lint({
    targets: sources.filter((s) => isTarget.has(s.file)),
    others: sources.filter((s) => !isTarget.has(s.file)),
    config,
    ...(configFile ? { configFile } : {}),
  });
  return { root, ...(configFile ? { configFile } : {}), config, configDiagnostics, flows, fileOf, lintResults };
}
