/**
 * Positions for every node of a YAML flow file: `locate(['states', 'ask', 'on', 'success'])`
 * gives file:line:column of that value (or of its key). Map look-ups are indexed lazily, one
 * pass per map, so locating all N states of a flow costs O(N), not O(N²).
 */
import { isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node, type Pair } from 'yaml';

/** A path into the flow document: map keys and list indexes. */
export type NodePath = readonly (string | number)[];

/** A span in a file, 1-based lines and columns; the end is exclusive. */
export interface SourceRange {
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
}

/** Which part of a map entry to point at. */
export type PathPart = 'key' | 'value';

interface MapIndex {
  byKey: Map<string, Pair>;
}

/** A key written twice in the same map. */
export interface DuplicateKey {
  path: NodePath;
  key: string;
  firstLine: number;
  range: SourceRange;
}

/** Positions of the nodes of one parsed YAML document. */
export class SourceMap {
  private readonly indexes = new WeakMap<object, MapIndex>();
  /** Keys written twice (the later one wins in the model). */
  readonly duplicateKeys: DuplicateKey[] = [];

  private docValue: Document | undefined;
  private docFactory: (() => Document | undefined) | undefined;

  /**
   * `doc` may be a function: the document is then built on the first position asked for.
   * Clean files read on the fast path (see parse-yaml.ts) never pay for building it.
   */
  constructor(
    readonly file: string,
    readonly text: string,
    doc: Document | undefined | (() => Document | undefined),
    _lines?: LineCounter,
  ) {
    if (typeof doc === 'function') this.docFactory = doc;
    else this.docValue = doc;
  }

  private get doc(): Document | undefined {
    if (this.docFactory) {
      const make = this.docFactory;
      this.docFactory = undefined;
      try {
        this.docValue = make();
      } catch {
        this.docValue = undefined;
      }
    }
    return this.docValue;
  }

  /** The range of an offset span. */
  rangeOf(start: number, end: number): SourceRange {
    const s = this.linePos(Math.max(0, Math.min(start, this.text.length)));
    const e = this.linePos(Math.max(0, Math.min(Math.max(end, start), this.text.length)));
    return { line: s.line, column: s.col, endLine: e.line, endColumn: e.col };
  }

  /**
   * Line and column of an offset, from the text itself. The parser's LineCounter misses the
   * line breaks inside a token it could not place (a multi-line scalar after a syntax error),
   * which put ranges past the end of their line; counting here keeps every range in the file.
   */
  private linePos(offset: number): { line: number; col: number } {
    const starts = (this.lineStarts ??= lineStartsOf(this.text));
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: offset - starts[lo]! + 1 };
  }

  private lineStarts?: number[];

  /** The range of the whole file's first line (for whole-file problems). */
  fileStart(): SourceRange {
    return { line: 1, column: 1, endLine: 1, endColumn: 1 };
  }

  /**
   * The range of the node at `path`: its value, or the key that holds it. Where the path
   * goes further than the document, the deepest node found is given (its key).
   */
  locate(path: NodePath, part: PathPart = 'value'): SourceRange {
    const span = this.spanOf(path, part);
    return span ? this.rangeOf(span[0], span[1]) : this.fileStart();
  }

  /**
   * The range of characters `from`..`to` inside the string value at `path` (e.g. the column
   * of a CEL error inside an expression). Falls back to the whole value where the scalar's
   * source text is not the value as written (escapes, folded block scalars).
   */
  locateInString(path: NodePath, from: number, to: number): SourceRange {
    const node = this.nodeAt(path);
    if (!node || !isScalar(node) || !node.range || typeof node.value !== 'string') return this.locate(path);
    const [start, end] = node.range;
    const raw = this.text.slice(start, end);
    const value = node.value;
    let base = -1;
    if (raw === value) base = start;
    else if ((raw.startsWith('"') || raw.startsWith("'")) && raw.slice(1, -1) === value) base = start + 1;
    else {
      // Block scalars (| and >) keep the text on following lines: find it verbatim if it is there.
      const idx = raw.indexOf(value.split('\n')[0] ?? '');
      if (idx >= 0 && raw.slice(idx).startsWith(value.slice(0, Math.max(0, to)))) base = start + idx;
    }
    if (base < 0) return this.rangeOf(start, end);
    return this.rangeOf(base + from, base + Math.max(to, from + 1));
  }

  /** The YAML node at `path`, if the document has one. */
  nodeAt(path: NodePath): Node | undefined {
    let node: unknown = this.doc?.contents ?? undefined;
    for (const seg of path) {
      if (isMap(node)) {
        const pair = this.pairOf(node, String(seg));
        if (!pair) return undefined;
        node = pair.value ?? undefined;
      } else if (isSeq(node) && typeof seg === 'number') {
        node = node.items[seg];
      } else return undefined;
    }
    return (node ?? undefined) as Node | undefined;
  }

  private spanOf(path: NodePath, part: PathPart): [number, number] | undefined {
    let node: unknown = this.doc?.contents ?? undefined;
    let lastSpan: [number, number] | undefined = rangeSpan(node);
    for (let i = 0; i < path.length; i++) {
      const seg = path[i]!;
      const isLast = i === path.length - 1;
      if (isMap(node)) {
        const pair = this.pairOf(node, String(seg));
        if (!pair) return lastSpan;
        const keySpan = rangeSpan(pair.key);
        const valueSpan = rangeSpan(pair.value);
        if (isLast) {
          if (part === 'key') return keySpan ?? valueSpan ?? lastSpan;
          // A key with no value (`disconnect:`) points at the key.
          if (!valueSpan || valueSpan[0] === valueSpan[1]) return keySpan ?? lastSpan;
          return valueSpan;
        }
        lastSpan = keySpan ?? lastSpan;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number') {
        const item = node.items[seg];
        const span = rangeSpan(item);
        if (!span) return lastSpan;
        if (isLast) return span;
        lastSpan = span;
        node = isPair(item) ? item.value : item;
      } else {
        return lastSpan;
      }
    }
    return rangeSpan(node) ?? lastSpan;
  }

  private pairOf(map: { items: Pair[] }, key: string): Pair | undefined {
    let index = this.indexes.get(map);
    if (!index) {
      index = { byKey: new Map() };
      for (const pair of map.items) index.byKey.set(keyString(pair.key), pair);
      this.indexes.set(map, index);
    }
    return index.byKey.get(key);
  }
}

/** The offset where each line starts (lines end at `\n`, as the yaml package counts them). */
function lineStartsOf(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

/** A map key as the string that `toJS` gives it. */
export function keyString(key: unknown): string {
  if (isScalar(key)) return String(key.value);
  if (key === null || key === undefined) return '';
  return String(key);
}

function rangeSpan(node: unknown): [number, number] | undefined {
  if (!node || typeof node !== 'object' || !('range' in node)) return undefined;
  const range = (node as { range?: [number, number, number] | null }).range;
  if (!range) return undefined;
  return [range[0], range[1]];
}
