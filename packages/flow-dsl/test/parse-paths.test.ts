/**
 * The fast path (js-yaml) and the full path (the `yaml` document) must read every file the
 * same way: positions come from the document, so the data they point into must agree.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CORE_SCHEMA, load } from 'js-yaml';
import { parseDocument } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseYaml } from '../src/index.js';

function yamlFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...yamlFiles(p));
    else if (/\.ya?ml$/.test(e)) out.push(p);
  }
  return out;
}

const files = [...yamlFiles(join(import.meta.dirname, 'fixtures')), ...yamlFiles(join(import.meta.dirname, '..', '..', '..', 'examples'))];

describe('the two YAML paths', () => {
  it('finds files to compare', () => expect(files.length).toBeGreaterThan(50));

  it('read every fixture and example to the same data', () => {
    let compared = 0;
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      let fast: unknown;
      try {
        fast = load(text, { schema: CORE_SCHEMA });
      } catch {
        continue; // not plain valid YAML: only the full path reads it
      }
      const doc = parseDocument(text, { uniqueKeys: false, version: '1.2' });
      if (doc.errors.length > 0) continue;
      expect(fast, file).toEqual(doc.toJS());
      compared++;
    }
    expect(compared).toBeGreaterThan(50);
  });

  it('positions a problem in a file read on the fast path', () => {
    const parsed = parseYaml('flow: x\nkind: inbound\nstart: a\nstates:\n  a:\n    disconect: {}\n', 'f.yaml');
    expect(parsed.diagnostics).toEqual([]);
    expect(parsed.source.locate(['states', 'a', 'disconect'], 'key')).toMatchObject({ line: 6, column: 5 });
  });

  it('takes the full path for duplicate keys, anchors and syntax errors', () => {
    expect(parseYaml('a: 1\na: 2\n', 'f.yaml').diagnostics[0]).toMatchObject({ ruleId: 'schema', line: 2 });
    expect(parseYaml('a: &x [1]\nb: *x\n', 'f.yaml').data).toEqual({ a: [1], b: [1] });
    expect(parseYaml('a: [1\n', 'f.yaml').diagnostics[0]).toMatchObject({ fatal: true });
  });
});
