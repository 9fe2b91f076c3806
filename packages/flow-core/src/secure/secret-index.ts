/**
 * A session's secure values as the redactor finds them in text. Values are compared without
 * separators (white space, dashes) and case, and matched on token boundaries — a token being a
 * run of digits or a run of letters — so that a secret is removed where it is written, and a
 * number that merely contains its digits is kept:
 *
 * - a short value (under 4 characters, a security code) where it stands as whole tokens:
 *   `123` in `cvv 123` and in `123ms`, not in `1234`;
 * - any piece of 4 or more characters of a longer value where the piece starts and ends on
 *   token boundaries: `2832` and `4916 3385` of a card number, not the `2832` in `28329`;
 * - a value of 8 characters or more wherever it appears whole, even inside a longer run (no
 *   coincidence is that long; a card number keyed in with one digit too many is still one).
 *
 * Every scan is linear in the text and reads it as a stream (nothing the size of the text is
 * allocated): pieces are found through an index of each value's 4-character windows, long
 * values through Knuth–Morris–Pratt.
 */
import { charClass, foldCase, isSeparator, OTHER, type Spans } from './scan.js';

/** Pieces of a value this long or longer are removed. */
const PIECE = 4;
/** A value this long is removed wherever it appears whole. */
const WHOLE_ANYWHERE = 8;

interface LongValue {
  codes: Uint16Array;
  /** The Knuth–Morris–Pratt failure table, built on the first search. */
  fail?: Int32Array;
}

/** The secure values of a session, indexed for search. */
export class SecretIndex {
  private readonly known = new Set<string>();
  private short: Uint16Array[] = [];
  private long: LongValue[] = [];
  private windows = new Set<number | string>();
  /** The first code unit of every window: bits for ASCII, then one flag for any other. */
  private firsts: Uint32Array | undefined;

  /** How many distinct values are known. */
  get size(): number {
    return this.known.size;
  }

  /** The values known, normalised (adding them to another index gives the same index). */
  values(): Iterable<string> {
    return this.known;
  }

  /** Index a value. */
  add(value: string): void {
    const codes = fold(value);
    if (codes.length === 0) return;
    const key = textOf(codes);
    if (this.known.has(key)) return;
    this.known.add(key);
    if (codes.length < PIECE) {
      this.short.push(codes);
      return;
    }
    const firsts = (this.firsts ??= new Uint32Array(5));
    for (let i = 0; i + PIECE <= codes.length; i++) {
      this.windows.add(windowKey(codes[i]!, codes[i + 1]!, codes[i + 2]!, codes[i + 3]!));
      const c = codes[i]!;
      if (c < 128) firsts[c >> 5]! |= 1 << (c & 31);
      else firsts[4] = 1;
    }
    if (codes.length >= WHOLE_ANYWHERE) this.long.push({ codes });
  }

  /** Forget every value. */
  clear(): void {
    this.known.clear();
    this.short = [];
    this.long = [];
    this.windows = new Set();
    this.firsts = undefined;
  }

  /** Mark where `text` holds a known value. */
  mark(text: string, spans: Spans): void {
    const short = this.short;
    const firsts = this.firsts;
    // The last four code units kept (separators skipped), folded, c3 the newest; where they stand.
    let c0 = 0;
    let c1 = 0;
    let c2 = 0;
    let c3 = 0;
    let p0 = 0;
    let p1 = 0;
    let p2 = 0;
    let kept = 0;
    // The run of windows found so far (overlapping or touching windows join up): where its
    // first and last code units stand, and its start and end counted in code units kept.
    let runFrom = -1;
    let runLast = -1;
    let runStart = 0;
    let runEnd = -1;
    for (let i = 0; i < text.length; i++) {
      const raw = text.charCodeAt(i);
      if (isSeparator(raw)) continue;
      c0 = c1;
      c1 = c2;
      c2 = c3;
      c3 = foldCase(raw);
      const q0 = p0;
      p0 = p1;
      p1 = p2;
      p2 = i;
      kept++;
      for (let s = 0; s < short.length; s++) {
        const value = short[s]!;
        const length = value.length;
        if (kept < length || value[length - 1] !== c3 || (length > 1 && value[length - 2] !== c2) || (length > 2 && value[0] !== c1)) continue;
        const start = length === 1 ? i : length === 2 ? p1 : p0;
        if (isTokenStart(text, start) && isTokenEnd(text, i)) spans.mark(start, i + 1);
      }
      if (firsts === undefined || kept < PIECE) continue;
      if ((c0 < 128 ? firsts[c0 >> 5]! & (1 << (c0 & 31)) : firsts[4]!) === 0 || !this.windows.has(windowKey(c0, c1, c2, c3))) continue;
      const x = kept - PIECE;
      if (x <= runEnd) {
        runEnd = x + PIECE;
        runLast = i;
      } else {
        if (runFrom >= 0) this.markRun(text, runFrom, runLast, runEnd - runStart, spans);
        runFrom = q0;
        runLast = i;
        runStart = x;
        runEnd = x + PIECE;
      }
    }
    if (runFrom >= 0) this.markRun(text, runFrom, runLast, runEnd - runStart, spans);
  }

  /**
   * A run of windows, `from` to `last` (inclusive; `count` code units kept): the part of it
   * from its first token start to its last token end, and long values found whole in it.
   */
  private markRun(text: string, from: number, last: number, count: number, spans: Spans): void {
    let a = from;
    let b = last;
    let left = count;
    while (a <= b && !(isKept(text, a) && isTokenStart(text, a))) if (isKept(text, a++)) left--;
    while (b >= a && !(isKept(text, b) && isTokenEnd(text, b))) if (isKept(text, b--)) left--;
    if (left >= PIECE) spans.mark(a, b + 1);
    if (a === from && b === last) return;
    for (const value of this.long) if (value.codes.length <= count) searchRun(text, from, last, value, spans);
  }
}

function isKept(text: string, p: number): boolean {
  return !isSeparator(text.charCodeAt(p));
}

/** A value's code units without separators, case folded. */
function fold(value: string): Uint16Array {
  const codes = new Uint16Array(value.length);
  let length = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (!isSeparator(c)) codes[length++] = foldCase(c);
  }
  return codes.slice(0, length);
}

function textOf(codes: Uint16Array): string {
  let text = '';
  for (let i = 0; i < codes.length; i += 8192) text += String.fromCharCode(...codes.subarray(i, i + 8192));
  return text;
}

/**
 * A 4-code-unit window as a set key: a small integer when the window is ASCII (almost always;
 * 28 bits, so never a boxed number), else its text.
 */
function windowKey(c0: number, c1: number, c2: number, c3: number): number | string {
  if ((c0 | c1 | c2 | c3) < 128) return (c0 << 21) | (c1 << 14) | (c2 << 7) | c3;
  return String.fromCharCode(c0, c1, c2, c3);
}

/** Does a token start at `p`: no character of the same class (digit, letter) just before it? */
function isTokenStart(text: string, p: number): boolean {
  if (p === 0) return true;
  const cls = charClass(text.charCodeAt(p));
  return cls === OTHER || charClass(text.charCodeAt(p - 1)) !== cls;
}

/** Does a token end at `p` (inclusive): no character of the same class just after it? */
function isTokenEnd(text: string, p: number): boolean {
  if (p === text.length - 1) return true;
  const cls = charClass(text.charCodeAt(p));
  return cls === OTHER || charClass(text.charCodeAt(p + 1)) !== cls;
}

function failureTable(pattern: Uint16Array): Int32Array {
  const fail = new Int32Array(pattern.length);
  let k = 0;
  for (let i = 1; i < pattern.length; i++) {
    while (k > 0 && pattern[i] !== pattern[k]) k = fail[k - 1]!;
    if (pattern[i] === pattern[k]) k++;
    fail[i] = k;
  }
  return fail;
}

/** Mark every occurrence of a long value in `text[from, last]`, separators skipped (Knuth–Morris–Pratt). */
function searchRun(text: string, from: number, last: number, value: LongValue, spans: Spans): void {
  const pattern = value.codes;
  const fail = (value.fail ??= failureTable(pattern));
  const length = pattern.length;
  // Where the last `length` code units kept stand, by their count modulo `length`.
  const at = new Int32Array(length);
  let seen = 0;
  let k = 0;
  for (let i = from; i <= last; i++) {
    const raw = text.charCodeAt(i);
    if (isSeparator(raw)) continue;
    const c = foldCase(raw);
    at[seen++ % length] = i;
    while (k > 0 && c !== pattern[k]) k = fail[k - 1]!;
    if (c === pattern[k]) k++;
    if (k === length) {
      spans.mark(at[seen % length]!, i + 1);
      k = fail[k - 1]!;
    }
  }
}
