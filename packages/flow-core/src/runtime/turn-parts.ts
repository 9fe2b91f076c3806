/**
 * The small parts a turn is made of: the bodies of the actions as the runtime reads them,
 * and helpers shared by the turn and its waiting states.
 */
import type { PromptSpec } from '../model/primitives.js';
import { CALL_FIELDS } from '../expr/cel.js';
import type { Wait } from './session.js';
import type { Command, Speech } from './types.js';

/**
 * What running one state gives: a way out to take, a wait, the end of the session, or a
 * subflow whose start state is now current (`callFlow`: the turn's loop runs it next, so a
 * chain of calls never nests on the JavaScript stack).
 */
export type Step = { take: string } | { wait: Wait } | { ended: true } | { entered: true };

export type InvokeBody = { action: string; input?: Record<string, unknown>; output?: Record<string, unknown>; timeout?: string | number; retries?: number };
export type TransferBody = {
  queue?: string;
  number?: string;
  user?: string;
  sip?: string;
  flow?: string;
  inputs?: Record<string, unknown>;
  data?: Record<string, unknown>;
  prompt?: PromptSpec;
};
export type CollectBody = {
  prompt?: PromptSpec;
  into: string;
  digits?: { min?: number; max?: number; length?: number; finishOnKey?: string };
  validate?: string;
  attempts?: number;
  noInputPrompt?: PromptSpec;
  noMatchPrompt?: PromptSpec;
};
export type MenuBody = { prompt: PromptSpec; options: Record<string, string>; attempts?: number; noInputPrompt?: PromptSpec; noMatchPrompt?: PromptSpec };
export type PayStateBody = { amount: unknown; currency?: string; description?: string; prompt?: PromptSpec; attempts?: number; timeout?: string | number; output?: Record<string, unknown> };
export type AuthBody = { to: unknown; prompt?: PromptSpec; message?: string; digits?: number; attempts?: number; ttl?: string | number };

export function stripFinish(digits: string, body: object): string {
  const key = (body as { digits?: { finishOnKey?: string } }).digits?.finishOnKey ?? '#';
  return key !== '' && digits.endsWith(key) ? digits.slice(0, -1) : digits;
}

export function sayOf(s: Speech): Command {
  if (s.play !== undefined) return { type: 'play', url: s.play };
  const cmd: Command = { type: 'say', text: s.text ?? '' };
  if (s.voice) cmd.voice = s.voice;
  if (s.language) cmd.language = s.language;
  return cmd;
}

/** `call` as CEL sees it: every field present (empty when the provider did not say). */
export function stringMap(call: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(CALL_FIELDS)) {
    const v = call[k];
    out[k] = v === undefined || v === null ? '' : String(v);
  }
  return out;
}

export function firstLine(error: unknown): string {
  const m = error instanceof Error ? error.message : String(error);
  return (m.split('\n')[0] ?? m).trim();
}

export function codeOf(error: unknown): string {
  if (error && typeof error === 'object' && 'code' in error && typeof (error as { code: unknown }).code === 'string') {
    return (error as { code: string }).code;
  }
  return 'RUNTIME_ERROR';
}

export function messageOf(error: unknown): string {
  return firstLine(error);
}

/** An expression as an error message may quote it: the flow's text (never a value), shortened. */
export function quoteExpression(text: string): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return `'${one.length > 80 ? `${one.slice(0, 77)}...` : one}'`;
}

// What CEL says went wrong, by the start of its message; the rest (which quotes values) is dropped.
const CEL_FAILURES: [RegExp, string][] = [
  [/^no such overload/i, 'no such overload'],
  [/^no such key/i, 'no such key'],
  [/^no such (field|property)/i, 'no such field'],
  [/^unknown variable/i, 'unknown variable'],
  [/division by zero|divide by zero/i, 'division by zero'],
  [/modulus by zero|modulo by zero/i, 'modulus by zero'],
  [/overflow/i, 'integer overflow'],
  [/out of (range|bounds)|index/i, 'index out of range'],
  [/duration/i, 'not a valid duration'],
  [/timestamp/i, 'not a valid timestamp'],
  [/regex|regular expression|pattern/i, 'invalid regular expression'],
  [/(cannot|could not|unable to) (convert|parse)|invalid (int|uint|double|number)|not a (number|valid)/i, 'a value could not be converted'],
  [/type/i, 'a value of the wrong type'],
];

/** What went wrong in a CEL evaluation, without the values CEL's message quotes. */
export function celFailure(error: unknown): string {
  const m = firstLine(error);
  for (const [pattern, what] of CEL_FAILURES) if (pattern.test(m)) return what;
  return 'evaluation error';
}
