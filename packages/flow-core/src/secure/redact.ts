/**
 * The redactor every byte the runtime emits passes through: log records, event payloads,
 * error messages, snapshots and simulator lines.
 *
 * First line of defence: the session's own secure values, removed wherever they appear —
 * exactly, as any substring of 4 or more characters, and with spaces or dashes between the
 * characters. Second line: patterns that look sensitive whatever the session knows — card
 * numbers (13–19 digits passing Luhn), phone numbers and e-mail addresses in free text, string
 * values of fields named like CVV/PIN/PAN/password.
 *
 * Only strings are rewritten. A number, boolean or bigint is a typed field (an amount, a
 * timestamp, a count), not free text: it is never replaced, so a command or event keeps its
 * shape. The pattern detectors are scanners linear in the text.
 */

import { digitGroups, markCardNumbers, markEmails, markPhoneNumbers } from './patterns.js';
import { findUuids, Spans, UUID_LENGTH } from './scan.js';

/** What replaces a removed value. */
export const REDACTED = '[redacted]';

/** Options of the pattern detectors (all on by default). */
export interface RedactorOptions {
  /** Card numbers (13–19 digits, spaces/dashes allowed, Luhn-valid). */
  detectPan?: boolean;
  /** Phone numbers in free text (E.164 or 10+ digit runs). */
  detectPhone?: boolean;
  /** E-mail addresses in free text. */
  detectEmail?: boolean;
  /** Field names whose string values are always removed. */
  sensitiveField?: RegExp;
}

const SEPARATORS = /[\s\-.]/;
const DEFAULT_SENSITIVE_FIELD =
  /^(cvv2?|cvc2?|cv2|csc|cid|pin|pincode|securitycode|cardnumber|cardno|pan|primaryaccountnumber|password|passcode|passwd|secret|otp|onetimecode|verificationcode|authcode|expiry|expirydate|expiration|track\d?|trackdata)$/i;
const MIN_SUBSTRING = 4;
/** Structured values deeper than this are cut off (a cycle, or nothing a log needs). */
const MAX_DEPTH = 64;

/** The Luhn check over a string of digits. */
export function luhnValid(digits: string): boolean {
  if (!/^\d+$/.test(digits) || digits.length < 2) return false;
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

function normaliseField(name: string): string {
  return name.replace(/[_\-\s]/g, '').toLowerCase();
}

/** Removes secure values and sensitive-looking data from text and structured values. */
export class Redactor {
  private readonly secrets = new Set<string>();
  private grams = new Map<string, string[]>();
  /**
   * Secrets added but not yet indexed. A session's redactor is built every turn and most turns
   * never redact anything (no listener, logging off): the 4-gram index is built on first use.
   */
  private pending: string[] = [];
  private readonly options: Required<RedactorOptions>;

  constructor(options: RedactorOptions = {}) {
    this.options = {
      detectPan: options.detectPan ?? true,
      detectPhone: options.detectPhone ?? true,
      detectEmail: options.detectEmail ?? true,
      sensitiveField: options.sensitiveField ?? DEFAULT_SENSITIVE_FIELD,
    };
  }

  /** A redactor with the same options and secrets plus these (sessions derive from a base). */
  with(secrets: Iterable<string>): Redactor {
    const r = new Redactor(this.options);
    for (const s of this.secrets) r.pending.push(s);
    for (const s of this.pending) r.pending.push(s);
    for (const s of secrets) r.addSecret(s);
    return r;
  }

  /** Remember a secure value of the session (values shorter than 4 characters are matched exactly). */
  addSecret(value: unknown): void {
    if (value === null || value === undefined) return;
    this.pending.push(typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value, bigintSafe) : String(value));
  }

  /** Index the secrets added since the last use. */
  private settle(): void {
    if (this.pending.length === 0) return;
    const pending = this.pending;
    this.pending = [];
    for (const text of pending) this.index(text);
  }

  private index(text: string): void {
    const stripped = strip(text).toLowerCase();
    if (stripped.length === 0 || this.secrets.has(stripped)) return;
    this.secrets.add(stripped);
    if (stripped.length >= MIN_SUBSTRING) {
      for (let i = 0; i + MIN_SUBSTRING <= stripped.length; i++) {
        const g = stripped.slice(i, i + MIN_SUBSTRING);
        const list = this.grams.get(g);
        if (list) {
          if (!list.includes(stripped)) list.push(stripped);
        } else this.grams.set(g, [stripped]);
      }
    }
  }

  /** Forget every session secret (the secure session ended and its values were wiped). */
  clearSecrets(): void {
    this.pending = [];
    this.secrets.clear();
    this.grams = new Map();
  }

  /** Redact free text. */
  redactText(text: string): string {
    this.settle();
    // Ids (UUIDs: session ids, tokens) are random hex: a run of digits in one is not a phone
    // number or a piece of a secret, and a mangled id would be useless. Keep them whole.
    const ids = findUuids(text);
    if (ids.length === 0) return this.redactPlain(text);
    let out = '';
    let last = 0;
    for (const start of ids) {
      out += this.redactPlain(text.slice(last, start)) + text.slice(start, start + UUID_LENGTH);
      last = start + UUID_LENGTH;
    }
    return out + this.redactPlain(text.slice(last));
  }

  private redactPlain(text: string): string {
    if (text === '') return text;
    const out = this.secrets.size > 0 ? this.removeSecrets(text) : text;
    const spans = new Spans(out.length);
    if (this.options.detectEmail) markEmails(out, spans);
    if (this.options.detectPan || this.options.detectPhone) {
      const groups = digitGroups(out);
      if (groups && this.options.detectPan) markCardNumbers(out, groups, spans);
      if (groups && this.options.detectPhone) markPhoneNumbers(out, groups, spans);
    }
    return spans.apply(out, REDACTED);
  }

  /**
   * Redact any value: strings, arrays and plain objects deeply (a new value; the input is
   * untouched). Strings are redacted; numbers, booleans and bigints are kept as they are.
   */
  redact<T>(value: T): T {
    this.settle();
    return this.walk(value, false, 0) as T;
  }

  private walk(value: unknown, sensitive: boolean, depth: number): unknown {
    if (typeof value === 'string') return sensitive && value !== '' ? REDACTED : this.redactText(value);
    if (value === null || typeof value !== 'object') return value;
    if (depth > MAX_DEPTH) return REDACTED;
    if (Array.isArray(value)) return value.map((v) => this.walk(v, sensitive, depth + 1));
    if (value instanceof Error) {
      const e = new Error(this.redactText(value.message));
      e.name = value.name;
      return e;
    }
    if (value instanceof Date) return value;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      out[k] = this.walk(v, sensitive || this.isSensitiveField(k), depth + 1);
    }
    return out;
  }

  private isSensitiveField(field: string): boolean {
    return this.options.sensitiveField.test(normaliseField(field));
  }

  /** Remove every occurrence of a session secret, or of 4+ characters of one, separators allowed. */
  private removeSecrets(text: string): string {
    // Work on the text without separators, keeping where each kept character came from.
    const kept: number[] = [];
    let stripped = '';
    for (let i = 0; i < text.length; i++) {
      const ch = text[i]!;
      if (!SEPARATORS.test(ch)) {
        kept.push(i);
        stripped += ch.toLowerCase();
      }
    }
    const covered = new Uint8Array(stripped.length);
    let any = false;
    // Exact secrets shorter than the n-gram size.
    for (const s of this.secrets) {
      if (s.length >= MIN_SUBSTRING) continue;
      let at = stripped.indexOf(s);
      while (at >= 0) {
        covered.fill(1, at, at + s.length);
        any = true;
        at = stripped.indexOf(s, at + 1);
      }
    }
    // Any window of 4 characters of a secret marks its span (overlapping windows join up).
    for (let i = 0; i + MIN_SUBSTRING <= stripped.length; i++) {
      if (this.grams.has(stripped.slice(i, i + MIN_SUBSTRING))) {
        covered.fill(1, i, i + MIN_SUBSTRING);
        any = true;
      }
    }
    if (!any) return text;
    let out = '';
    let last = 0;
    let i = 0;
    while (i < stripped.length) {
      if (!covered[i]) {
        i++;
        continue;
      }
      let j = i;
      while (j + 1 < stripped.length && covered[j + 1]) j++;
      const start = kept[i]!;
      const end = kept[j]! + 1;
      out += text.slice(last, start) + REDACTED;
      last = end;
      i = j + 1;
    }
    return out + text.slice(last);
  }
}

function strip(text: string): string {
  let out = '';
  for (const ch of text) if (!SEPARATORS.test(ch)) out += ch;
  return out;
}

function bigintSafe(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
