/**
 * The `stylish` formatter: ESLint's default look. A file's path, then one aligned line per
 * problem (`  12:5  error  message  rule-id`), then `✖ N problems (E errors, W warnings)`.
 * Nothing at all when there is no problem. Control characters from the flow file are shown
 * escaped (terminal-text.ts).
 */
import type { Diagnostic } from '../types.js';
import { displayPath } from './paths.js';
import { escapeForTerminal } from './terminal-text.js';
import type { Formatter } from './types.js';

type Paint = (text: string) => string;

const ansi = (open: number, close: number): Paint => (text) => `\u001b[${open}m${text}\u001b[${close}m`;
const plain: Paint = (text) => text;

/** ESLint's stylish report. */
export const stylish: Formatter = (results, context) => {
  const paint = context.color
    ? { underline: ansi(4, 24), dim: ansi(2, 22), red: ansi(31, 39), yellow: ansi(33, 39), bold: ansi(1, 22) }
    : { underline: plain, dim: plain, red: plain, yellow: plain, bold: plain };
  let output = '\n';
  let errors = 0;
  let warnings = 0;
  for (const result of results) {
    if (result.messages.length === 0) continue;
    errors += result.errorCount;
    warnings += result.warningCount;
    output += `${paint.underline(escapeForTerminal(displayPath(result.filePath, context.cwd)))}\n`;
    output += `${table(result.messages, paint)}\n\n`;
  }
  const total = errors + warnings;
  if (total === 0) return '';
  const colour = errors > 0 ? paint.red : paint.yellow;
  output += paint.bold(
    colour(`\u2716 ${total} ${plural('problem', total)} (${errors} ${plural('error', errors)}, ${warnings} ${plural('warning', warnings)})`),
  );
  return `${output}\n`;
};

/** Rows like ESLint's text-table: line right-aligned, column left-aligned, two-space gaps. */
function table(messages: readonly Diagnostic[], paint: Record<'dim' | 'red' | 'yellow', Paint>): string {
  const rows = messages.map((m) => ({
    line: String(m.line),
    column: String(m.column),
    type: m.severity === 2 || m.fatal ? 'error' : 'warning',
    // Messages quote the flow file (names, values): nothing in it may drive the terminal.
    message: escapeForTerminal(m.message.replace(/([^ ])\.$/, '$1')),
    rule: escapeForTerminal(m.ruleId),
  }));
  const width = (pick: (r: (typeof rows)[number]) => string) => Math.max(...rows.map((r) => pick(r).length));
  const lineWidth = width((r) => r.line);
  const columnWidth = width((r) => r.column);
  const typeWidth = width((r) => r.type);
  const messageWidth = width((r) => r.message);
  return rows
    .map((r) => {
      const position = paint.dim(`${r.line.padStart(lineWidth)}:${r.column}`) + ' '.repeat(columnWidth - r.column.length);
      const type = (r.type === 'error' ? paint.red : paint.yellow)(r.type) + ' '.repeat(typeWidth - r.type.length);
      const message = r.message + ' '.repeat(messageWidth - r.message.length);
      return `  ${position}  ${type}  ${message}  ${paint.dim(r.rule)}`.trimEnd();
    })
    .join('\n');
}

function plural(word: string, count: number): string {
  return count === 1 ? word : `${word}s`;
}
