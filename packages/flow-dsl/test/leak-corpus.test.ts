/**
 * The leak corpus: small flow projects (test/leak-corpus/), each trying to get a card number,
 * security code, PIN, expiry or secure phone number out of a secure flow by one technique,
 * and a few legitimate flows that must keep working. For every case:
 *
 * 1. lint reports it (with the rule its header names, and nothing else), or a legitimate flow
 *    lints clean (so does a case whose only channel is the runtime's own error reporting);
 * 2. with lint bypassed (flows loaded and handed straight to createRuntime), a scripted call
 *    leaves the secret nowhere: log records, events, commands (read-backs while the recording
 *    is paused excepted, and a secure number dialled or texted where the case says the flow
 *    may), inputs of data actions not marked secure, stored sessions (and what inspect shows),
 *    the session's end; and no agent stays reserved;
 * 3. the runtime refuses a leak (`error` SECURE_LEAK_BLOCKED, or a documented refusal the case
 *    names; `runtime: contained` cases need only leak nothing), and runs a legitimate flow to
 *    its end;
 * 4. `callflow simulate` (the built CLI) prints none of it either.
 *
 * Assertions name where a secret was found, never the secret (leak-scan.ts).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ActionRegistry,
  ManualClock,
  MemoryLogger,
  MemoryReservationStore,
  MemorySessionStore,
  createRuntime,
  defineAction,
  type CallEvent,
  type Command,
  type Flow,
  type RuntimeEventName,
  type Turn,
} from '@callflow/flow-core';
import { lint, loadFlowText } from '../src/index.js';
import { CLI, callflow, type Run } from './cli-helpers.js';
import { corpusConfig, readCorpus, withSecrets, type LeakCase } from './leak-corpus-cases.js';
import { CALL_NUMBERS, leakScanner, storedSession } from './leak-scan.js';

const corpus = readCorpus();
const config = corpusConfig();
const AGENT = 'agent-7';
const CALL = { caller: CALL_NUMBERS[0]!, callee: CALL_NUMBERS[1]!, callId: 'CA-leak-corpus', provider: 'test' };
const BLOCKED = 'SECURE_LEAK_BLOCKED';

/** Every event the runtime emits (the type makes a new one impossible to forget here). */
const EVENT_NAMES = Object.keys({
  'session.started': 1, 'state.entered': 1, command: 1, input: 1, 'action.started': 1, 'action.succeeded': 1,
  'action.failed': 1, 'reservation.reserved': 1, 'reservation.released': 1, 'secure.entered': 1,
  'secure.exited': 1, alert: 1, 'session.ended': 1, error: 1,
} satisfies Record<RuntimeEventName, 1>) as RuntimeEventName[];

/** What one call left behind, where a secret must not be. */
interface CallRecord {
  logs: unknown[];
  events: { name: string; payload: unknown }[];
  /** Commands as the provider gets them, less what a case may send there (read-backs while paused...). */
  commands: Command[];
  /** Inputs that data actions not marked secure received. */
  actionInputs: { action: string; input: unknown }[];
  /** Every stored session after every turn (sealed envelopes left out). */
  stored: unknown[];
  /** The session as `runtime.inspect` shows it after every turn. */
  inspected: unknown[];
  ends: unknown[];
  /** Codes of `error` events and failed data actions: the refusals seen. */
  refusals: string[];
  errors: string[];
  end: string | undefined;
  reservedAfter: boolean;
}

function flowsOf(c: LeakCase): Flow[] {
  return c.files.map(({ file, text }) => {
    const loaded = loadFlowText(text, file);
    if (!loaded.flow) throw new Error(`${c.name}: ${file} does not load: ${loaded.diagnostics.map((d) => d.message).join('; ')}`);
    return loaded.flow;
  });
}

/**
 * The data actions the host registers: the corpus config's, secure (and with secure output
 * fields) as it says, answering with the case's mocks and noting what non-secure ones receive.
 */
function actionsFor(c: LeakCase, received: CallRecord['actionInputs']): ActionRegistry {
  const mocks = withSecrets(c.header.actions ?? {});
  const anything = z.record(z.string(), z.unknown());
  return new ActionRegistry(
    Object.entries(config.actions ?? {}).map(([name, decl]) => {
      const secureFields = Object.entries(decl.output ?? {}).filter(([, f]) => typeof f === 'object' && f.secure === true).map(([k]) => k);
      // `secureOutput` names the output fields that hold secure values (a runtime that knows
      // none of them ignores it).
      const definition = {
        name,
        secure: decl.secure === true,
        secureOutput: secureFields,
        input: anything,
        output: anything,
        handler: (input: Record<string, unknown>) => {
          if (decl.secure !== true) received.push({ action: name, input });
          const mock = mocks[name];
          if (mock === undefined) throw new Error(`data action '${name}' is not mocked`);
          if (mock.error !== undefined) throw new Error(`data action '${name}' failed (mocked)`);
          return mock;
        },
      };
      return defineAction(definition);
    }),
  );
}

/** The caller's answer to a wait, as the simulator reads `--input`. */
function callerEvent(input: string | undefined, turn: Turn, lastCode: string | undefined): { event: CallEvent; used: boolean } {
  const next = input?.trim();
  if (turn.waitingFor === 'connect') {
    const status = ['completed', 'busy', 'noAnswer', 'failed'].includes(next ?? '') ? next : undefined;
    return { event: { type: 'connectResult', status: (status ?? 'completed') as 'completed' }, used: status !== undefined };
  }
  if (turn.waitingFor === 'payment') {
    const known = next === 'paid' || next === 'declined';
    return {
      event: next === 'paid' ? { type: 'paymentResult', status: 'success', reference: 'PAY-SIM', token: 'TOKEN-SIM' } : { type: 'paymentResult', status: 'failed', error: 'declined' },
      used: known,
    };
  }
  if (next === undefined || /^hang-?up$/i.test(next)) return { event: { type: 'hangup' }, used: next !== undefined };
  if (/^no-?input$/i.test(next)) return { event: { type: 'noInput' }, used: true };
  if (/^sms-?failed$/i.test(next)) return { event: { type: 'smsResult', status: 'failed' }, used: true };
  if (/^code$/i.test(next) && lastCode !== undefined) return { event: { type: 'digits', digits: lastCode }, used: true };
  return { event: { type: 'digits', digits: next }, used: true };
}

/**
 * What may hold a secret in the commands: speech while the recording is paused (a read-back),
 * and a secure number dialled or texted as the case says a flow may. Everything else is kept
 * for the scan.
 */
function commandsToScan(turns: Turn[], dial: boolean): Command[] {
  let paused = false;
  const out: Command[] = [];
  for (const turn of turns) {
    for (const c of turn.commands) {
      if (c.type === 'pauseRecording') paused = true;
      if (c.type === 'resumeRecording') paused = false;
      if (c.type === 'say' && paused) continue;
      if ((c.type === 'collect' || c.type === 'pay') && paused) out.push({ ...c, prompt: c.prompt.map(({ text: _text, ...rest }) => rest) });
      else if (c.type === 'connect' && dial) out.push({ ...c, number: '[dialled]' });
      // the one-time code is random digits the runtime made, which now and then hold a few of the card's
      else if (c.type === 'sendSms') out.push({ ...c, ...(dial ? { to: '[texted]' } : {}), body: c.body.replaceAll(c.code ?? '\u0000', '[code]'), code: '[code]' });
      else out.push(c);
    }
  }
  return out;
}

/** Run the case's call through a runtime that was handed its flows without lint. */
async function runCall(c: LeakCase): Promise<CallRecord> {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const store = new MemorySessionStore(clock);
  const logger = new MemoryLogger();
  const record: CallRecord = {
    logs: logger.records, events: [], commands: [], actionInputs: [], stored: [], inspected: [], ends: [], refusals: [], errors: [], end: undefined, reservedAfter: false,
  };
  const flows = flowsOf(c);
  const runtime = createRuntime({
    flows,
    actions: actionsFor(c, record.actionInputs),
    clock,
    store,
    reservations: new MemoryReservationStore(clock),
    logger,
    failSafe: { say: 'Sorry, something went wrong.', transferQueue: 'fallback' },
  });
  for (const name of EVENT_NAMES) {
    runtime.events.on(name, (payload: unknown) => {
      record.events.push({ name, payload });
      const code = (payload as { code?: unknown }).code;
      if ((name === 'error' || name === 'action.failed') && typeof code === 'string') record.refusals.push(code);
      if (name === 'error') record.errors.push(String(code));
    });
  }
  const entry = flows[0]!;
  const inputs = withSecrets(c.header.inputs ?? {});
  const turns: Turn[] = [];
  const keep = async (turn: Turn): Promise<Turn> => {
    turns.push(turn);
    record.stored.push(...store.rawValues().map(storedSession));
    for (const id of new Set([turn.sessionId, turn.nextSessionId])) if (id) record.inspected.push(await runtime.inspect(id));
    if (turn.end) record.ends.push(turn.end);
    return turn;
  };
  let turn = await keep(
    entry.kind === 'secure' && (entry.reservation ?? 'agent') === 'agent'
      ? await runtime.startSecureSession({ conversationId: 'conv-1', agentId: AGENT, flow: entry.flow, inputs, reserveAgent: true, call: CALL })
      : await runtime.startSession({ flow: entry.flow, inputs, call: CALL }),
  );
  let sessionId = turn.nextSessionId ?? turn.sessionId;
  let lastCode: string | undefined;
  const script = withSecrets(c.header.caller);
  for (let i = 0; turn.status === 'waiting' && i < 30; i++) {
    for (const cmd of turn.commands) if (cmd.type === 'sendSms' && cmd.code !== undefined) lastCode = cmd.code;
    const { event, used } = callerEvent(script[0], turn, lastCode);
    if (used) script.shift();
    turn = await keep(await runtime.handle(sessionId, event));
    if (turn.nextSessionId) sessionId = turn.nextSessionId;
  }
  record.end = turn.status === 'ended' ? turn.end?.type : 'still waiting';
  record.commands = commandsToScan(turns, c.header.dial === true);
  record.reservedAfter = await runtime.isReserved(AGENT);
  await runtime.shutdown();
  return record;
}

/**
 * `callflow simulate` on the case's entry flow, as a user runs it: the case copied into a
 * project of its own (its flows and its config), so the CLI reads only its flows.
 */
function simulateArgs(c: LeakCase, workDir: string): string[] {
  const dir = join(workDir, c.name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'callflow.config.yaml'), c.configText);
  for (const f of c.files) writeFileSync(join(dir, basename(f.file)), f.text);
  const args = ['simulate', join(dir, basename(c.files[0]!.file)), '--format', 'json'];
  for (const input of withSecrets(c.header.caller)) args.push('--input', input);
  for (const [name, mock] of Object.entries(withSecrets(c.header.actions ?? {}))) {
    const file = join(dir, `${name}.mock.json`);
    writeFileSync(file, JSON.stringify(mock));
    args.push('--action', `${name}=${file}`);
  }
  for (const [name, value] of Object.entries(withSecrets(c.header.inputs ?? {}))) {
    args.push('--flow-input', `${name}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
  }
  return args;
}

/** Run `fn` over `items`, `limit` at a time. */
async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  }));
  return out;
}

const calls = new Map<string, Promise<CallRecord>>();
/** The case's call, run once; a throw is reported without its message if that holds a secret. */
const callOf = (c: LeakCase): Promise<CallRecord> => {
  let p = calls.get(c.name);
  if (!p) {
    const scan = leakScanner(c.secrets, c.header.reveals);
    p = runCall(c).catch((error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      const name = error instanceof Error ? error.name : 'a non-error';
      throw new Error(`the runtime threw ${name}: ${scan(message).length > 0 ? '(its message holds a secret: withheld)' : message}`);
    });
    calls.set(c.name, p);
  }
  return p;
};
const lintOf = (c: LeakCase) => lint({ targets: c.files, config: c.config });

const cli = new Map<string, Run>();
let workDir: string;

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`the leak corpus runs the built CLI (${CLI}): build it first (npm run build)`);
  workDir = mkdtempSync(join(tmpdir(), 'callflow-leak-corpus-'));
  // Two at a time: the machine's cores are shared.
  const runs = await pool(corpus, 2, (c) => callflow(simulateArgs(c, workDir)));
  corpus.forEach((c, i) => cli.set(c.name, runs[i]!));
}, 120_000);

afterAll(() => {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('the leak corpus', () => {
  it('holds at least 45 leak cases and 5 legitimate flows, each flow named after its case', () => {
    expect(corpus.filter((c) => !c.legit).length).toBeGreaterThanOrEqual(45);
    expect(corpus.filter((c) => c.legit).length).toBeGreaterThanOrEqual(5);
    for (const c of corpus) {
      const names = flowsOf(c).map((f) => f.flow);
      expect(names[0], c.name).toBe(c.name);
      for (const n of names.slice(1)) expect(n.startsWith(`${c.name}--`), `${c.name}: flow ${n}`).toBe(true);
    }
  });
});

for (const c of corpus) {
  describe(`${c.name}: ${c.header.leak ?? c.header.legit}`, () => {
    const scan = leakScanner(c.secrets, c.header.reveals);

    if (c.rules.length > 0) {
      it(`is reported by ${c.rules.join(', ')}`, () => {
        const errors = lintOf(c).flatMap((r) => r.messages.filter((m) => m.severity === 2));
        const rules = [...new Set(errors.map((e) => e.ruleId))];
        expect(rules, 'the rules that report it').toEqual(expect.arrayContaining(c.rules));
        expect(rules.filter((r) => !c.rules.includes(r)), 'rules reporting something else (the case is not clean of other problems)').toEqual([]);
      });
    } else {
      it('lints clean', () => {
        const errors = lintOf(c).flatMap((r) => r.messages.filter((m) => m.severity === 2).map((m) => `${m.ruleId}: ${m.message}`));
        expect(errors).toEqual([]);
      });
    }

    it(c.legit ? 'runs with the secret going only where it may' : 'leaks nothing at run time, with lint bypassed', async () => {
      const call = await callOf(c);
      expect.soft(scan(call.logs), 'log records').toEqual([]);
      expect.soft(scan(call.events), 'emitted events').toEqual([]);
      expect.soft(scan(call.commands), 'commands to the provider').toEqual([]);
      expect.soft(scan(call.actionInputs), 'inputs of data actions not marked secure').toEqual([]);
      expect.soft(scan(call.stored), 'stored sessions').toEqual([]);
      expect.soft(scan(call.inspected), 'sessions as runtime.inspect shows them').toEqual([]);
      expect.soft(scan(call.ends), 'the session end and its outputs').toEqual([]);
      expect.soft(call.reservedAfter, 'the agent is still reserved after the call').toBe(false);
    });

    if (c.header.runtime === 'blocked') {
      it(`is refused by the runtime (${[BLOCKED, ...(c.header.refusal ?? [])].join(' or ')})`, async () => {
        const call = await callOf(c);
        const accepted = [BLOCKED, ...(c.header.refusal ?? [])];
        expect(call.refusals.filter((r) => accepted.includes(r)), `refusals seen: ${call.refusals.join(', ') || 'none'}`).not.toEqual([]);
      });
    }
    if (c.header.runtime === 'runs') {
      it(`runs to its end (${c.header.end ?? 'any'}) without an error`, async () => {
        const call = await callOf(c);
        expect(call.errors, 'error events').toEqual([]);
        if (c.header.end) expect(call.end).toBe(c.header.end);
      });
    }

    it('leaks nothing through callflow simulate', () => {
      const run = cli.get(c.name)!;
      let json: unknown = run.stdout;
      try {
        json = JSON.parse(run.stdout);
      } catch {
        // not JSON (a refusal, a usage error): scanned as text
      }
      expect.soft(scan(json), 'simulate stdout').toEqual([]);
      expect.soft(scan(run.stderr), 'simulate stderr').toEqual([]);
      const entryErrors = lint({ targets: [c.files[0]!], others: c.files.slice(1), config: c.config })[0]!.errorCount;
      if (entryErrors > 0) expect(run.code, 'simulate refuses a flow that does not lint clean').toBe(2);
      const stderr = scan(run.stderr).length > 0 ? '(withheld: it holds a secret)' : run.stderr.slice(0, 300);
      if (c.legit) expect(run.code, `simulate exit code (stderr: ${stderr})`).toBe(0);
    });
  });
}
