/**
 * `callflow simulate FLOW.yaml`: run one call offline through the real runtime, with the
 * flow's project (config and sibling flows) found from the file's directory. Inputs answer
 * each wait in order; data actions answer from mocked JSON results. Prints a transcript
 * (text) or one JSON object. Exit 0 when the call ran to an end, 1 when the flow failed at
 * run time without a handler, 2 on usage errors or a flow that does not lint clean.
 */
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { FlowInputError, simulate, type Flow, type MockResult, type SimulationResult, type TranscriptLine } from '@callflow/flow-core';
import { formatterByName } from '../lint/formatters/index.js';
import { escapeJsonText, escapeLinesForTerminal } from '../lint/formatters/terminal-text.js';
import { loadProject } from '../project/load-project.js';
import { RULES } from '../lint/rules/index.js';
import { VERSION } from './version.js';
import { EXIT, UsageError, type CliIO, type Command } from './io.js';

const USAGE = [
  'Usage: callflow simulate FLOW.yaml [options]',
  '',
  'Run one call through a flow offline. The flow\'s project (callflow.config.yaml and the',
  'flows beside it, for callFlow and enterSecureFlow) is found from the file\'s directory.',
  '',
  'Options:',
  '      --input VALUE          answer the next wait: digits, noinput or hangup (repeatable);',
  '                             for a connect: completed, busy, noAnswer or failed;',
  '                             for a payment: paid or declined',
  '      --action NAME=FILE     mock a data action with the JSON result in FILE (repeatable);',
  '                             {"error": "..."} or {"timeout": true} take those outcomes',
  '      --flow-input NAME=VALUE  set one of the flow\'s inputs (VALUE read as JSON, else text)',
  '  -f, --format text|json     output format (default: text)',
  '  -c, --config FILE          use this config instead of the nearest callflow.config.yaml',
  '  -i, --interactive          type each answer at a prompt',
  '  -h, --help                 show this help',
  '',
  'When the inputs run out and the flow waits on the caller, the caller hangs up. An action',
  'with no mock takes its error outcome. Exit codes: 0 the call ran to an end, 1 the flow',
  'failed at run time without a handler, 2 usage errors or a flow that does not lint clean.',
  '',
].join('\n');

export const simulateCommand: Command = {
  name: 'simulate',
  summary: 'run one call through a flow offline and print the transcript',
  usage: USAGE,
  run: runSimulate,
};

async function runSimulate(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      input: { type: 'string', multiple: true },
      action: { type: 'string', multiple: true },
      'flow-input': { type: 'string', multiple: true },
      format: { type: 'string', short: 'f' },
      config: { type: 'string', short: 'c' },
      interactive: { type: 'boolean', short: 'i' },
    },
  });
  if (positionals.length !== 1) throw new UsageError('name one flow file to simulate');
  const format = values.format ?? 'text';
  if (format !== 'text' && format !== 'json') throw new UsageError(`unknown format '${format}' (text or json)`);
  const file = resolve(io.cwd, positionals[0]!);
  // A missing file or a directory is a usage error, not an internal error from the loader.
  let isFile = false;
  try {
    isFile = statSync(file).isFile();
  } catch {
    throw new UsageError(`no such file: ${positionals[0]}`);
  }
  if (!isFile) throw new UsageError(`${positionals[0]} is not a file: name one flow file`);

  const project = loadProject([file], values.config ? { configFile: resolve(io.cwd, values.config) } : {});
  if (project.configDiagnostics.length > 0) {
    for (const d of project.configDiagnostics) io.stderr.write(`${escapeLinesForTerminal(`${project.configFile}:${d.line}:${d.column}: ${d.message}`)}\n`);
    return EXIT.usage;
  }
  const result = project.lintResults[0]!;
  if (result.errorCount > 0) {
    io.stderr.write(formatterByName('stylish')!([result], { cwd: io.cwd, color: false, rules: RULES, version: VERSION }));
    io.stderr.write('callflow simulate: the flow does not lint clean of errors; fix them first\n');
    return EXIT.usage;
  }
  const flowName = [...project.fileOf].find(([, f]) => f === file)?.[0];
  const flow = flowName ? project.flows.get(flowName) : undefined;
  if (!flow) throw new UsageError(`${positionals[0]} holds no flow`);

  const actions: Record<string, MockResult> = {};
  for (const spec of values.action ?? []) {
    const eq = spec.indexOf('=');
    if (eq <= 0) throw new UsageError(`--action takes NAME=FILE, not '${spec}'`);
    const name = spec.slice(0, eq);
    const path = resolve(io.cwd, spec.slice(eq + 1));
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      throw new UsageError(`--action ${name}: cannot read ${spec.slice(eq + 1)}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      // One line: V8's JSON messages quote the text, newlines included.
      throw new UsageError(`--action ${name}: ${spec.slice(eq + 1)} is not JSON (${(error as Error).message.replace(/\s+/g, ' ').trim()})`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new UsageError(`--action ${name}: ${spec.slice(eq + 1)} must hold a JSON object (the action's output, {"error": "..."} or {"timeout": true})`);
    }
    actions[name] = parsed as MockResult;
  }

  const flowInputs = readFlowInputs(flow, values['flow-input'] ?? []);
  // Prompts, names and values come from flow files: no control character of theirs reaches the terminal raw.
  const write = (text: string) => (format === 'text' ? io.stdout.write(escapeLinesForTerminal(text)) : undefined);
  let interactive: LineReader | undefined;
  if (values.interactive) interactive = lineReader();
  if (format === 'text') write(`flow ${flow.flow} (${flow.kind}${flow.kind === 'secure' ? `, reservation: ${flow.reservation ?? 'agent'}` : ''})\n`);
  let sim: SimulationResult;
  try {
    sim = await simulate([...project.flows.values()], {
      inputs: values.input ?? [],
      actions,
      flowInputs,
      ...(format === 'text' ? { onLine: (l: TranscriptLine) => write(`${renderLine(l)}\n`) } : {}),
      ...(interactive
        ? {
            nextInput: async (waitingFor: 'input' | 'connect' | 'payment') => {
              const question =
                waitingFor === 'connect' ? 'connect result (completed, busy, noAnswer, failed)> '
                  : waitingFor === 'payment' ? 'payment result (paid, declined)> '
                    : 'caller (digits, noinput, hangup)> ';
              const answer = await interactive!.ask(question);
              if (answer === undefined) return undefined; // stdin closed: the caller hangs up
              return answer.trim() === '' ? 'noinput' : answer.trim();
            },
          }
        : {}),
    }, flow.flow);
  } catch (error) {
    // Inputs the flow cannot take (a wrong type, nested too deep) are the command line's to fix.
    if (error instanceof FlowInputError) throw new UsageError(error.message);
    throw error;
  } finally {
    interactive?.close();
  }
  if (format === 'json') {
    const out: Record<string, unknown> = { flow: sim.flow, path: sim.path, transcript: sim.transcript, end: sim.end };
    if (sim.error) out.error = sim.error;
    if (sim.unmocked.length > 0) out.unmocked = sim.unmocked;
    io.stdout.write(`${escapeJsonText(JSON.stringify(out, null, 2))}\n`);
  } else {
    write(`path: ${sim.path.join(' → ')}\n`);
    write(`end: ${sim.endText}\n`);
    if (sim.error) write(`error: ${sim.error.code}: ${sim.error.message}\n`);
  }
  return sim.error ? EXIT.problems : EXIT.ok;
}

interface LineReader {
  /** Show `question` and resolve to the next line of stdin, or undefined once stdin has closed. */
  ask(question: string): Promise<string | undefined>;
  close(): void;
}

/**
 * Answers from stdin, one line each. Not readline's `question()`: with piped stdin
 * (`printf '1\n2\n' | callflow simulate -i ...`) all lines arrive in one chunk and readline
 * emits every 'line' at once, so `question()` got the first and the others were dropped;
 * the next `question()` then never settled, node exited with the call unfinished (exit 0,
 * no path, no end). Here lines are queued until asked for, and a closed stdin answers
 * undefined (the caller hangs up).
 */
function lineReader(): LineReader {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: Boolean(process.stdin.isTTY) });
  const queued: string[] = [];
  let closed = false;
  let waiting: ((line: string | undefined) => void) | undefined;
  rl.on('line', (line) => {
    if (waiting) {
      const w = waiting;
      waiting = undefined;
      w(line);
    } else queued.push(line);
  });
  rl.on('close', () => {
    closed = true;
    if (waiting) {
      const w = waiting;
      waiting = undefined;
      w(undefined);
    }
  });
  return {
    ask(question) {
      if (closed) process.stderr.write(question); // readline throws on prompt() once closed
      else {
        rl.setPrompt(question);
        rl.prompt();
      }
      if (queued.length > 0) return Promise.resolve(queued.shift());
      if (closed) return Promise.resolve(undefined);
      return new Promise((resolve) => {
        waiting = resolve;
      });
    },
    close: () => rl.close(),
  };
}

function readFlowInputs(flow: Flow, specs: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const declared = flow.inputs ?? {};
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    if (eq <= 0) throw new UsageError(`--flow-input takes NAME=VALUE, not '${spec}'`);
    const name = spec.slice(0, eq);
    const raw = spec.slice(eq + 1);
    if (!(name in declared)) {
      const names = Object.keys(declared);
      throw new UsageError(`flow ${flow.flow} has no input '${name}'${names.length > 0 ? ` (its inputs: ${names.join(', ')})` : ''}`);
    }
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      value = raw;
    }
    if (declared[name]!.type === 'string' && typeof value !== 'string') value = raw;
    out[name] = value;
  }
  for (const [name, d] of Object.entries(declared)) {
    if (d.required && d.default === undefined && !(name in out)) {
      throw new UsageError(`flow ${flow.flow} needs its input '${name}': pass --flow-input ${name}=VALUE`);
    }
  }
  return out;
}

function renderLine(l: TranscriptLine): string {
  switch (l.from) {
    case 'flow':
      return `  flow:    ${l.text}`;
    case 'caller':
      return `  caller:  ${l.text}`;
    default:
      return l.kind === 'note' ? `  (${l.text})` : `  > ${l.text}`;
  }
}
