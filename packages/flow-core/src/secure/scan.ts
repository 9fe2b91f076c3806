/**
 * What the redactor's scanners share: character classes read from UTF-16 code units (no
 * regular expression runs over a whole text, so no input can make one backtrack), and the
 * set of spans a text's redaction removes, merged and applied in one pass.
 */

/** A character that is neither a digit nor a letter: it always ends a token. */
export const OTHER = 0;
/** An ASCII digit. */
export const DIGIT = 1;
/** A letter (or a combining mark), in any script. */
export const LETTER = 2;

const NON_ASCII_LETTER = /[\p{L}\p{M}]/u;

/** The class of a code unit, for token boundaries: a run of digits or of letters is one token. */
export function charClass(c: number): number {
  if (c >= 48 && c <= 57) return DIGIT;
  if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122)) return LETTER;
  if (c < 128) return OTHER;
  return NON_ASCII_LETTER.test(String.fromCharCode(c)) ? LETTER : OTHER;
}

/** An ASCII digit. */
export function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** A regular expression's `\w`: ASCII letter, digit or underscore. */
export function isWordChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}

/**
 * What may stand between the characters of a secure value as written: white space and dashes
 * (`[\s-]`). Not a dot: between digits it is a decimal point, and `55.55` is an amount, not
 * the digits `5555`.
 */
export function isSeparator(c: number): boolean {
  if (c === 32 || c === 45 || (c >= 9 && c <= 13)) return true;
  if (c < 0xa0) return false;
  return c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

/** Lower case of one code unit (kept as is where lower-casing would change the length). */
export function foldCase(c: number): number {
  if (c >= 65 && c <= 90) return c + 32;
  if (c < 128) return c;
  const lower = String.fromCharCode(c).toLowerCase();
  return lower.length === 1 ? lower.charCodeAt(0) : c;
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}

/** The length of a UUID in text. */
export const UUID_LENGTH = 36;
const UUID_DASHES = [8, 13, 18, 23];
const NONE: readonly number[] = [];

/**
 * Where UUIDs (8-4-4-4-12 hex digits, either case) start in a text, leftmost first and not
 * overlapping: found from each dash, so a long run of hex digits costs one look at each.
 */
export function findUuids(text: string): readonly number[] {
  let dash = text.indexOf('-', 8);
  if (dash < 0) return NONE;
  const starts: number[] = [];
  while (dash >= 0) {
    const start = dash - 8;
    if (start + UUID_LENGTH <= text.length && isUuidAt(text, start)) {
      starts.push(start);
      dash = text.indexOf('-', start + UUID_LENGTH + 8);
    } else dash = text.indexOf('-', dash + 1);
  }
  return starts;
}

function isUuidAt(text: string, start: number): boolean {
  for (let i = 0; i < UUID_LENGTH; i++) {
    const c = text.charCodeAt(start + i);
    if (UUID_DASHES.includes(i) ? c !== 45 : !isHex(c)) return false;
  }
  return true;
}

/** The parts of one text to remove: marked by each detector, replaced once. */
export class Spans {
  /** One flag per code unit; allocated on the first mark (most texts have nothing to remove). */
  private marked: Uint8Array | undefined;

  constructor(private readonly length: number) {}

  /** Remove `[start, end)`. */
  mark(start: number, end: number): void {
    if (end <= start) return;
    (this.marked ??= new Uint8Array(this.length)).fill(1, start, end);
  }

  /** `text` with each run of marked code units replaced by `replacement`. */
  apply(text: string, replacement: string): string {
    const marked = this.marked;
    if (!marked) return text;
    let out = '';
    let last = 0;
    let i = marked.indexOf(1);
    while (i >= 0) {
      let j = marked.indexOf(0, i);
      if (j < 0) j = marked.length;
      out += text.slice(last, i) + replacement;
      last = j;
      i = j < marked.length ? marked.indexOf(1, j) : -1;
    }
    return out + text.slice(last);
  }
}
