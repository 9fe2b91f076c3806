/**
 * The report formatters (stylish, json, sarif, junit): golden outputs for a fixed set of
 * fixture flows, and the properties each format's readers rely on.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { FORMATTERS, formatterByName, type FormatContext } from '../src/lint/formatters/index.js';
import { toJsonResults } from '../src/lint/formatters/json.js';
import { escapeXml } from '../src/lint/formatters/junit.js';
import { lint, loadConfigText, ruleByName, RULES, summarise, type LintResult, type Rule } from '../src/index.js';
import { golden, normalise, PACKAGE_ROOT } from './golden.js';

const FIXTURES = join(PACKAGE_ROOT, 'test', 'fixtures', 'cli');
const FILES = ['broken.yaml', 'clean.yaml', 'problems.yaml'];

// The goldens use a fixed set of rules, so that new rules (or new wording in other rules)
// do not change them; the CLI tests run every rule.
const GOLDEN_RULES: Rule[] = ['schema', 'duplicate-option', 'unreachable-state'].map((n) => ruleByName(n)!);

function lintFixtures(): LintResult[] {
  const config = loadConfigText(readFileSync(join(FIXTURES, 'callflow.config.yaml'), 'utf8'), join(FIXTURES, 'callflow.config.yaml'));
  const targets = FILES.map((f) => ({ file: join(FIXTURES, f), text: readFileSync(join(FIXTURES, f), 'utf8') }));
  return lint({ targets, config: config.config, rules: GOLDEN_RULES });
}

const context: FormatContext = { cwd: PACKAGE_ROOT, color: false, rules: GOLDEN_RULES, version: '0.0.0-test' };

describe('formatters', () => {
  it('has stylish, json, sarif and junit, by name', () => {
    expect(Object.keys(FORMATTERS).sort()).toEqual(['json', 'junit', 'sarif', 'stylish']);
    expect(formatterByName('stylish')).toBe(FORMATTERS.stylish);
    expect(formatterByName('toString')).toBeUndefined();
  });

  describe('golden outputs', () => {
    const results = lintFixtures();
    it('stylish matches test/golden/stylish.txt', () => {
      const out = normalise(FORMATTERS.stylish!(results, context));
      expect(out).toBe(golden('stylish.txt', out));
    });
    it('json matches test/golden/json.json (pretty-printed for review)', () => {
      const out = normalise(JSON.stringify(JSON.parse(FORMATTERS.json!(results, context)), null, 2)) + '\n';
      expect(out).toBe(golden('json.json', out));
    });
    it('sarif matches test/golden/sarif.json', () => {
      const out = normalise(FORMATTERS.sarif!(results, context)) + '\n';
      expect(out).toBe(golden('sarif.json', out));
    });
    it('junit matches test/golden/junit.xml', () => {
      const out = normalise(FORMATTERS.junit!(results, context));
      expect(out).toBe(golden('junit.xml', out));
    });
  });

  describe('stylish', () => {
    const results = lintFixtures();
    it('prints nothing when there is no problem', () => {
      const clean = results.filter((r) => r.messages.length === 0);
      expect(FORMATTERS.stylish!(clean, context)).toBe('');
    });
    it('colours only when asked to (the CLI asks for a TTY without NO_COLOR)', () => {
      expect((FORMATTERS.stylish!(results, context)).includes('\u001b['), 'must not be there').toBe(false);
      const coloured = FORMATTERS.stylish!(results, { ...context, color: true });
      expect(coloured).toContain('\u001b[31merror\u001b[39m');
      expect(coloured).toContain('\u001b[33mwarning\u001b[39m');
      expect(coloured.replace(/\u001b\[[0-9;]*m/g, '')).toBe(FORMATTERS.stylish!(results, context));
    });
    it('shows control characters and bidi overrides quoted from a flow file escaped, never raw', () => {
      const message = `states.a.next: no state 'x\u001b[31m\ry\u009b2J\u007f\u202eevil\u2066\tz'`;
      const out = FORMATTERS.stylish!([summarise('/x/f\u001b]0;title\u0007.yaml', [{ ruleId: 'unknown-state', severity: 2, message, line: 1, column: 1, endLine: 1, endColumn: 2 }])], { ...context, cwd: '/x' });
      expect(out).toContain(`no state 'x\\x1b[31m\\ry\\x9b2J\\x7f\\u202eevil\\u2066\\tz'`);
      expect(out).toContain('f\\x1b]0;title\\x07.yaml');
      expect(out).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
    });
    it('aligns line numbers right and columns left, like ESLint', () => {
      const make = (line: number, column: number) => ({ ruleId: 'r', severity: 2 as const, message: 'm', line, column, endLine: line, endColumn: column });
      const out = FORMATTERS.stylish!([summarise('/x/a.yaml', [make(1, 5), make(10, 12)])], { ...context, cwd: '/x' });
      expect(out).toBe('\na.yaml\n   1:5   error  m  r\n  10:12  error  m  r\n\n\u2716 2 problems (2 errors, 0 warnings)\n');
    });
  });

  describe('json', () => {
    it("has ESLint's shape: absolute filePath, severities 1 and 2, counts, fixable counts 0", () => {
      const out = JSON.parse(FORMATTERS.json!(lintFixtures(), context)) as Record<string, unknown>[];
      expect(out).toHaveLength(3);
      for (const r of out) {
        expect(Object.keys(r).filter((k) => k !== 'source')).toEqual([
          'filePath', 'messages', 'errorCount', 'warningCount', 'fatalErrorCount', 'fixableErrorCount', 'fixableWarningCount',
        ]);
        expect(r.filePath).toMatch(/^\//);
        expect(r.fixableErrorCount).toBe(0);
        expect(r.fixableWarningCount).toBe(0);
      }
      const broken = out.find((r) => String(r.filePath).endsWith('broken.yaml'))!;
      expect(broken.fatalErrorCount).toBe(1);
      expect((broken.messages as { fatal?: boolean }[])[0]!.fatal).toBe(true);
      const clean = out.find((r) => String(r.filePath).endsWith('clean.yaml'))!;
      expect(clean.messages).toEqual([]);
      expect(clean).not.toHaveProperty('source');
    });
    it('writes DEL, C1 and bidi controls as \\u escapes (JSON.stringify escapes C0 itself)', () => {
      const message = 'x\u001by\u009bz\u007f\u202e';
      const out = FORMATTERS.json!([summarise('/x/a.yaml', [{ ruleId: 'r', severity: 2, message, line: 1, column: 1, endLine: 1, endColumn: 1 }])], { ...context, cwd: '/x' });
      expect(out).toContain('x\\u001by\\u009bz\\u007f\\u202e');
      expect(out).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
      expect((JSON.parse(out) as { messages: { message: string }[] }[])[0]!.messages[0]!.message).toBe(message);
    });
    it('makes relative file paths absolute against the working directory', () => {
      expect(toJsonResults([summarise('flows/a.yaml', [])], '/work/x')[0]!.filePath).toBe('/work/x/flows/a.yaml');
    });
  });

  describe('sarif', () => {
    const sarifSchema = loadSarifSchema();
    // unicodeRegExp: false because the schema's `language` pattern has a stray ] that u-mode rejects.
    const ajv = new Ajv({ strict: false, allErrors: true, unicodeRegExp: false });
    ajv.addFormat('uri', (s: string) => /^[a-z][a-z0-9+.-]*:/i.test(s));
    ajv.addFormat('uri-reference', () => true);
    ajv.addFormat('date-time', (s: string) => !Number.isNaN(Date.parse(s)));
    const validate = ajv.compile(sarifSchema);

    it('validates against the official SARIF 2.1.0 JSON Schema', () => {
      const log = JSON.parse(FORMATTERS.sarif!(lintFixtures(), { ...context, rules: RULES }));
      const ok = validate(log);
      expect(validate.errors ?? []).toEqual([]);
      expect(ok).toBe(true);
    });
    it('lists every rule with its docs, and results point at rules by index', () => {
      const log = JSON.parse(FORMATTERS.sarif!(lintFixtures(), { ...context, rules: RULES }));
      const run = log.runs[0];
      expect(run.tool.driver.name).toBe('callflow');
      expect(run.tool.driver.rules.map((r: { id: string }) => r.id)).toEqual(RULES.map((r) => r.meta.name));
      for (const r of run.tool.driver.rules) {
        expect(r.helpUri).toMatch(/^https:\/\//);
        expect(r.help.markdown).toContain(r.helpUri);
        expect(['error', 'warning']).toContain(r.defaultConfiguration.level);
      }
      for (const res of run.results) {
        expect(run.tool.driver.rules[res.ruleIndex].id).toBe(res.ruleId);
        const loc = res.locations[0].physicalLocation;
        expect(loc.artifactLocation.uri).toMatch(/^test\/fixtures\/cli\/[a-z]+\.yaml$/);
        expect(loc.artifactLocation.uriBaseId).toBe('%SRCROOT%');
        expect(loc.region.startLine).toBeGreaterThan(0);
      }
      expect(run.originalUriBaseIds['%SRCROOT%'].uri).toMatch(/^file:\/\/.*\/$/);
    });
    it('describes a diagnostic of no registered rule (internal-error) so ruleIndex stays valid', () => {
      const results = [summarise('/x/a.yaml', [{ ruleId: 'internal-error', severity: 2, message: 'boom', line: 1, column: 1, endLine: 1, endColumn: 1 }])];
      const log = JSON.parse(FORMATTERS.sarif!(results, { ...context, cwd: '/x', rules: RULES }));
      const run = log.runs[0];
      expect(run.tool.driver.rules[run.results[0].ruleIndex].id).toBe('internal-error');
      expect(validate(log)).toBe(true);
    });
    it('percent-encodes file names that are not plain uri characters', () => {
      const log = JSON.parse(FORMATTERS.sarif!([summarise('/x/my flows/a#1.yaml', [])], { ...context, cwd: '/x' }));
      expect(log.runs[0].artifacts[0].location.uri).toBe('my%20flows/a%231.yaml');
      expect(validate(log)).toBe(true);
    });
  });

  describe('junit', () => {
    it('escapes XML special characters and drops characters XML cannot hold', () => {
      expect(escapeXml(`a<b>&"c"'d'\u0000\u001b`)).toBe('a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;\uFFFD\uFFFD');
    });
    it('writes CR, DEL, C1 and bidi controls as character references (the same text to a reader)', () => {
      expect(escapeXml('a\rb\u007fc\u009bd\u202ee\u2069')).toBe('a&#xD;b&#x7F;c&#x9B;d&#x202E;e&#x2069;');
    });
    it('has one testcase per file, a failure for errors and warnings in system-out', () => {
      const out = FORMATTERS.junit!(lintFixtures(), context);
      expect(out.match(/<testcase /g)).toHaveLength(3);
      expect(out).toContain('<testsuite name="callflow lint" tests="3" failures="2"');
      expect(out).toContain('classname="test/fixtures/cli/problems.yaml"');
      expect(out).toMatch(/<system-out>17:3 unreachable-state /);
    });
  });
});

/** The SARIF 2.1.0 schema as shipped by @microsoft/jest-sarif, read as draft-07. */
function loadSarifSchema(): Record<string, unknown> {
  const require = createRequire(import.meta.url);
  const path = join(require.resolve('@microsoft/jest-sarif/package.json'), '..', 'lib', 'schemas', 'sarif-2.1.0-rtm.5.json');
  const schema = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  // The file declares draft-04 but uses nothing draft-07 reads differently, except the
  // draft-04 spelling of the top-level id.
  const { $schema: _ignored, id, ...rest } = schema;
  return { $id: id, ...rest };
}
