/**
 * Runs the rule fixtures: real flow files under test/fixtures/rules/<rule>/{valid,invalid}/.
 * A fixture is one .yaml file, or a directory of flows (with an optional callflow.config.yaml)
 * linted as one project.
 *
 * An invalid fixture marks every line where a diagnostic is expected with a trailing comment
 * `# expect: rule-name` (several: `# expect: rule-a, rule-b`). The diagnostics found must be
 * exactly the marked ones: each mark hit, nothing unmarked reported (any rule, any severity).
 * A valid fixture must produce no diagnostic at all.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { loadConfigText, lint, type LintResult } from '../src/index.js';

export interface Fixture {
  name: string;
  files: { file: string; text: string }[];
  configText?: string;
}

/** Read a fixture (file or directory). */
export function readFixture(path: string): Fixture {
  if (statSync(path).isDirectory()) {
    const files: { file: string; text: string }[] = [];
    let configText: string | undefined;
    for (const entry of readdirSync(path).sort()) {
      if (!/\.ya?ml$/.test(entry)) continue;
      const text = readFileSync(join(path, entry), 'utf8');
      if (/^callflow\.config\.ya?ml$/.test(entry)) configText = text;
      else files.push({ file: join(path, entry), text });
    }
    return { name: basename(path), files, ...(configText === undefined ? {} : { configText }) };
  }
  return { name: basename(path), files: [{ file: path, text: readFileSync(path, 'utf8') }] };
}

/** Lint a fixture as a project. */
export function lintFixture(fixture: Fixture): LintResult[] {
  const config = fixture.configText === undefined ? undefined : loadConfigText(fixture.configText, 'callflow.config.yaml');
  if (config && !config.valid) throw new Error(`fixture ${fixture.name}: invalid config: ${config.diagnostics.map((d) => d.message).join('; ')}`);
  return lint({ targets: fixture.files, ...(config ? { config: config.config } : {}) });
}

/** `file:line rule` for every `# expect:` mark. */
export function expectedMarks(fixture: Fixture): string[] {
  const out: string[] = [];
  for (const f of fixture.files) {
    f.text.split('\n').forEach((line, i) => {
      const m = /#\s*expect:\s*([a-z0-9-]+(?:\s*,\s*[a-z0-9-]+)*)\s*$/.exec(line);
      if (m) for (const rule of m[1]!.split(',')) out.push(`${basename(f.file)}:${i + 1} ${rule.trim()}`);
    });
  }
  return out.sort();
}

/** `file:line rule` for every diagnostic found. */
export function actualMarks(results: LintResult[]): string[] {
  const out: string[] = [];
  for (const r of results) for (const m of r.messages) out.push(`${basename(r.filePath)}:${m.line} ${m.ruleId}`);
  return [...new Set(out)].sort();
}

/** Every message, for a readable failure. */
export function describeResults(results: LintResult[]): string {
  return results
    .flatMap((r) => r.messages.map((m) => `${basename(r.filePath)}:${m.line}:${m.column} ${m.ruleId} ${m.message}`))
    .join('\n');
}

/** Fixture paths of one rule and kind. */
export function fixturesOf(root: string, rule: string, kind: 'valid' | 'invalid'): string[] {
  const dir = join(root, rule, kind);
  try {
    return readdirSync(dir)
      .filter((e) => /\.ya?ml$/.test(e) || statSync(join(dir, e)).isDirectory())
      .sort()
      .map((e) => join(dir, e));
  } catch {
    return [];
  }
}
