/**
 * Every rule of the registry has a docs page and valid and invalid fixtures, and each
 * fixture reports exactly what it marks (see fixture-runner.ts).
 */
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RULES } from '../src/index.js';
import { actualMarks, describeResults, expectedMarks, fixturesOf, lintFixture, readFixture } from './fixture-runner.js';

const root = join(import.meta.dirname, 'fixtures', 'rules');
const repo = join(import.meta.dirname, '..', '..', '..');

describe.each(RULES.map((r) => [r.meta.name, r] as const))('rule %s', (name, rule) => {
  it('has a docs page', () => {
    expect(rule.meta.docs).toBe(`docs/rules/${name}.md`);
    expect(existsSync(join(repo, rule.meta.docs))).toBe(true);
  });

  const valid = fixturesOf(root, name, 'valid');
  const invalid = fixturesOf(root, name, 'invalid');

  it('has valid and invalid fixtures', () => {
    expect(valid.length).toBeGreaterThan(0);
    expect(invalid.length).toBeGreaterThan(0);
  });

  for (const path of valid) {
    it(`reports nothing on valid/${basename(path)}`, () => {
      const results = lintFixture(readFixture(path));
      expect(describeResults(results)).toBe('');
    });
  }

  for (const path of invalid) {
    it(`reports what invalid/${basename(path)} marks`, () => {
      const fixture = readFixture(path);
      const expected = expectedMarks(fixture);
      expect(expected.some((m) => m.endsWith(` ${name}`)), 'the fixture marks this rule at least once').toBe(true);
      const results = lintFixture(fixture);
      expect(actualMarks(results), describeResults(results)).toEqual(expected);
    });
  }
});
