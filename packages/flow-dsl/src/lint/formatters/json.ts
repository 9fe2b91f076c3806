/**
 * The `json` formatter: ESLint's JSON output, so tools that read ESLint results (reviewdog,
 * editors, dashboards) read callflow's. One object per file, absolute `filePath`, severities
 * 1 (warning) and 2 (error), the file's text in `source` when it has problems.
 */
import { resolve } from 'node:path';
import type { Diagnostic } from '../types.js';
import { escapeJsonText } from './terminal-text.js';
import type { Formatter } from './types.js';

/** One message in ESLint's shape. */
export interface JsonMessage {
  ruleId: string;
  severity: 1 | 2;
  message: string;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  fatal?: true;
}

/** One file in ESLint's shape. */
export interface JsonResult {
  filePath: string;
  messages: JsonMessage[];
  errorCount: number;
  warningCount: number;
  fatalErrorCount: number;
  fixableErrorCount: 0;
  fixableWarningCount: 0;
  source?: string;
}

/** The results as ESLint's JSON formatter writes them. */
export const json: Formatter = (results, context) => escapeJsonText(JSON.stringify(toJsonResults(results, context.cwd)));

/** The objects `json` serialises (for callers that want them unserialised). */
export function toJsonResults(results: Parameters<Formatter>[0], cwd: string): JsonResult[] {
  return results.map((r) => ({
    filePath: resolve(cwd, r.filePath),
    messages: r.messages.map(toJsonMessage),
    errorCount: r.errorCount,
    warningCount: r.warningCount,
    fatalErrorCount: r.fatalErrorCount,
    fixableErrorCount: 0,
    fixableWarningCount: 0,
    ...(r.messages.length > 0 && r.source !== undefined ? { source: r.source } : {}),
  }));
}

function toJsonMessage(m: Diagnostic): JsonMessage {
  return {
    ruleId: m.ruleId,
    severity: m.severity,
    message: m.message,
    line: m.line,
    column: m.column,
    endLine: m.endLine,
    endColumn: m.endColumn,
    ...(m.fatal ? { fatal: true as const } : {}),
  };
}
