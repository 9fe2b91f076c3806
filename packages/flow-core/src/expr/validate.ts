/**
 * `collect.validate`: the keyword `luhn`, a regular expression (written `/.../flags`, or
 * starting with `^`), or otherwise a CEL expression over `value` that must be bool.
 */
import { luhn } from './cel.js';

/** What a `validate` text means. */
export type Validation =
  | { kind: 'luhn' }
  | { kind: 'regex'; source: string; flags: string; regex: RegExp }
  | { kind: 'invalid-regex'; source: string; message: string; from: number; to: number }
  | { kind: 'cel'; expression: string };

const ALLOWED_FLAGS = /^[imsuv]*$/;

/** Read a `validate` text: which kind it is, and for a regex, whether it compiles. */
export function parseValidation(text: string): Validation {
  const trimmed = text.trim();
  if (trimmed === 'luhn') return { kind: 'luhn' };
  const slashed = /^\/(.*)\/([A-Za-z]*)$/s.exec(text);
  if (slashed || text.startsWith('^')) {
    const source = slashed ? slashed[1]! : text;
    const flags = slashed ? slashed[2]! : '';
    const from = slashed ? 1 : 0;
    if (!ALLOWED_FLAGS.test(flags)) {
      return {
        kind: 'invalid-regex', source, from: text.length - flags.length, to: text.length,
        message: `regex flags '${flags}' are not allowed here (use i, m, s, u or v)`,
      };
    }
    try {
      return { kind: 'regex', source, flags, regex: new RegExp(source, flags) };
    } catch (error) {
      const message = error instanceof Error ? error.message.replace(/^Invalid regular expression: (\/.*\/[a-z]*: )?/s, '') : String(error);
      return { kind: 'invalid-regex', source, message, from, to: from + source.length };
    }
  }
  return { kind: 'cel', expression: text };
}

/**
 * Does `value` pass the validation? `celCheck` evaluates a CEL validation (the runtime backs
 * it with the flow's `value` environment); an invalid regex never passes.
 */
export function passesValidation(validation: Validation, value: string, celCheck: (expression: string, value: string) => boolean): boolean {
  switch (validation.kind) {
    case 'luhn':
      return luhn(value);
    case 'regex':
      return validation.regex.test(value);
    case 'invalid-regex':
      return false;
    case 'cel':
      return celCheck(validation.expression, value);
  }
}
