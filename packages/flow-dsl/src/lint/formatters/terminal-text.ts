/**
 * Text from flow files (state names, values, whole messages quoting them) on its way to a
 * terminal or to a report a person may print on one. Control characters — C0, DEL and C1 —
 * and the Unicode bidirectional embeddings, overrides and isolates can move the cursor,
 * recolour or rewrite what is shown, or reorder it ("Trojan Source"); they are shown escaped
 * (`\x1b`, `\r`, `\u202e`) in plain text, and as escapes that parse back to the same
 * characters in JSON and XML.
 */

// C0 (U+0000–U+001F), DEL and C1 (U+007F–U+009F), LRE RLE PDF LRO RLO (U+202A–U+202E), LRI RLI FSI PDI (U+2066–U+2069).
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
// What JSON.stringify leaves as it is (it escapes C0 itself).
const UNSAFE_IN_JSON = /[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Readonly<Record<string, string>> = { '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** Plain text safe to print: `\x1b[31m` shows as the six characters `\x1b[31m`. */
export function escapeForTerminal(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const named = NAMED[c];
    if (named !== undefined) return named;
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${hex(code, 2)}` : `\\u${hex(code, 4)}`;
  });
}

/** Text of several lines safe to print: each line escaped, the line breaks kept. */
export function escapeLinesForTerminal(text: string): string {
  return text.split('\n').map(escapeForTerminal).join('\n');
}

/** JSON text (from JSON.stringify) with DEL, C1 and the bidi controls written as `\uXXXX` (same value). */
export function escapeJsonText(json: string): string {
  // Outside strings JSON text is ASCII punctuation, digits and literals: every match is inside a string.
  return json.replace(UNSAFE_IN_JSON, (c) => `\\u${hex(c.charCodeAt(0), 4)}`);
}

/** A character reference for XML content: CR, DEL, C1 and the bidi controls (same value once parsed). */
export function escapeXmlControls(text: string): string {
  return text.replace(/[\r\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, (c) => `&#x${c.charCodeAt(0).toString(16).toUpperCase()};`);
}

function hex(code: number, width: number): string {
  return code.toString(16).padStart(width, '0');
}
