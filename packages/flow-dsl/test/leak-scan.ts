/**
 * Finds secure values in what a call left behind (log records, events, commands, stored
 * sessions, CLI output), whole or in recognisable pieces, and names what it found without
 * ever quoting it: a finding reads `card: 5 digits in a row`, never the digits.
 *
 * - A card: any 5 consecutive digits of it or of it reversed (its last 4 alone are a released
 *   form), also across the digit runs of one string ("491x633x850"), and its bytes in hex.
 * - A security code, PIN or expiry: the value (or its reverse) as a whole run of digits.
 * - A phone number: any 6 consecutive digits of it not also in the call's own numbers.
 * - Anything the case lists under `reveals`, as it is.
 *
 * Random noise that could look like digits of a secret is taken out first: UUIDs (session
 * ids) and sealed envelopes (ciphertext) of stored sessions.
 */
import { isSealed } from '@callflow/flow-core';
import { SECRETS, type SecretName } from './leak-corpus-cases.js';

/** Numbers the runtime or the CLI uses for the call itself (never a secret's digits). */
export const CALL_NUMBERS = ['+12025552671', '+12025550199', '+15555550100', '+15555550199'];

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
const digitsOf = (s: string): string => s.replace(/\D/g, '');
const reverse = (s: string): string => [...s].reverse().join('');
const windows = (s: string, n: number): string[] => Array.from({ length: Math.max(0, s.length - n + 1) }, (_, i) => s.slice(i, i + n));

interface Pattern {
  secret: string;
  /** Pieces that must not appear in a string (or in its digit runs joined). */
  pieces: string[];
  /** Whole digit runs that must not appear. */
  tokens: string[];
}

function patternOf(name: SecretName): Pattern {
  const value = SECRETS[name];
  const digits = digitsOf(value);
  switch (name) {
    case 'card':
      return { secret: name, pieces: [...windows(digits, 5), ...windows(reverse(digits), 5), Buffer.from(value).toString('hex')], tokens: [] };
    case 'phone': {
      const own = new Set(CALL_NUMBERS.flatMap((n) => [...windows(digitsOf(n), 6), ...windows(reverse(digitsOf(n)), 6)]));
      return { secret: name, pieces: [...windows(digits, 6), ...windows(reverse(digits), 6)].filter((w) => !own.has(w)), tokens: [] };
    }
    default:
      return { secret: name, pieces: [], tokens: [digits, reverse(digits)] };
  }
}

/** A scanner for the given secrets (and extra strings that must not appear). */
export function leakScanner(secrets: readonly SecretName[], reveals: readonly string[] = []): (value: unknown) => string[] {
  const patterns = [...new Set<SecretName>(secrets)].map(patternOf);
  const scanString = (raw: string, found: Set<string>): void => {
    const text = raw.replace(UUID, 'uuid');
    const runs: string[] = text.match(/\d+/g) ?? [];
    const joined = runs.join('');
    for (const p of patterns) {
      if (p.pieces.some((w) => text.includes(w))) found.add(`${p.secret} (a piece of it)`);
      else if (p.pieces.some((w) => joined.includes(w))) found.add(`${p.secret} (a piece of it, split by other characters)`);
      if (p.tokens.some((t) => runs.includes(t))) found.add(`${p.secret} (the whole value)`);
    }
    for (const r of reveals) if (text.includes(r)) found.add('an encoding of a secret the case lists');
  };
  const walk = (value: unknown, found: Set<string>, depth: number): void => {
    if (depth > 64) return;
    if (typeof value === 'string') scanString(value, found);
    else if (typeof value === 'number' || typeof value === 'bigint') scanString(String(value), found);
    else if (Array.isArray(value)) for (const v of value) walk(v, found, depth + 1);
    else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) {
        scanString(k, found);
        walk(v, found, depth + 1);
      }
    }
  };
  return (value) => {
    const found = new Set<string>();
    walk(value, found, 0);
    return [...found].sort();
  };
}

/** A stored session as JSON, its sealed envelopes (ciphertext) replaced by a marker. */
export function storedSession(text: string): unknown {
  const record = JSON.parse(text) as Record<string, unknown>;
  const scrub = (v: unknown): unknown => {
    if (isSealed(v)) return '[sealed]';
    if (Array.isArray(v)) return v.map(scrub);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, scrub(x)]));
    return v;
  };
  return scrub(record);
}
