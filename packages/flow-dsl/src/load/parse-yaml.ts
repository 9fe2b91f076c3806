/**
 * YAML text → plain data plus a source map, with YAML syntax errors and duplicate keys
 * turned into diagnostics (never exceptions). Positions come from the `yaml` package's
 * document API, in which every node keeps its range.
 *
 * Two paths. The fast one reads a plain, valid file (no anchors, aliases or tags, no
 * duplicate keys) with js-yaml's YAML 1.2 core schema — about ten times faster — and builds
 * the `yaml` document only if a diagnostic needs a position, so a clean file never pays for
 * it. Anything else takes the full path through the `yaml` document, which reports syntax
 * errors and duplicate keys with their positions and limits aliases.
 */
import { CORE_SCHEMA, load as loadFast } from 'js-yaml';
import { LineCounter, isMap, isSeq, parseDocument, type Node } from 'yaml';
import type { Diagnostic } from '../lint/types.js';
import { SourceMap, keyString, type NodePath } from './source-map.js';
import { textTooLarge } from './source-size.js';

/** The result of reading one YAML file. */
export interface ParsedYaml {
  /** The plain data (undefined when the text is not usable YAML). */
  data: unknown;
  source: SourceMap;
  diagnostics: Diagnostic[];
}

/** Where a duplicate key is a `duplicate-option` rather than a schema problem. */
function isMenuOptions(path: NodePath): boolean {
  return path.length === 4 && path[0] === 'states' && path[2] === 'menu' && path[3] === 'options';
}

/**
 * Anchors (`&a`), aliases (`*a`) and tags (`!x`) where a node starts (line start, after `: `,
 * `- `, `? `, `[`, `{` or `,`) take the full path: alias limits, tag warnings. The same
 * characters inside a scalar (`a && !b`, `n * 2`) do not.
 */
const NEEDS_FULL_PATH = /(?:^[ \t]*|[:?-][ \t]+|[[{,][ \t]*)[&*!][^\s,\]}]/m;

const DOCUMENT_OPTIONS = { uniqueKeys: false, prettyErrors: false, version: '1.2' } as const;

/**
 * How far aliases may expand (the `yaml` package's count: the uses of an anchor times the
 * aliases inside what it names). Plenty for a flow that reuses a prompt or a map; a file
 * whose aliases nest to multiply (a "billion laughs" bomb) is refused long before it costs.
 */
export const MAX_ALIAS_COUNT = 100;

/** Parse YAML text; never throws. */
export function parseYaml(text: string, file: string, maxBytes?: number): ParsedYaml {
  const tooLarge = textTooLarge(text, file, maxBytes);
  if (tooLarge) return { data: undefined, source: new SourceMap(file, text, undefined), diagnostics: [tooLarge] };
  if (!NEEDS_FULL_PATH.test(text)) {
    try {
      const data = loadFast(text, { schema: CORE_SCHEMA, json: false, filename: file });
      const source = new SourceMap(file, text, () => parseDocument(text, { ...DOCUMENT_OPTIONS, lineCounter: new LineCounter() }));
      return { data, source, diagnostics: [] };
    } catch {
      // Not plain valid YAML (a syntax error, a duplicate key, nesting too deep): the full path says where.
    }
  }
  return parseFully(text, file);
}

function parseFully(text: string, file: string): ParsedYaml {
  const lineCounter = new LineCounter();
  const diagnostics: Diagnostic[] = [];
  let doc;
  try {
    doc = parseDocument(text, { ...DOCUMENT_OPTIONS, lineCounter });
  } catch (error) {
    return unreadable(new SourceMap(file, text, undefined, lineCounter), diagnostics, error);
  }
  const source = new SourceMap(file, text, doc, lineCounter);
  for (const e of doc.errors) {
    diagnostics.push({
      ruleId: 'schema',
      severity: 2,
      fatal: true,
      message: `YAML syntax error: ${firstLine(e)}`,
      ...source.rangeOf(e.pos[0], e.pos[1]),
    });
  }
  for (const w of doc.warnings) {
    diagnostics.push({ ruleId: 'schema', severity: 1, message: `YAML: ${firstLine(w)}`, ...source.rangeOf(w.pos[0], w.pos[1]) });
  }
  if (doc.errors.length > 0) return { data: undefined, source, diagnostics };

  findDuplicateKeys(doc.contents as Node | null, [], source, diagnostics);

  let data: unknown;
  try {
    // maxAliasCount guards against alias bombs ("billion laughs").
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    return unreadable(source, diagnostics, error);
  }
  return { data, source, diagnostics };
}

/** The file could not be read as YAML at all (too deep, an alias bomb...): one fatal diagnostic. */
function unreadable(source: SourceMap, diagnostics: Diagnostic[], error: unknown): ParsedYaml {
  const why = firstLine(error);
  diagnostics.push({
    ruleId: 'schema',
    severity: 2,
    fatal: true,
    message: /excessive alias count/i.test(why)
      ? `YAML could not be read: its aliases (*name) would expand into more than ${MAX_ALIAS_COUNT} copies of what they name (an alias bomb, "billion laughs"); write the values out, or alias less`
      : `YAML could not be read: ${why}`,
    ...source.fileStart(),
  });
  return { data: undefined, source, diagnostics };
}

function findDuplicateKeys(node: Node | null, path: (string | number)[], source: SourceMap, out: Diagnostic[]): void {
  // Iterative walk: deeply nested input must not blow the stack.
  const stack: { node: unknown; path: (string | number)[] }[] = [{ node, path }];
  while (stack.length > 0) {
    const { node: n, path: p } = stack.pop()!;
    if (isMap(n)) {
      const seen = new Map<string, number>();
      for (const pair of n.items) {
        const key = keyString(pair.key);
        const keyRange = (pair.key as { range?: [number, number, number] } | null)?.range;
        const first = seen.get(key);
        if (first !== undefined && keyRange) {
          const firstLine = source.rangeOf(first, first).line;
          const menu = isMenuOptions(p);
          source.duplicateKeys.push({ path: [...p, key], key, firstLine, range: source.rangeOf(keyRange[0], keyRange[1]) });
          // Duplicate menu options are the duplicate-option rule's to report.
          if (menu) continue;
          out.push({
            ruleId: 'schema',
            severity: 2,
            message: `${renderPath([...p, key])}: duplicate key '${key}' (first at line ${firstLine}); the last one would win`,
            ...source.rangeOf(keyRange[0], keyRange[1]),
          });
        } else if (keyRange) seen.set(key, keyRange[0]);
        stack.push({ node: pair.value, path: [...p, key] });
      }
    } else if (isSeq(n)) {
      n.items.forEach((item, i) => stack.push({ node: item, path: [...p, i] }));
    }
  }
}

/** `states.ask.on.success`, `states.pick.switch.cases[0].when`. */
export function renderPath(path: NodePath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? seg : `.${seg}`;
  }
  return out === '' ? '(file)' : out;
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return (message.split('\n')[0] ?? message).trim();
}
