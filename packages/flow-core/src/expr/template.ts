/**
 * `${...}` text templates (prompts, log lines, transfer targets): split into literal text and
 * CEL expressions with their character offsets, so the linter can point at a column inside
 * the text and the runtime can render it. `$${` writes a literal `${`.
 */
import { fromCelValue } from './cel.js';

/** Literal text of a template. */
export interface TemplateText {
  kind: 'text';
  text: string;
  /** Offsets in the template (the source span, escapes included). */
  from: number;
  to: number;
}

/** A `${...}` placeholder: `text` is the CEL between the braces, starting at `from`. */
export interface TemplateExpression {
  kind: 'expression';
  text: string;
  from: number;
  to: number;
}

/** One piece of a template. */
export type TemplatePart = TemplateText | TemplateExpression;

/** A template that could not be read (an unterminated or empty `${`). */
export interface TemplateError {
  message: string;
  from: number;
  to: number;
}

/** A parsed template: its parts, and the first error if it has one (parts then hold what was read). */
export interface ParsedTemplate {
  parts: TemplatePart[];
  error?: TemplateError;
}

/**
 * The offset of the `}` that closes a placeholder whose CEL starts at `start`, skipping
 * braces inside CEL string literals ('...', "...", triple-quoted, raw) and nested map literals.
 * -1 when there is none.
 */
function closingBrace(text: string, start: number): number {
  let depth = 0;
  let i = start;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"' || c === "'") {
      const raw = i > start && /[rR]/.test(text[i - 1]!) && !/[A-Za-z0-9_]/.test(text[i - 2] ?? ' ');
      const triple = text.startsWith(c.repeat(3), i);
      const quote = triple ? c.repeat(3) : c;
      i += quote.length;
      while (i < text.length && !text.startsWith(quote, i)) {
        if (text[i] === '\\' && !raw) i++;
        if (!triple && text[i] === '\n') break;
        i++;
      }
      if (i >= text.length) return -1;
      i += quote.length;
      continue;
    }
    if (c === '{') depth++;
    else if (c === '}') {
      if (depth === 0) return i;
      depth--;
    }
    i++;
  }
  return -1;
}

/** Split a template into literal text and `${CEL}` parts with their offsets. */
export function parseTemplate(template: string): ParsedTemplate {
  const parts: TemplatePart[] = [];
  let literal = '';
  let literalFrom = 0;
  let i = 0;
  const flush = (to: number): void => {
    if (literal !== '') parts.push({ kind: 'text', text: literal, from: literalFrom, to });
    literal = '';
    literalFrom = to;
  };
  while (i < template.length) {
    if (template.startsWith('$${', i)) {
      literal += '${';
      i += 3;
      continue;
    }
    if (template.startsWith('${', i)) {
      const start = i + 2;
      const end = closingBrace(template, start);
      if (end < 0) {
        flush(i);
        return { parts, error: { message: "unterminated '${': close it with '}' (write '$${' for a literal '${')", from: i, to: i + 2 } };
      }
      const text = template.slice(start, end);
      if (text.trim() === '') {
        flush(i);
        return { parts, error: { message: "empty placeholder '${}': put a CEL expression inside", from: i, to: end + 1 } };
      }
      flush(i);
      parts.push({ kind: 'expression', text, from: start, to: end });
      i = end + 1;
      literalFrom = i;
      continue;
    }
    literal += template[i];
    i++;
  }
  flush(template.length);
  return { parts };
}

/** Does the text hold any `${` placeholder (escaped ones aside)? */
export function isTemplate(text: string): boolean {
  const parsed = parseTemplate(text);
  return parsed.error !== undefined || parsed.parts.some((p) => p.kind === 'expression');
}

/** A CEL value as text in a rendered template: strings as they are, ints without `n`, lists and maps as JSON. */
export function formatTemplateValue(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'bigint' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  try {
    return JSON.stringify(fromCelValue(value));
  } catch {
    return String(value);
  }
}

/**
 * Render a template: each placeholder's CEL text goes to `evaluate` (which the runtime backs
 * with a parsed expression and the session's values), its result is formatted as text.
 * Throws the template error for an unterminated `${`.
 */
export function renderTemplate(
  template: string | ParsedTemplate,
  evaluate: (expression: string, part: TemplateExpression) => unknown,
  format: (value: unknown, part: TemplateExpression) => string = (v) => formatTemplateValue(v),
): string {
  const parsed = typeof template === 'string' ? parseTemplate(template) : template;
  if (parsed.error) throw new TemplateSyntaxError(parsed.error);
  let out = '';
  for (const part of parsed.parts) out += part.kind === 'text' ? part.text : format(evaluate(part.text, part), part);
  return out;
}

/** A template that cannot be rendered (a bug in a flow that lint would have caught). */
export class TemplateSyntaxError extends Error {
  readonly code = 'TEMPLATE_SYNTAX';
  constructor(readonly detail: TemplateError) {
    super(`${detail.message} (at character ${detail.from})`);
    this.name = 'TemplateSyntaxError';
  }
}
