/**
 * The redactor every byte the runtime emits passes through: log records, event payloads,
 * error messages, snapshots and simulator lines.
 *
 * First line of defence: the session's own secure values, removed where they are written —
 * whole, as pieces of 4 or more characters, with spaces or dashes between the characters, on
 * token boundaries (see secret-index.ts). Second line: patterns that look sensitive whatever
 * the session knows — card numbers (13–19 digits passing Luhn), phone numbers and e-mail
 * addresses in free text, string values of fields named like CVV/PIN/PAN/password.
 *
 * Only strings are rewritten. A number, boolean or bigint is a typed field (an amount, a
 * timestamp, a count), not free text: it is never replaced, so a command or event keeps its
 * shape. Every detector is linear in the text.
 */
import { digitGroups, markCardNumbers, markEmails, markPhoneNumbers } from './patterns.js';
import { findUuids, Spans, UUID_LENGTH } from './scan.js';
import { SecretIndex } from './secret-index.js';

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

const DEFAULT_SENSITIVE_FIELD =
  /^(cvv2?|cvc2?|cv2|csc|cid|pin|pincode|securitycode|cardnumber|cardno|pan|primaryaccountnumber|password|passcode|passwd|secret|otp|onetimecode|verificationcode|authcode|expiry|expirydate|expiration|track\d?|trackdata)$/i;
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
  private readonly index = new SecretIndex();
  /**
   * Secrets added but not yet indexed. A session's redactor is built every turn and most turns
   * never redact anything (no listener, logging off): the index is built on first use.
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
  with(secrets: Iterable<unknown>): Redactor {
    const r = new Redactor(this.options);
    for (const s of this.index.values()) r.pending.push(s);
    for (const s of this.pending) r.pending.push(s);
    for (const s of secrets) r.addSecret(s);
    return r;
  }

  /**
   * Remember a secure value of the session: a string, a number (as written in decimal), or
   * each of those inside a list or map. Booleans are not searched for (every `true` in a log
   * would go).
   */
  addSecret(value: unknown): void {
    secretTexts(value, this.pending, 0);
  }

  /** Index the secrets added since the last use. */
  private settle(): void {
    if (this.pending.length === 0) return;
    const pending = this.pending;
    this.pending = [];
    for (const text of pending) this.index.add(text);
  }

  /** Forget every session secret (the secure session ended and its values were wiped). */
  clearSecrets(): void {
    this.pending = [];
    this.index.clear();
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
    const spans = new Spans(text.length);
    if (this.index.size > 0) this.index.mark(text, spans);
    if (this.options.detectEmail) markEmails(text, spans);
    if (this.options.detectPan || this.options.detectPhone) {
      const groups = digitGroups(text);
      if (groups && this.options.detectPan) markCardNumbers(text, groups, spans);
      if (groups && this.options.detectPhone) markPhoneNumbers(text, groups, spans);
    }
    return spans.apply(text, REDACTED);
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
      out[k] = this.walk(v, sensitive || this.options.sensitiveField.test(normaliseField(k)), depth + 1);
    }
    return out;
  }
}

/** The texts to search for in a secure value. */
function secretTexts(value: unknown, out: string[], depth: number): void {
  if (typeof value === 'string') out.push(value);
  else if (typeof value === 'number' || typeof value === 'bigint') out.push(String(value));
  else if (value !== null && typeof value === 'object' && depth < MAX_DEPTH) {
    for (const v of Array.isArray(value) ? value : Object.values(value)) secretTexts(v, out, depth + 1);
  }
}
