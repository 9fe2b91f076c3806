/**
 * How formatters name files: relative to the working directory with forward slashes, so a
 * report reads the same on every machine and SARIF's uris resolve against the checkout.
 */
import { isAbsolute, relative, sep } from 'node:path';

/** `flows/ask.yaml` for a file under `cwd`; the absolute path (forward slashes) otherwise. */
export function displayPath(file: string, cwd: string): string {
  const rel = isAbsolute(file) ? relative(cwd, file) : file;
  const shown = rel === '' || rel.startsWith('..') || isAbsolute(rel) ? file : rel;
  return sep === '\\' ? shown.split(sep).join('/') : shown;
}
