/**
 * The formatter registry: `--format NAME` picks one of these.
 */
import { json } from './json.js';
import { junit } from './junit.js';
import { sarif } from './sarif.js';
import { stylish } from './stylish.js';
import type { Formatter } from './types.js';

export type { FormatContext, Formatter } from './types.js';

/** Every formatter, by the name `--format` takes. */
export const FORMATTERS: Readonly<Record<string, Formatter>> = { stylish, json, sarif, junit };

/** The names `--format` accepts. */
export const FORMAT_NAMES = Object.keys(FORMATTERS);

/** A formatter by name, or undefined. */
export function formatterByName(name: string): Formatter | undefined {
  return Object.hasOwn(FORMATTERS, name) ? FORMATTERS[name] : undefined;
}
