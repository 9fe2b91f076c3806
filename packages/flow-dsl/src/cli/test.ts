/**
 * `callflow test [files|dirs]`: run flow test files (`*.test.yaml`) and print each test's
 * outcome, then state and transition coverage per flow. `--min-coverage PERCENT` fails the
 * run when any tested flow's state or transition coverage is below it.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { globSync, isDynamicPattern } from 'tinyglobby';
import { statSync } from 'node:fs';
import { relative } from 'node:path';
import { filesUnder } from '../lint/project-files.js';
import { runFlowTests, isTestFileName, type TestRunResult } from '../testing/flow-tests.js';
import { escapeJsonText, escapeLinesForTerminal } from '../lint/formatters/terminal-text.js';
import { EXIT, UsageError, type CliIO, type Command } from './io.js';

const USAGE = [
  'Usage: callflow test [files|dirs] [options]',
  '',
  'Run flow test files (*.test.yaml; directories are searched recursively; default: the',
  'current directory) and print state and transition coverage per flow.',
  '',
  'Options:',
  '      --min-coverage PERCENT  exit 1 when a tested flow\'s state or transition coverage',
  '                              is below PERCENT',
  '  -f, --format text|json      output format (default: text)',
  '  -h, --help                  show this help',
  '',
  'Exit codes: 0 all tests passed (and coverage met), 1 a test failed or coverage is low,',
  '2 usage errors or no test files.',
  '',
].join('\n');

export const testCommand: Command = {
  name: 'test',
  summary: 'run flow test files (*.test.yaml) with coverage',
  usage: USAGE,
  run: runTest,
};

async function runTest(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: { 'min-coverage': { type: 'string' }, format: { type: 'string', short: 'f' } },
  });
  const format = values.format ?? 'text';
  if (format !== 'text' && format !== 'json') throw new UsageError(`unknown format '${format}' (text or json)`);
  let min: number | undefined;
  if (values['min-coverage'] !== undefined) {
    min = Number(values['min-coverage'].replace(/%$/, ''));
    if (!Number.isFinite(min) || min < 0 || min > 100) throw new UsageError(`--min-coverage takes a percentage from 0 to 100, not '${values['min-coverage']}'`);
  }
  const files = findTestFiles(positionals, io.cwd);
  if (files.length === 0) throw new UsageError(`no flow test files (*.test.yaml) in ${positionals.length > 0 ? positionals.join(' ') : 'this directory'}`);
  const run = await runFlowTests(files);
  const low = min === undefined ? [] : run.coverage.filter((c) => pct(c.states) < min! || pct(c.transitions) < min!);
  if (format === 'json') {
    io.stdout.write(`${escapeJsonText(JSON.stringify(toJson(run, io.cwd, min, low.map((c) => c.flow)), null, 2))}\n`);
  } else {
    // Test names, paths and messages quote flow and test files: escaped for the terminal.
    io.stdout.write(escapeLinesForTerminal(renderText(run, io.cwd, min, low.map((c) => c.flow))));
  }
  return run.failed > 0 || low.length > 0 ? EXIT.problems : EXIT.ok;
}

function findTestFiles(args: readonly string[], cwd: string): string[] {
  const out = new Set<string>();
  for (const arg of args.length > 0 ? args : ['.']) {
    const path = resolve(cwd, arg);
    let kind: 'file' | 'dir' | 'none' = 'none';
    try {
      const s = statSync(path);
      kind = s.isDirectory() ? 'dir' : s.isFile() ? 'file' : 'none';
    } catch {
      kind = 'none';
    }
    if (kind === 'file') out.add(path);
    else if (kind === 'dir') for (const f of filesUnder(path, isTestFileName)) out.add(f);
    else if (isDynamicPattern(arg)) for (const f of globSync(arg, { cwd, absolute: true, ignore: ['**/node_modules/**'] })) out.add(resolve(f));
    else throw new UsageError(`no such file or directory: ${arg}`);
  }
  return [...out].sort();
}

function pct(x: { hit: number; total: number }): number {
  return x.total === 0 ? 100 : (100 * x.hit) / x.total;
}

function renderText(run: TestRunResult, cwd: string, min: number | undefined, low: string[]): string {
  let out = '';
  for (const f of run.files) {
    out += `${relative(cwd, f.file) || f.file}${f.flow ? `  (flow ${f.flow})` : ''}\n`;
    for (const p of f.problems) out += `  ✗ ${p.line}:${p.column}  ${p.message}\n`;
    for (const c of f.cases) {
      out += `  ${c.passed ? '✓' : '✗'} ${c.name}\n`;
      for (const failure of c.failures) out += `      ${failure}\n`;
    }
  }
  out += '\nCoverage\n';
  const width = Math.max(4, ...run.coverage.map((c) => c.flow.length));
  out += `  ${'flow'.padEnd(width)}  ${'states'.padEnd(16)}  transitions\n`;
  for (const c of run.coverage) {
    const s = `${c.states.hit}/${c.states.total} ${pct(c.states).toFixed(1)}%`;
    const t = `${c.transitions.hit}/${c.transitions.total} ${pct(c.transitions).toFixed(1)}%`;
    out += `  ${c.flow.padEnd(width)}  ${s.padEnd(16)}  ${t}${low.includes(c.flow) ? `  below ${min}%` : ''}\n`;
  }
  out += `\n${run.passed} passed, ${run.failed} failed\n`;
  if (low.length > 0) out += `coverage below ${min}% for: ${low.join(', ')}\n`;
  return out;
}

function toJson(run: TestRunResult, cwd: string, min: number | undefined, low: string[]) {
  return {
    passed: run.passed,
    failed: run.failed,
    files: run.files.map((f) => ({
      file: relative(cwd, f.file) || f.file,
      flow: f.flow,
      problems: f.problems.map((p) => ({ line: p.line, column: p.column, message: p.message })),
      tests: f.cases.map((c) => ({ name: c.name, passed: c.passed, failures: c.failures, path: c.result?.path, end: c.result?.end })),
    })),
    coverage: run.coverage.map((c) => ({ ...c, file: c.file ? relative(cwd, c.file) : undefined })),
    ...(min !== undefined ? { minCoverage: min, belowMinimum: low } : {}),
  };
}
