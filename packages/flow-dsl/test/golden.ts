/**
 * Golden files: readable expected outputs under test/golden/, reviewed like code. A test
 * compares against the file; `UPDATE_GOLDEN=1 npx vitest run` rewrites them (then review
 * the diff before keeping it).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The package directory (paths in goldens are relative to it). */
export const PACKAGE_ROOT = fileURLToPath(new URL('..', import.meta.url)).replace(/[\\/]$/, '');

/** Replace this machine's package path (plain and as a file: URL) with a stable marker. */
export function normalise(text: string): string {
  const url = pathToFileURL(PACKAGE_ROOT).href;
  return text.split(url).join('file:///<package>').split(PACKAGE_ROOT).join('<package>');
}

/** The golden file's text (or, when updating, `actual` written to it). */
export function golden(name: string, actual: string): string {
  const path = join(PACKAGE_ROOT, 'test', 'golden', name);
  if (process.env.UPDATE_GOLDEN) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, actual);
  }
  if (!existsSync(path)) throw new Error(`no golden file ${name}: run with UPDATE_GOLDEN=1 and review it`);
  return readFileSync(path, 'utf8');
}
