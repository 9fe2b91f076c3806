/**
 * The `callflow` bin validates with schemas compiled at build time (see
 * scripts/precompile-validators.mjs); the library compiles them at run time. Both must give
 * the same schema diagnostics, message for message, for every fixture flow.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadFlowText } from '../src/index.js';
import { PACKAGE_ROOT } from './golden.js';

function yamlFilesUnder(dir: string): string[] {
  const out: string[] = [];
  const pending = [dir];
  while (pending.length > 0) {
    const d = pending.pop()!;
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) pending.push(p);
      // Flow test files (*.test.yaml, e.g. under fixtures/flow-tests/) are not flows: lint skips them.
      else if (/\.ya?ml$/.test(e) && !/^callflow\.config\./.test(e) && !/\.test\.ya?ml$/i.test(e)) out.push(p);
    }
  }
  return out.sort();
}

describe('precompiled validators', () => {
  it('give the CLI the same schema diagnostics as the library, for every fixture flow', () => {
    const fixtures = yamlFilesUnder(join(PACKAGE_ROOT, 'test', 'fixtures'));
    expect(fixtures.length).toBeGreaterThan(10);
    // Flat copies in one directory without a config: one CLI run lints them all.
    const dir = mkdtempSync(join(tmpdir(), 'callflow-validators-'));
    try {
      const names = fixtures.map((f, i) => {
        const name = `${i}-${relative(PACKAGE_ROOT, f).replace(/[\\/]/g, '_')}`;
        copyFileSync(f, join(dir, name));
        return name;
      });
      let stdout: string;
      try {
        stdout = execFileSync(process.execPath, [join(PACKAGE_ROOT, 'dist', 'cli.js'), 'lint', '.', '--format', 'json'], {
          cwd: dir,
          encoding: 'utf8',
          maxBuffer: 256 * 1024 * 1024,
        });
      } catch (error) {
        stdout = (error as { stdout: string }).stdout;
      }
      const fromCli = new Map(
        (JSON.parse(stdout) as { filePath: string; messages: { ruleId: string; line: number; column: number; message: string }[] }[]).map((r) => [
          r.filePath,
          r.messages.filter((m) => m.ruleId === 'schema').map((m) => `${m.line}:${m.column} ${m.message}`),
        ]),
      );
      let schemaErrors = 0;
      for (const name of names) {
        const file = join(dir, name);
        const expected = loadFlowText(readFileSync(file, 'utf8'), file)
          .diagnostics.filter((d) => d.ruleId === 'schema')
          .map((d) => `${d.line}:${d.column} ${d.message}`)
          .sort();
        schemaErrors += expected.length;
        expect({ name, messages: [...(fromCli.get(file) ?? [])].sort() }).toEqual({ name, messages: expected });
      }
      expect(schemaErrors).toBeGreaterThan(20);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
