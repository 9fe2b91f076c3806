/**
 * `callflow lint [files|dirs|globs]`: lint flow files, grouped into projects by their
 * `callflow.config.yaml`, and report in the chosen format. Exit 0 clean (or warnings within
 * --max-warnings), 1 problems, 2 when the run itself could not be done.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { ProjectConfig } from '@callflow/flow-core';
import { loadConfigText } from '../load/load-flow.js';
import { readSource } from '../load/source-size.js';
import { lint, summarise } from '../lint/engine.js';
import { FORMAT_NAMES, formatterByName } from '../lint/formatters/index.js';
import { displayPath } from '../lint/formatters/paths.js';
import { escapeLinesForTerminal } from '../lint/formatters/terminal-text.js';
import { findTargetFiles, groupIntoProjects } from '../lint/project-files.js';
import { RULES } from '../lint/rules/index.js';
import type { LintResult } from '../lint/types.js';
import { EXIT, UsageError, type CliIO, type Command } from './io.js';
import { VERSION } from './version.js';

const USAGE = [
  'Usage: callflow lint [files|dirs|globs] [options]',
  '',
  'Lint flow files. Directories are searched for *.yaml and *.yml (not node_modules, dot',
  'directories, callflow.config.yaml or *.test.yaml); the default is the current directory.',
  '',
  'Options:',
  `  -f, --format NAME     report format: ${FORMAT_NAMES.join(', ')} (default: stylish)`,
  '      --max-warnings N  exit 1 when there are more than N warnings',
  '      --quiet           report errors only',
  '  -c, --config FILE     use this config instead of the nearest callflow.config.yaml',
  '  -o, --output FILE     write the report to FILE instead of stdout',
  '  -h, --help            show this help',
  '',
  'Exit codes: 0 clean or warnings only, 1 errors (or too many warnings),',
  '2 usage errors, a bad config, unreadable or missing files.',
  '',
].join('\n');

export const lintCommand: Command = {
  name: 'lint',
  summary: 'check flow files for errors (schema, paths, expressions, secure data)',
  usage: USAGE,
  run: runLint,
};

interface LintOptions {
  format: string;
  maxWarnings: number | undefined;
  quiet: boolean;
  config: string | undefined;
  output: string | undefined;
  patterns: string[];
}

function parseOptions(raw: string[]): LintOptions {
  // parseArgs refuses a value that looks like an option; `--max-warnings -1` is ESLint's spelling.
  const args: string[] = [];
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === '--max-warnings' && /^-[0-9]+$/.test(raw[i + 1] ?? '')) args.push(`--max-warnings=${raw[++i]!}`);
    else args.push(raw[i]!);
  }
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      format: { type: 'string', short: 'f' },
      'max-warnings': { type: 'string' },
      quiet: { type: 'boolean' },
      config: { type: 'string', short: 'c' },
      output: { type: 'string', short: 'o' },
    },
  });
  const format = values.format ?? 'stylish';
  if (!formatterByName(format)) throw new UsageError(`unknown format '${format}' (one of ${FORMAT_NAMES.join(', ')})`);
  let maxWarnings: number | undefined;
  const rawMax = values['max-warnings'];
  if (rawMax !== undefined) {
    if (!/^(-1|[0-9]+)$/.test(rawMax.trim())) throw new UsageError(`--max-warnings takes a whole number, not '${rawMax}'`);
    const n = Number(rawMax);
    maxWarnings = n < 0 ? undefined : n;
  }
  if (values.config === '') throw new UsageError('--config needs a file');
  if (values.output === '') throw new UsageError('--output needs a file');
  return { format, maxWarnings, quiet: values.quiet ?? false, config: values.config, output: values.output, patterns: positionals };
}

async function runLint(args: string[], io: CliIO): Promise<number> {
  const options = parseOptions(args);
  const fail = (message: string): number => {
    io.stderr.write(`callflow lint: ${message}\n`);
    return EXIT.usage;
  };

  const configOverride = options.config === undefined ? undefined : resolve(io.cwd, options.config);
  const found = findTargetFiles(options.patterns, io.cwd);
  if (found.problems.length > 0) return fail(found.problems.join('\ncallflow lint: '));

  const projects = groupIntoProjects(found.files, configOverride ? { configFile: configOverride } : {});
  const results: LintResult[] = [];
  for (const project of projects) {
    let config: ProjectConfig | undefined;
    if (project.configFile) {
      const loaded = readConfig(project.configFile, io);
      if (typeof loaded === 'number') return loaded;
      config = loaded;
    }
    const targets = [];
    for (const file of project.targets) {
      const read = readSource(file);
      if ('unreadable' in read) return fail(`cannot read ${displayPath(file, io.cwd)}`);
      // A file over the size limit is reported from its size alone (it is never read).
      if ('tooLarge' in read) results.push(summarise(file, [read.tooLarge]));
      else targets.push({ file, text: read.text });
    }
    // Other flows that cannot be read (or are too large to) are left out: they are not reported on.
    const others = project.others.flatMap((file) => {
      const read = readSource(file);
      return 'text' in read ? [{ file, text: read.text }] : [];
    });
    results.push(
      ...lint({ targets, others, ...(config ? { config } : {}), ...(project.configFile ? { configFile: project.configFile } : {}) }),
    );
  }
  results.sort((a, b) => (a.filePath < b.filePath ? -1 : a.filePath > b.filePath ? 1 : 0));

  const errors = results.reduce((n, r) => n + r.errorCount, 0);
  const warnings = results.reduce((n, r) => n + r.warningCount, 0);
  // ESLint's --quiet: warnings are not reported, yet still counted for --max-warnings.
  const reported = options.quiet
    ? results.map((r) => summarise(r.filePath, r.messages.filter((m) => m.severity === 2), r.source))
    : results;

  const toFile = options.output !== undefined;
  // no-color.org: NO_COLOR set to anything but the empty string turns colours off.
  const color = !toFile && io.stdout.isTTY === true && !io.env.NO_COLOR;
  const formatter = formatterByName(options.format)!;
  let report = formatter(reported, { cwd: io.cwd, color, rules: RULES, version: VERSION });
  if (report !== '' && !report.endsWith('\n')) report += '\n';

  if (toFile) {
    const path = resolve(io.cwd, options.output!);
    try {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, report);
    } catch (error) {
      return fail(`cannot write ${options.output}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
  } else if (report !== '') {
    io.stdout.write(report);
  }

  if (errors > 0) return EXIT.problems;
  if (options.maxWarnings !== undefined && warnings > options.maxWarnings) {
    io.stderr.write(`callflow found too many warnings (maximum: ${options.maxWarnings}).\n`);
    return EXIT.problems;
  }
  return EXIT.ok;
}

/** The config, or an exit code after printing why it is unusable. */
function readConfig(file: string, io: CliIO): ProjectConfig | number {
  const read = readSource(file);
  const shown = displayPath(file, io.cwd);
  if ('unreadable' in read) {
    io.stderr.write(`callflow lint: cannot read config ${shown}\n`);
    return EXIT.usage;
  }
  const loaded = 'text' in read
    ? loadConfigText(read.text, file, { ruleNames: RULES.map((r) => r.meta.name) })
    : { valid: false, config: {}, diagnostics: [read.tooLarge] };
  if (!loaded.valid) {
    for (const d of loaded.diagnostics) io.stderr.write(`${escapeLinesForTerminal(`${shown}:${d.line}:${d.column}: ${d.message}`)}\n`);
    io.stderr.write(`callflow lint: the config ${shown} is not valid\n`);
    return EXIT.usage;
  }
  return loaded.config;
}
