/**
 * The builder's compile-time checks: test/types/builder-types.ts must compile with zero
 * diagnostics. Its valid definitions must be accepted, and each `@ts-expect-error` line must
 * really be an error (an unused `@ts-expect-error` is itself a diagnostic).
 */
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const dir = join(import.meta.dirname, 'types');

function compile(): string[] {
  const configPath = join(dir, 'tsconfig.json');
  const read = ts.readConfigFile(configPath, ts.sys.readFile);
  if (read.error) return [ts.flattenDiagnosticMessageText(read.error.messageText, '\n')];
  const config = ts.parseJsonConfigFileContent(read.config, ts.sys, dir);
  const program = ts.createProgram({ rootNames: config.fileNames, options: config.options });
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : undefined;
    const file = d.file ? d.file.fileName.replace(`${dir}/`, '') : '';
    return `${file}${where ? `:${where.line + 1}:${where.character + 1}` : ''} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  });
}

describe('defineFlow types', () => {
  it('accepts valid flows and rejects every marked mistake (unknown states, missing or unknown outcomes, next on terminal states)', () => {
    expect(compile()).toEqual([]);
  }, 120_000);
});
