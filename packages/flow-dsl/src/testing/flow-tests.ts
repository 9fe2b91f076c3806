/**
 * Flow tests: `*.test.yaml` files that run calls through a flow offline (inputs, mocked
 * data action results) and say what must happen (the path of states, the end, lines of the
 * transcript), plus state and transition coverage per flow.
 *
 * ```yaml
 * flow: take-payment
 * tests:
 *   - name: pays and returns the caller to the agent
 *     flowInputs: { amount: 25.5 }
 *     inputs: ["4916338506082832", "123"]
 *     actions: { chargeCard: { reference: PAY-1 } }
 *     expect:
 *       path: [askCard, askCvv, charge, thanks, backToAgent]
 *       end: { type: returnToAgent, outputs: { paymentRef: PAY-1 } }
 * ```
 */
import { basename, dirname } from 'node:path';
import { ACTIONS, FlowInputError, actionOf, simulate, transitionsOf, type Flow, type SimulationEnd, type SimulationResult } from '@callflow/flow-core';
import { z } from 'zod';
import { flowFilesIn, flowFilesUnder, findConfigFile } from '../lint/project-files.js';
import type { Diagnostic } from '../lint/types.js';
import { parseYaml } from '../load/parse-yaml.js';
import { readSource } from '../load/source-size.js';
import { loadProject, type LoadedProject } from '../project/load-project.js';

const Input = z.union([z.string(), z.number()]);

const Expectation = z
  .object({
    path: z.array(z.string()).optional().describe('Exactly the states entered, in order'),
    visits: z.array(z.string()).optional().describe('States that must be entered'),
    notVisits: z.array(z.string()).optional().describe('States that must not be entered'),
    end: z.record(z.string(), z.unknown()).optional().describe('The end: its type and any fields (a partial match)'),
    transcript: z.array(z.string()).optional().describe('Texts that must appear in the transcript, in this order'),
    error: z.union([z.boolean(), z.string()]).optional().describe('The flow fails at run time (true, or the error code)'),
  })
  .strict();

const TestCase = z
  .object({
    name: z.string().min(1),
    inputs: z.array(Input).optional(),
    actions: z.record(z.string(), z.record(z.string(), z.unknown())).optional(),
    flowInputs: z.record(z.string(), z.unknown()).optional(),
    call: z.object({ caller: z.string().optional(), callee: z.string().optional() }).strict().optional(),
    lockout: z
      .object({ maxFailures: z.number().int().min(1).optional(), windowMs: z.number().int().min(1).optional(), lockoutMs: z.number().int().min(1).optional() })
      .strict()
      .optional()
      .describe('The one-time-code lock-out policy for this test (e.g. maxFailures: 2 to reach lockedOut)'),
    expect: Expectation,
  })
  .strict();

/** A flow test file. */
export const FlowTestFileSchema = z
  .object({
    $schema: z.string().optional(),
    flow: z.string().min(1).describe('The flow under test, by name, in the project of this file'),
    tests: z.array(TestCase).min(1),
  })
  .strict();

/** A parsed flow test file. */
export type FlowTestFile = z.infer<typeof FlowTestFileSchema>;

/** One test's outcome. */
export interface TestCaseResult {
  name: string;
  passed: boolean;
  /** What did not hold (one line each). */
  failures: string[];
  result?: SimulationResult;
}

/** One file's outcome. */
export interface TestFileResult {
  file: string;
  flow?: string;
  /** Problems with the file itself (its YAML, its shape, a flow it cannot find). */
  problems: Diagnostic[];
  cases: TestCaseResult[];
}

/** Coverage of one flow. */
export interface FlowCoverage {
  flow: string;
  file?: string;
  states: { hit: number; total: number };
  transitions: { hit: number; total: number };
  /** States never entered. */
  missedStates: string[];
}

/** The outcome of a whole test run. */
export interface TestRunResult {
  files: TestFileResult[];
  coverage: FlowCoverage[];
  passed: number;
  failed: number;
}

/** Read and check a test file; problems are positioned diagnostics. */
export function readTestFile(text: string, file: string): { test?: FlowTestFile; problems: Diagnostic[] } {
  const parsed = parseYaml(text, file);
  if (parsed.diagnostics.some((d) => d.severity === 2)) return { problems: parsed.diagnostics };
  const checked = FlowTestFileSchema.safeParse(parsed.data);
  if (!checked.success) {
    const problems = checked.error.issues.slice(0, 20).map((issue): Diagnostic => {
      const path = issue.path.filter((p): p is string | number => typeof p === 'string' || typeof p === 'number');
      const where = path.length > 0 ? path.map((p) => (typeof p === 'number' ? `[${p}]` : p)).join('.').replace(/\.\[/g, '[') : '(file)';
      // A required key left out: zod says "expected object, received undefined" at the
      // missing key's path; say which key is missing, at the map that should hold it.
      const missing = issue.code === 'invalid_type' && path.length > 0 && isMissingKey(parsed.data, path);
      if (missing) {
        const parent = path.slice(0, -1);
        const at = parent.length > 0 ? parent.map((p) => (typeof p === 'number' ? `[${p}]` : p)).join('.').replace(/\.\[/g, '[') : '(file)';
        return { ruleId: 'test-file', severity: 2, message: `${at}: missing required key '${String(path[path.length - 1])}'`, ...parsed.source.locate(parent) };
      }
      const message =
        issue.code === 'unrecognized_keys' ? `unknown key ${issue.keys.map((k) => `'${k}'`).join(', ')}` : issue.message;
      const keyPath = issue.code === 'unrecognized_keys' ? [...path, issue.keys[0]!] : path;
      return { ruleId: 'test-file', severity: 2, message: `${where}: ${message}`, ...parsed.source.locate(keyPath, issue.code === 'unrecognized_keys' ? 'key' : 'value') };
    });
    return { problems };
  }
  const problems: Diagnostic[] = [];
  checked.data.tests.forEach((t, i) =>
    (t.inputs ?? []).forEach((input, j) => {
      if (typeof input !== 'number') return;
      const at = parsed.source.locate(['tests', i, 'inputs', j]);
      if (!Number.isSafeInteger(input)) {
        problems.push({
          ruleId: 'test-file',
          severity: 2,
          message: `tests[${i}].inputs[${j}]: a long number loses digits in YAML; quote it ("...")`,
          ...at,
        });
        return;
      }
      // Digits are keys pressed, not a number: YAML reads 0130 as 130 and 0x1F as 31, so an
      // unquoted input whose text is not the number's own digits would silently press others.
      const written = at.line === at.endLine ? (text.split(/\r?\n/)[at.line - 1] ?? '').slice(at.column - 1, at.endColumn - 1).trim() : undefined;
      if (written !== undefined && written !== '' && written !== String(input)) {
        problems.push({
          ruleId: 'test-file',
          severity: 2,
          message: `tests[${i}].inputs[${j}]: YAML reads ${written} as the number ${input}; quote it ("${written}") to key in those digits`,
          ...at,
        });
      }
    }),
  );
  return problems.length > 0 ? { problems } : { test: checked.data, problems };
}

/** Whether `path` names a key its (existing, plain-object) parent map does not have. */
function isMissingKey(data: unknown, path: readonly (string | number)[]): boolean {
  let node: unknown = data;
  for (const p of path.slice(0, -1)) {
    if (node === null || typeof node !== 'object') return false;
    node = (node as Record<string | number, unknown>)[p];
  }
  const last = path[path.length - 1]!;
  return node !== null && typeof node === 'object' && !Array.isArray(node) && !Object.prototype.hasOwnProperty.call(node, last);
}

/** Run the test files (each with the project of its directory). */
export async function runFlowTests(files: readonly string[]): Promise<TestRunResult> {
  const projects = new Map<string, LoadedProject>();
  const results: TestFileResult[] = [];
  const coverage = new Map<string, CoverageTracker>();

  for (const file of files) {
    const source = readSource(file);
    if (!('text' in source)) {
      results.push({ file, problems: ['tooLarge' in source ? source.tooLarge : problem(`cannot read ${file}`)], cases: [] });
      continue;
    }
    const { test, problems } = readTestFile(source.text, file);
    if (!test) {
      results.push({ file, problems, cases: [] });
      continue;
    }
    const project = projectFor(file, projects);
    const flow = project.flows.get(test.flow);
    if (!flow) {
      results.push({ file, flow: test.flow, problems: [problem(`no flow named '${test.flow}' in the project of this file`)], cases: [] });
      continue;
    }
    const flowFile = project.fileOf.get(test.flow);
    const linted = project.lintResults.find((r) => r.filePath === flowFile);
    const lintErrors = linted?.errorCount ?? 0;
    if (lintErrors > 0) {
      // The first error says what to fix without another run.
      const first = linted!.messages.find((m) => m.severity === 2);
      const where = first ? `, first ${basename(flowFile!)}:${first.line}:${first.column} ${first.message} (${first.ruleId})` : '';
      results.push({ file, flow: test.flow, problems: [problem(`flow '${test.flow}' does not lint clean (${lintErrors} error(s)${where}); run callflow lint`)], cases: [] });
      continue;
    }
    trackerFor(coverage, flow, flowFile);
    const cases: TestCaseResult[] = [];
    for (const t of test.tests) {
      // Expectations are checked against the end as the adapter gets it; failures show the
      // result's end, redacted like all the simulator prints.
      let handedOn: SimulationEnd | undefined;
      let sim: SimulationResult;
      try {
        sim = await simulate([...project.flows.values()], {
          inputs: (t.inputs ?? []).map(String),
          actions: (t.actions ?? {}) as Record<string, Record<string, unknown>>,
          flowInputs: t.flowInputs ?? {},
          ...(t.call ? { call: { ...t.call, provider: 'simulator' } } : {}),
          ...(t.lockout ? { lockout: t.lockout } : {}),
          onEnd: (end) => (handedOn = end),
        }, test.flow);
      } catch (error) {
        // flowInputs the flow cannot take (a wrong type, nested too deep): this test's failure, not the run's.
        if (!(error instanceof FlowInputError)) throw error;
        cases.push({ name: t.name, passed: false, failures: [`flowInputs: ${error.message}`] });
        continue;
      }
      for (const step of sim.trace) {
        const f = project.flows.get(step.flow);
        if (f) trackerFor(coverage, f, project.fileOf.get(step.flow));
      }
      recordCoverage(coverage, sim);
      const failures = check(t.expect, sim, handedOn ?? sim.end);
      cases.push({ name: t.name, passed: failures.length === 0, failures, result: sim });
    }
    results.push({ file, flow: test.flow, problems: [], cases });
  }
  let passed = 0;
  let failed = 0;
  for (const r of results) {
    if (r.problems.length > 0) failed++;
    for (const c of r.cases) c.passed ? passed++ : failed++;
  }
  return { files: results, coverage: [...coverage.values()].map((c) => c.summary()), passed, failed };
}

/** Test files under directories (recursively) or named directly. */
export function isTestFileName(name: string): boolean {
  return /\.test\.ya?ml$/i.test(name);
}

function problem(message: string): Diagnostic {
  return { ruleId: 'test-file', severity: 2, message, line: 1, column: 1, endLine: 1, endColumn: 1 };
}

function projectFor(testFile: string, cache: Map<string, LoadedProject>): LoadedProject {
  const config = findConfigFile(dirname(testFile));
  const key = config ?? dirname(testFile);
  let p = cache.get(key);
  if (!p) {
    const flows = config ? flowFilesUnder(dirname(config)) : flowFilesIn(dirname(testFile));
    p = loadProject(flows.length > 0 ? flows : [testFile], config ? { configFile: config } : {});
    cache.set(key, p);
  }
  return p;
}

/** What an expectation says that the simulation did not do (`handedOn`: the end, not redacted). */
function check(expect: FlowTestFile['tests'][number]['expect'], sim: SimulationResult, handedOn: SimulationEnd): string[] {
  const out: string[] = [];
  if (expect.path && !sameList(expect.path, sim.path)) {
    out.push(`path: expected ${expect.path.join(' → ')}\n        got      ${sim.path.join(' → ')}`);
  }
  for (const s of expect.visits ?? []) if (!sim.path.includes(s)) out.push(`visits: state '${s}' was not entered`);
  for (const s of expect.notVisits ?? []) if (sim.path.includes(s)) out.push(`notVisits: state '${s}' was entered`);
  if (expect.end) out.push(...partialMatch('end', expect.end, handedOn, sim.end));
  if (expect.transcript) {
    const lines = sim.transcript.map((l) => l.text);
    let from = 0;
    for (const text of expect.transcript) {
      const at = lines.findIndex((l, i) => i >= from && l.includes(text));
      if (at < 0) {
        out.push(`transcript: '${text}' does not appear${from > 0 ? ' after the lines before it' : ''}`);
        break;
      }
      from = at + 1;
    }
  }
  if (expect.error !== undefined && expect.error !== false) {
    if (!sim.error) out.push('error: expected the flow to fail at run time, but it ran to an end');
    else if (typeof expect.error === 'string' && sim.error.code !== expect.error) out.push(`error: expected ${expect.error}, got ${sim.error.code}`);
  } else if (sim.error) {
    out.push(`the flow failed at run time: ${sim.error.code}: ${sim.error.message}`);
  }
  return out;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Where `actual` differs from what `expected` says, naming what it got from `shown`: the same
 * value redacted (the redactor keeps the shape of a value, so a path into one leads into both).
 */
function partialMatch(where: string, expected: unknown, actual: unknown, shown: unknown): string[] {
  if (expected !== null && typeof expected === 'object' && !Array.isArray(expected)) {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) {
      return [`${where}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(shown)}`];
    }
    const out: string[] = [];
    for (const [k, v] of Object.entries(expected)) {
      out.push(...partialMatch(`${where}.${k}`, v, (actual as Record<string, unknown>)[k], fieldOf(shown, k)));
    }
    return out;
  }
  const same = JSON.stringify(expected) === JSON.stringify(actual) || (typeof expected === 'number' && String(expected) === String(actual));
  return same ? [] : [`${where}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(shown)}`];
}

function fieldOf(value: unknown, key: string): unknown {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>)[key] : undefined;
}

class CoverageTracker {
  readonly hitStates = new Set<string>();
  /** Written transitions taken, as `state\u0000label`. */
  readonly hit = new Set<string>();
  /** Written transitions: `state\u0000label` → target. */
  readonly transitions = new Map<string, string>();

  constructor(
    readonly flow: Flow,
    readonly file: string | undefined,
  ) {
    for (const [name, state] of Object.entries(flow.states)) {
      for (const t of transitionsOf(name, state)) this.transitions.set(`${name}\u0000${t.label}`, t.target);
    }
  }

  /** Credit the written transition that took `from` to `to` by the way out `via`. */
  take(from: string, to: string, via: string | undefined): void {
    const state = this.flow.states[from];
    if (!state) return;
    // The labels the way out may have been written under: itself, then its fallbacks.
    const labels: string[] = [];
    if (via !== undefined) {
      let label: string | undefined = via.startsWith('option:') ? `option ${via.slice(7)}` : via.startsWith('case:') ? `case ${via.slice(5)}` : via;
      const outcomes = ACTIONS[actionOf(state)].outcomes;
      for (let i = 0; label !== undefined && i < 5; i++) {
        labels.push(label);
        const fallback: string | undefined = outcomes.find((o) => o.name === label)?.fallback;
        label = fallback === 'onError' ? undefined : fallback;
      }
      if (via === 'default') labels.push('next');
    }
    for (const label of labels) {
      const key = `${from}\u0000${label}`;
      if (this.transitions.get(key) === to) {
        this.hit.add(key);
        return;
      }
    }
    if (via === undefined) {
      // No way out recorded: credit the transitions that lead there.
      for (const [key, target] of this.transitions) if (target === to && key.startsWith(`${from}\u0000`)) this.hit.add(key);
    }
  }

  summary(): FlowCoverage {
    const states = Object.keys(this.flow.states);
    return {
      flow: this.flow.flow,
      ...(this.file ? { file: this.file } : {}),
      states: { hit: states.filter((s) => this.hitStates.has(s)).length, total: states.length },
      transitions: { hit: this.hit.size, total: this.transitions.size },
      missedStates: states.filter((s) => !this.hitStates.has(s)),
    };
  }
}

function trackerFor(map: Map<string, CoverageTracker>, flow: Flow, file: string | undefined): CoverageTracker {
  let t = map.get(flow.flow);
  if (!t) {
    t = new CoverageTracker(flow, file);
    map.set(flow.flow, t);
  }
  return t;
}

function recordCoverage(map: Map<string, CoverageTracker>, sim: SimulationResult): void {
  // The last state seen in each flow: a subflow call comes back to its caller's next state.
  const last = new Map<string, string>();
  for (const step of sim.trace) {
    const t = map.get(step.flow);
    if (!t) continue;
    t.hitStates.add(step.state);
    const prev = last.get(step.flow);
    if (prev !== undefined) t.take(prev, step.state, step.via);
    last.set(step.flow, step.state);
  }
}
