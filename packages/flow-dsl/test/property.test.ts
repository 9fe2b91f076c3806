/**
 * Property-based test: lint never breaks on damaged input. Valid flow files (the examples
 * and the valid rule fixtures) are mutated at the YAML level (a key deleted, duplicated or
 * misspelt, a value of the wrong type, a state reference to nowhere, deep nesting) and at
 * the text level (truncated, random characters, a line deleted, indentation changed). For
 * every mutant: lint() does not throw, no rule fails with `internal-error`, and every
 * diagnostic points inside the file.
 *
 * Random by default with a bounded number of runs, one fixed seed under CI; to replay a
 * failure set CALLFLOW_PROPERTY_SEED (fast-check prints the seed and path), and
 * CALLFLOW_PROPERTY_RUNS to run more.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Pair, Scalar, isMap, isPair, isScalar, isSeq, parseDocument, type Document, type Node } from 'yaml';
import type { ProjectConfig } from '@callflow/flow-core';
import { lint, loadConfigText, type Diagnostic, type SourceFile } from '../src/index.js';
import { exampleProjects } from './example-projects.js';

// ---------------------------------------------------------------------------------------
// The seeds: valid flows, each with the project it belongs to.

interface Seed {
  name: string;
  file: string;
  text: string;
  /** Sibling flows of the same project (read for references). */
  others: SourceFile[];
  config?: ProjectConfig;
  configText?: string;
}

function projectSeeds(name: string, flows: SourceFile[], configText: string | undefined): Seed[] {
  const config = configText === undefined ? undefined : loadConfigText(configText, 'callflow.config.yaml');
  return flows.map((f) => ({
    name: `${name}/${basename(f.file)}`,
    file: f.file,
    text: f.text,
    others: flows.filter((o) => o !== f),
    ...(config?.valid ? { config: config.config } : {}),
    ...(configText === undefined ? {} : { configText }),
  }));
}

function fixtureSeeds(): Seed[] {
  const root = join(import.meta.dirname, 'fixtures', 'rules');
  const seeds: Seed[] = [];
  let rules: string[] = [];
  try {
    rules = readdirSync(root).sort();
  } catch {
    return seeds;
  }
  for (const rule of rules) {
    const dir = join(root, rule, 'valid');
    let entries: string[] = [];
    try {
      entries = readdirSync(dir).sort();
    } catch {
      continue;
    }
    for (const entry of entries) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) {
        const flows: SourceFile[] = [];
        let configText: string | undefined;
        for (const f of readdirSync(path).sort()) {
          if (!/\.ya?ml$/.test(f)) continue;
          const text = readFileSync(join(path, f), 'utf8');
          if (/^callflow\.config\.ya?ml$/.test(f)) configText = text;
          else flows.push({ file: join(path, f), text });
        }
        seeds.push(...projectSeeds(`${rule}/${entry}`, flows, configText));
      } else if (/\.ya?ml$/.test(entry)) {
        seeds.push(...projectSeeds(rule, [{ file: path, text: readFileSync(path, 'utf8') }], undefined));
      }
    }
  }
  return seeds;
}

const seeds: Seed[] = [
  ...exampleProjects().flatMap((p) => projectSeeds(p.name, p.flows, p.configText)),
  ...fixtureSeeds(),
];

const envRuns = Number(process.env.CALLFLOW_PROPERTY_RUNS);
const envSeed = Number(process.env.CALLFLOW_PROPERTY_SEED);
/** Runs per property: bounded so the whole file stays well under 20 s on two cores. */
const RUNS = Number.isFinite(envRuns) && envRuns > 0 ? envRuns : 100;
/** CI runs one fixed seed (a red CI is a finding, never luck); elsewhere each run is a new one. */
const SEED = Number.isFinite(envSeed) ? envSeed : process.env.CI ? 20261202 : undefined;
const fcOptions: fc.Parameters<unknown> = {
  numRuns: RUNS,
  ...(SEED !== undefined ? { seed: SEED } : {}),
};

// ---------------------------------------------------------------------------------------
// The property itself.

/** What must hold for any text linted as `seed`'s file. */
function lintsSafely(seed: Seed, text: string, config: ProjectConfig | undefined = seed.config): void {
  let results;
  try {
    results = lint({ targets: [{ file: seed.file, text }], others: seed.others, ...(config ? { config } : {}) });
  } catch (error) {
    throw new Error(`lint() threw on a mutant of ${seed.name}: ${error instanceof Error ? error.stack : String(error)}\n--- mutant ---\n${text}`);
  }
  expect(results).toHaveLength(1);
  const lines = text.split('\n');
  for (const d of results[0]!.messages) {
    if (d.ruleId === 'internal-error') {
      throw new Error(`internal-error on a mutant of ${seed.name}: ${d.message}\n--- mutant ---\n${text}`);
    }
    const problem = positionProblem(d, lines);
    if (problem) {
      throw new Error(`${problem} in ${d.ruleId} '${d.message}' (${d.line}:${d.column}-${d.endLine}:${d.endColumn}) on a mutant of ${seed.name}\n--- mutant ---\n${text}`);
    }
  }
}

/** Why a diagnostic's range is not inside the file, or undefined when it is. */
function positionProblem(d: Diagnostic, lines: string[]): string | undefined {
  const inside = (line: number, column: number): boolean =>
    Number.isInteger(line) &&
    Number.isInteger(column) &&
    line >= 1 &&
    line <= lines.length &&
    column >= 1 &&
    column <= lines[line - 1]!.length + 1;
  if (!inside(d.line, d.column)) return 'start outside the file';
  if (!inside(d.endLine, d.endColumn)) return 'end outside the file';
  if (d.endLine < d.line || (d.endLine === d.line && d.endColumn < d.column)) return 'end before start';
  return undefined;
}

// ---------------------------------------------------------------------------------------
// YAML-level mutations, on the document (comments and layout elsewhere are kept).

/** Where a node sits: its parent collection and its key/index there. */
interface Site {
  path: (string | number)[];
  parent: { items: unknown[] };
  /** The pair (maps) or the item index (lists). */
  pair?: Pair;
  index: number;
}

/** Every entry of every map and list in the document, walked without recursion. */
function sitesOf(doc: Document): Site[] {
  const sites: Site[] = [];
  const stack: { node: unknown; path: (string | number)[] }[] = [{ node: doc.contents, path: [] }];
  while (stack.length > 0) {
    const { node, path } = stack.pop()!;
    if (isMap(node)) {
      node.items.forEach((pair, index) => {
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        sites.push({ path: [...path, key], parent: node, pair, index });
        stack.push({ node: pair.value, path: [...path, key] });
      });
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => {
        sites.push({ path: [...path, index], parent: node, index });
        stack.push({ node: isPair(item) ? item.value : item, path: [...path, index] });
      });
    }
  }
  return sites;
}

/** A misspelling a person might make: a letter dropped, doubled, swapped, or its case changed. */
function nearMiss(word: string, n: number): string {
  if (word.length === 0) return 'x';
  const i = n % word.length;
  switch (n % 5) {
    case 0:
      return word.slice(0, i) + word.slice(i + 1) || `${word}x`;
    case 1:
      return word.slice(0, i) + word[i] + word.slice(i);
    case 2:
      return i + 1 < word.length ? word.slice(0, i) + word[i + 1] + word[i] + word.slice(i + 2) : `${word}s`;
    case 3:
      return word.slice(0, i) + (word[i] === word[i]!.toUpperCase() ? word[i]!.toLowerCase() : word[i]!.toUpperCase()) + word.slice(i + 1);
    default:
      return `${word}_`;
  }
}

/** A value of some type: string, number, map, list, null, boolean. */
const anyValue = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom('', ' ', '${', '${x', '}', 'luhn', '0', '-1', 'true', 'null', '~', '1e999', 'start', '#', "'"),
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -1, 2 ** 53, Number.NaN, Infinity, -0),
  fc.constant(null),
  fc.boolean(),
  fc.dictionary(fc.string({ maxLength: 6 }), fc.oneof(fc.string({ maxLength: 6 }), fc.integer(), fc.constant(null)), { maxKeys: 3 }),
  fc.array(fc.oneof(fc.string({ maxLength: 6 }), fc.integer(), fc.constant(null)), { maxLength: 3 }),
);

type YamlMutation =
  | { kind: 'delete'; at: number }
  | { kind: 'duplicate'; at: number }
  | { kind: 'rename'; at: number; how: number }
  | { kind: 'retype'; at: number; value: unknown }
  | { kind: 'dangling'; at: number; how: number }
  | { kind: 'nest'; at: number; depth: number; list: boolean };

const yamlMutation: fc.Arbitrary<YamlMutation> = fc.oneof(
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('rename' as const), at: fc.nat(), how: fc.nat() }),
  fc.record({ kind: fc.constant('retype' as const), at: fc.nat(), value: anyValue }),
  fc.record({ kind: fc.constant('dangling' as const), at: fc.nat(), how: fc.nat() }),
  fc.record({ kind: fc.constant('nest' as const), at: fc.nat(), depth: fc.integer({ min: 1, max: 1000 }), list: fc.boolean() }),
);

/** Apply one mutation to the seed's text; undefined when it does not apply to this file. */
function mutateYaml(text: string, m: YamlMutation): string | undefined {
  const doc = parseDocument(text, { uniqueKeys: false });
  const sites = sitesOf(doc);
  if (sites.length === 0) return undefined;
  const site = sites[m.at % sites.length]!;
  switch (m.kind) {
    case 'delete':
      site.parent.items.splice(site.index, 1);
      break;
    case 'duplicate': {
      const copy = site.pair ? site.pair.clone() : (site.parent.items[site.index] as Node | null)?.clone?.() ?? null;
      site.parent.items.splice(site.index + 1, 0, copy);
      break;
    }
    case 'rename': {
      if (!site.pair || !isScalar(site.pair.key)) return undefined;
      site.pair.key = new Scalar(nearMiss(String(site.pair.key.value), m.how));
      break;
    }
    case 'retype':
      setSite(site, doc.createNode(m.value));
      break;
    case 'dangling': {
      // A reference to a state that is not there: a near miss of the value, or a new name.
      const states = doc.get('states');
      const names = isMap(states) ? states.items.map((p) => (isScalar(p.key) ? String(p.key.value) : '')) : [];
      const refs = sites.filter((s) => {
        const v = s.pair ? s.pair.value : s.parent.items[s.index];
        return isScalar(v) && typeof v.value === 'string' && names.includes(v.value);
      });
      if (refs.length === 0) return undefined;
      const ref = refs[m.how % refs.length]!;
      const v = (ref.pair ? ref.pair.value : ref.parent.items[ref.index]) as Scalar;
      const target = m.how % 2 === 0 ? nearMiss(String(v.value), m.how >> 1) : `missing${m.how}`;
      setSite(ref, new Scalar(target));
      break;
    }
    case 'nest':
      // Written as text: the yaml package's own writer is slow on deep nesting.
      setSite(site, new Scalar(NEST_MARK));
      break;
  }
  let out: string;
  try {
    out = doc.toString();
  } catch {
    return undefined; // the yaml package cannot write this document back: not lint's concern
  }
  if (m.kind === 'nest') {
    const nested = m.list ? `${'['.repeat(m.depth)}deep${']'.repeat(m.depth)}` : `${'{k: '.repeat(m.depth)}deep${'}'.repeat(m.depth)}`;
    out = out.replace(NEST_MARK, nested);
  }
  return out;
}

const NEST_MARK = 'callflow-property-test-nest-here';

function setSite(site: Site, node: unknown): void {
  if (site.pair) site.pair.value = node;
  else site.parent.items[site.index] = node;
}

// ---------------------------------------------------------------------------------------
// Text-level mutations.

type TextMutation =
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; chars: string }
  | { kind: 'deleteLine'; line: number }
  | { kind: 'indent'; line: number; delta: number; tab: boolean };

/** Characters that mean something to YAML, CEL or the templates, plus odd Unicode. */
const nastyChar = fc.oneof(
  fc.constantFrom(
    ':', '-', '?', '{', '}', '[', ']', ',', '#', '&', '*', '!', '|', '>', "'", '"', '%', '@', '`',
    '\t', '\n', '\r', ' ', '$', '${', '\\', '\u0000', '\u0007', '\uFEFF', '\u2028', '\uD800', '\uDFFF', '😀', 'é',
    '<<: *a', '&a ', '---\n', '...\n', '%YAML 1.1\n',
  ),
  fc.string({ unit: 'binary', maxLength: 3 }),
);

const textMutation: fc.Arbitrary<TextMutation> = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    chars: fc.array(nastyChar, { minLength: 1, maxLength: 4 }).map((a) => a.join('')),
  }),
  fc.record({ kind: fc.constant('deleteLine' as const), line: fc.nat() }),
  fc.record({ kind: fc.constant('indent' as const), line: fc.nat(), delta: fc.integer({ min: -4, max: 4 }), tab: fc.boolean() }),
);

function mutateText(text: string, m: TextMutation): string {
  switch (m.kind) {
    case 'truncate':
      return text.slice(0, m.at % (text.length + 1));
    case 'insert': {
      const at = m.at % (text.length + 1);
      return text.slice(0, at) + m.chars + text.slice(at);
    }
    case 'deleteLine': {
      const lines = text.split('\n');
      lines.splice(m.line % lines.length, 1);
      return lines.join('\n');
    }
    case 'indent': {
      const lines = text.split('\n');
      const i = m.line % lines.length;
      const line = lines[i]!;
      if (m.tab) lines[i] = `\t${line}`;
      else if (m.delta >= 0) lines[i] = ' '.repeat(m.delta) + line;
      else lines[i] = line.replace(new RegExp(`^ {0,${-m.delta}}`), '');
      return lines.join('\n');
    }
  }
}

// ---------------------------------------------------------------------------------------

const seedIndex = fc.nat({ max: Math.max(0, seeds.length - 1) });

describe('lint on damaged flow files', () => {
  it('has valid flows to start from', () => {
    expect(seeds.length).toBeGreaterThan(0);
  });

  it('lints every seed clean before it is damaged', () => {
    // Otherwise a finding below might be the seed's, not the mutation's.
    for (const seed of seeds) lintsSafely(seed, seed.text);
  });

  it('never throws, never fails a rule, and points inside the file after a YAML-level mutation', () => {
    fc.assert(
      fc.property(seedIndex, fc.array(yamlMutation, { minLength: 1, maxLength: 3 }), (i, mutations) => {
        const seed = seeds[i]!;
        let text: string | undefined = seed.text;
        // Deep nesting last: re-reading and re-writing a deeply nested document is slow in
        // the yaml package, and says nothing about lint.
        const ordered = [...mutations.filter((m) => m.kind !== 'nest'), ...mutations.filter((m) => m.kind === 'nest').slice(0, 1)];
        for (const m of ordered) text = text === undefined ? undefined : mutateYaml(text, m);
        fc.pre(text !== undefined);
        lintsSafely(seed, text!);
      }),
      fcOptions,
    );
  }, 60_000);

  it('never throws, never fails a rule, and points inside the file after a text-level mutation', () => {
    fc.assert(
      fc.property(seedIndex, fc.array(textMutation, { minLength: 1, maxLength: 3 }), (i, mutations) => {
        const seed = seeds[i]!;
        let text = seed.text;
        for (const m of mutations) text = mutateText(text, m);
        lintsSafely(seed, text);
      }),
      fcOptions,
    );
  }, 60_000);

  it('survives a damaged callflow.config.yaml', () => {
    const withConfig = seeds.filter((s) => s.configText !== undefined);
    fc.pre(withConfig.length > 0);
    fc.assert(
      fc.property(
        fc.nat({ max: Math.max(0, withConfig.length - 1) }),
        fc.oneof(
          yamlMutation.map((m) => ({ yaml: m })),
          textMutation.map((m) => ({ text: m })),
        ),
        (i, m) => {
          const seed = withConfig[i]!;
          const text = 'yaml' in m ? mutateYaml(seed.configText!, m.yaml) : mutateText(seed.configText!, m.text);
          fc.pre(text !== undefined);
          const loaded = loadConfigText(text!, 'callflow.config.yaml');
          const lines = text!.split('\n');
          for (const d of loaded.diagnostics) expect(positionProblem(d, lines), d.message).toBeUndefined();
          lintsSafely(seed, seed.text, loaded.config);
        },
      ),
      fcOptions,
    );
  }, 60_000);

  it('survives deep nesting written as text', () => {
    fc.assert(
      fc.property(
        seedIndex,
        fc.integer({ min: 50, max: 5000 }),
        fc.constantFrom('[', '{a: ', '- '),
        fc.constantFrom('default', 'start', 'extra'),
        (i, depth, open, where) => {
          const seed = seeds[i]!;
          const close = open === '[' ? ']' : open === '{a: ' ? '}' : '';
          // Block nesting grows as depth², so it stays shallower.
          const nested =
            open === '- '
              ? '\n' + Array.from({ length: Math.min(depth, 400) }, (_, d) => `${'  '.repeat(d + 2)}- `).join('\n') + 'x'
              : `${open.repeat(depth)}x${close.repeat(depth)}`;
          let text: string;
          if (where === 'default') {
            // A variable default is schema-valid at any depth: this reaches the rules.
            const doc = parseDocument(seed.text);
            doc.setIn(['variables', 'deepValue'], doc.createNode({ type: 'list', default: NEST_MARK }));
            text = doc.toString().replace(NEST_MARK, nested);
          } else if (where === 'start') text = seed.text.replace(/^start: .*$/m, `start: ${nested}`);
          else text = `${seed.text}\nextra: ${nested}\n`;
          lintsSafely(seed, text);
        },
      ),
      { ...fcOptions, numRuns: Math.max(1, Math.floor(RUNS / 15)) },
    );
  }, 60_000);
});
