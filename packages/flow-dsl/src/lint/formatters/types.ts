/**
 * What every formatter is: a pure function from lint results to the text of a report.
 */
import type { LintResult, Rule } from '../types.js';

/** What a formatter may know besides the results. */
export interface FormatContext {
  /** The working directory: paths in reports are shown relative to it. */
  cwd: string;
  /** Use ANSI colours (only the stylish formatter has any). */
  color: boolean;
  /** Every rule that could have reported (SARIF lists them all). */
  rules: readonly Rule[];
  /** The callflow version (SARIF's tool.driver). */
  version: string;
}

/** Results → report text. Never throws, never reads or writes anything. */
export type Formatter = (results: readonly LintResult[], context: FormatContext) => string;
