/**
 * The simulator: runs one call through the real runtime, offline and in-process, answering
 * each wait from a script (digits, `noinput`, `hangup`) and each data action from mocked
 * results. It yields the path of states, a transcript (prompts, inputs — secure ones as
 * `[secure]` — and commands) and how the call ended, both redacted as the log is: each line
 * and the end pass the session's redactor (its secure values and the patterns), typed fields
 * keeping their types.
 */
import type { ActionCaller, ActionOutcome } from '../actions/data-action.js';
import type { Flow } from '../model/flow.js';
import { Redactor } from '../secure/redact.js';
import { ManualClock } from './clock.js';
import { createRuntime, redactorOfEvent, type Runtime } from './runtime.js';
import type { LockoutPolicy } from '../secure/otp.js';
import type { CallEvent, CallInfo, Command, SessionEnd, TraceStep, Turn } from './types.js';

/** A mocked data action result: an output (success), `{ error }` or `{ timeout: true }`. */
export type MockResult = Record<string, unknown>;

/** What the simulated caller (and back ends) do. */
export interface SimulationScript {
  /**
   * Answers to each wait, in order: digits, `noinput`, `hangup`, other text as speech; `code`
   * keys in the one-time code last sent by SMS, `smsfailed` reports that SMS undelivered; for
   * a connect: completed | busy | noAnswer | failed.
   */
  inputs?: readonly string[];
  /** Mocked data action results by action name. */
  actions?: Readonly<Record<string, MockResult>>;
  /** The flow's inputs. */
  flowInputs?: Readonly<Record<string, unknown>>;
  /** The call (defaults to test numbers). */
  call?: CallInfo;
  /** The agent who hands the caller to a `reservation: agent` secure flow. */
  agentId?: string;
  /** Stop after this many turns (default 200). */
  maxTurns?: number;
  /** The lock-out policy of one-time codes (e.g. `{ maxFailures: 2 }` to reach lockedOut in one call). */
  lockout?: Partial<LockoutPolicy>;
  /** Ask for each answer instead of `inputs` (interactive mode): undefined means the caller hangs up. */
  nextInput?: (waitingFor: 'input' | 'connect' | 'payment') => Promise<string | undefined>;
  /** Called with each transcript line as it happens. */
  onLine?: (line: TranscriptLine) => void;
  /**
   * Called once with how the call ended as the adapter receives it, not redacted (outputs as
   * the agent gets them), for a test to compare with what it expects. Never print it: the
   * result's `end` is the same object redacted.
   */
  onEnd?: (end: SimulationEnd) => void;
}

/** One line of a transcript. */
export interface TranscriptLine {
  /** `flow` (said by the flow), `caller` (an input), `runtime` (commands and notes). */
  from: 'flow' | 'caller' | 'runtime';
  kind: 'say' | 'play' | 'prompt' | 'input' | 'command' | 'note';
  text: string;
  state?: string;
}

/** How a simulated call ended: the contract's end object. */
export interface SimulationEnd {
  type: 'transfer' | 'disconnect' | 'returnToAgent' | 'return' | 'hangup';
  [field: string]: unknown;
}

/** The result of a simulation. */
export interface SimulationResult {
  flow: string;
  path: string[];
  /** The states entered with their flows, in order. */
  trace: TraceStep[];
  transcript: TranscriptLine[];
  /** How the call ended, redacted: strings as the log has them, typed fields with their types. */
  end: SimulationEnd;
  /**
   * The end as one line of text (`returnToAgent {"outputs":{...}}`), redacted like each
   * transcript line: a typed field whose digits are a secure value's is removed here too.
   */
  endText: string;
  /** Set when the flow failed at run time without a handler. */
  error?: { code: string; message: string; state?: string };
  /** Data actions the flow called that had no mock (they took their error outcome). */
  unmocked: string[];
}

const CONNECT_RESULTS = new Set(['completed', 'busy', 'noAnswer', 'failed']);

/** A data action caller answering from mocks. */
class MockActions implements ActionCaller {
  readonly unmocked: string[] = [];
  constructor(
    private readonly mocks: Readonly<Record<string, MockResult>>,
    private readonly note: (text: string) => void,
  ) {}

  async call(name: string): Promise<ActionOutcome> {
    const mock = this.mocks[name];
    if (mock === undefined) {
      if (!this.unmocked.includes(name)) this.unmocked.push(name);
      this.note(`data action '${name}' is not mocked: it takes its error outcome`);
      return { outcome: 'error', code: 'ACTION_NOT_REGISTERED', message: `data action '${name}' is not mocked`, attempts: 0, ms: 0 };
    }
    if (mock.timeout === true) return { outcome: 'timeout', attempts: 1, ms: 0 };
    if (mock.error !== undefined && mock.error !== null && mock.error !== false) {
      return { outcome: 'error', code: 'ACTION_FAILED', message: `data action '${name}' failed (mocked)`, attempts: 1, ms: 0 };
    }
    return { outcome: 'success', output: { ...mock }, attempts: 1, ms: 0 };
  }
}

/**
 * Simulate a call through `flowName` (or the first flow). `flows` holds the flow and the
 * project's other flows (subflows, secure flows it hands on to).
 */
export async function simulate(flows: readonly Flow[] | Flow, script: SimulationScript = {}, flowName?: string): Promise<SimulationResult> {
  const list = Array.isArray(flows) ? (flows as readonly Flow[]) : [flows as Flow];
  const name = flowName ?? list[0]?.flow;
  const flow = list.find((f) => f.flow === name);
  if (!flow) throw new Error(`no flow named '${String(name)}' to simulate`);

  const transcript: TranscriptLine[] = [];
  // Lines are composed from redacted events, but composing can join what was apart, and typed
  // fields (an amount, an output that is a number) are not redacted in an event: each line
  // passes the redactor of the event it comes from, or the patterns between events.
  const patterns = new Redactor();
  const push = (line: TranscriptLine) => {
    const redacted = { ...line, text: (redactorOfEvent(runtime) ?? patterns).redactText(line.text) };
    transcript.push(redacted);
    script.onLine?.(redacted);
  };
  const note = (text: string, state?: string) => push({ from: 'runtime', kind: 'note', text, ...(state ? { state } : {}) });
  const actions = new MockActions(script.actions ?? {}, (t) => note(t));
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const runtime: Runtime = createRuntime({ flows: list, actions, clock, failSafe: {}, ...(script.lockout ? { lockout: script.lockout } : {}) });
  let errorInfo: SimulationResult['error'];
  runtime.events.on('error', (e) => {
    errorInfo = { code: e.code, message: e.message, ...(e.state ? { state: e.state } : {}) };
  });
  runtime.events.on('command', (e) => record(e.command));
  runtime.events.on('input', (e) => {
    const ev = e.event as CallEvent | { type: 'digits'; digits: string };
    const text = ev.type === 'digits' ? ev.digits : ev.type === 'speech' ? ev.text : ev.type === 'connectResult' ? ev.status : ev.type === 'paymentResult' ? `payment ${ev.status}` : ev.type;
    push({ from: 'caller', kind: 'input', text, ...(e.state ? { state: e.state } : {}) });
  });
  runtime.events.on('reservation.reserved', (e) => note(`agent ${e.agentId} reserved`));
  runtime.events.on('reservation.released', (e) => note(`agent ${e.agentId} released (${e.reason})`));
  // How each session ended, redacted by its own redactor, which still holds its secure values.
  const ends = new Map<string, { end: SimulationEnd; text: string }>();
  runtime.events.on('session.ended', (e) => {
    const end = toEnd(e.end);
    ends.set(e.sessionId, { end, text: (redactorOfEvent(runtime) ?? patterns).redactText(describeEnd(end)) });
  });

  function record(c: Command): void {
    switch (c.type) {
      case 'say':
        push({ from: 'flow', kind: 'say', text: c.text });
        break;
      case 'play':
        push({ from: 'flow', kind: 'play', text: c.url });
        break;
      case 'collect':
        for (const p of c.prompt) push({ from: 'flow', kind: 'prompt', text: p.text ?? p.play ?? '' });
        push({ from: 'runtime', kind: 'command', text: `${c.purpose === 'authenticate' ? 'collect code' : c.purpose}${c.secure ? ' (secure)' : ''}` });
        break;
      case 'end':
        break;
      case 'pay':
        for (const p of c.prompt) push({ from: 'flow', kind: 'prompt', text: p.text ?? p.play ?? '' });
        push({ from: 'runtime', kind: 'command', text: `pay ${c.amount.toFixed(2)} ${c.currency} (card captured by the provider)` });
        break;
      default:
        push({ from: 'runtime', kind: 'command', text: describeCommand(c) });
    }
  }

  const call = script.call ?? { caller: '+15555550100', callee: '+15555550199', callId: 'SIM-CALL', provider: 'simulator' };
  let turn: Turn =
    flow.kind === 'secure' && (flow.reservation ?? 'agent') === 'agent'
      ? await runtime.startSecureSession({
          conversationId: 'SIM-CONVERSATION',
          agentId: script.agentId ?? 'simulator-agent',
          flow: flow.flow,
          inputs: { ...script.flowInputs },
          reserveAgent: true,
          call,
        })
      : await runtime.startSession({ flow: flow.flow, inputs: { ...script.flowInputs }, call });
  const path = [...turn.path];
  const trace = [...turn.trace];
  // The last one-time code sent: the input `code` keys it in (as the caller reading the SMS).
  let lastCode = codeSent(turn);
  let sessionId = turn.nextSessionId ?? turn.sessionId;
  const inputs = [...(script.inputs ?? [])];
  const maxTurns = script.maxTurns ?? 200;
  for (let i = 0; turn.status === 'waiting' && i < maxTurns; i++) {
    let event: CallEvent;
    if (script.nextInput) {
      const answer = await script.nextInput(turn.waitingFor ?? 'input');
      if (answer === undefined) event = { type: 'hangup' };
      else if (turn.waitingFor === 'payment') {
        event = /^paid$/i.test(answer.trim()) ? { type: 'paymentResult', status: 'success', reference: 'SIM-PAYMENT', token: 'SIM-TOKEN' } : { type: 'paymentResult', status: 'failed', error: 'declined' };
      } else if (turn.waitingFor === 'connect') {
        event = { type: 'connectResult', status: (CONNECT_RESULTS.has(answer.trim()) ? answer.trim() : 'completed') as 'completed' };
      } else event = toEvent(answer, lastCode);
    } else if (turn.waitingFor === 'payment') {
      // The provider captures the card: the script says how it went (`paid` or `declined`).
      const next = inputs[0]?.trim().toLowerCase();
      if (next === 'paid' || next === 'declined') inputs.shift();
      else note(next === undefined ? 'no input for the payment: it is taken as declined' : 'the next input is not a payment result (paid, declined): the payment is taken as declined');
      event = next === 'paid' ? { type: 'paymentResult', status: 'success', reference: 'SIM-PAYMENT', token: 'SIM-TOKEN' } : { type: 'paymentResult', status: 'failed', error: 'declined' };
    } else if (turn.waitingFor === 'connect') {
      const next = inputs[0]?.trim();
      if (next !== undefined && CONNECT_RESULTS.has(next)) {
        inputs.shift();
        event = { type: 'connectResult', status: next as 'completed' };
      } else {
        note(next === undefined ? 'no input for the connect: the call is taken as completed' : 'the next input is not a connect result: the connect is taken as completed');
        event = { type: 'connectResult', status: 'completed' };
      }
    } else {
      const next = inputs.shift();
      if (next === undefined) {
        note('the inputs ran out: the caller hangs up');
        event = { type: 'hangup' };
      } else event = toEvent(next, lastCode);
    }
    turn = await runtime.handle(sessionId, event);
    lastCode = codeSent(turn) ?? lastCode;
    path.push(...turn.path);
    trace.push(...turn.trace);
    if (turn.nextSessionId) sessionId = turn.nextSessionId;
  }
  if (turn.status === 'waiting') {
    note(`stopped after ${maxTurns} turns: the caller hangs up`);
    turn = await runtime.handle(sessionId, { type: 'hangup' });
    path.push(...turn.path);
    trace.push(...turn.trace);
  }
  await runtime.shutdown();
  script.onEnd?.(toEnd(turn.end));
  const ended = ends.get(turn.sessionId);
  const end = ended?.end ?? toEnd(turn.end && patterns.redact(turn.end));
  const endText = ended?.text ?? patterns.redactText(describeEnd(end));
  const result: SimulationResult = { flow: flow.flow, path, trace, transcript, end, endText, unmocked: actions.unmocked };
  if (turn.end?.type === 'error') {
    // The message was redacted when the turn failed (Turn.end carries it so).
    result.error = { code: turn.end.code, message: turn.end.message, ...(turn.end.state ? { state: turn.end.state } : {}) };
  }
  if (errorInfo && !result.error) note(`an error was handled by the flow: ${errorInfo.code}`);
  return result;
}

function codeSent(turn: Turn): string | undefined {
  for (const c of [...turn.commands].reverse()) if (c.type === 'sendSms' && c.code !== undefined) return c.code;
  return undefined;
}

function toEvent(input: string, lastCode: string | undefined): CallEvent {
  const t = input.trim();
  if (/^no-?input$/i.test(t)) return { type: 'noInput' };
  if (/^hang-?up$/i.test(t)) return { type: 'hangup' };
  if (/^code$/i.test(t) && lastCode !== undefined) return { type: 'digits', digits: lastCode };
  if (/^sms-?failed$/i.test(t)) return { type: 'smsResult', status: 'failed' };
  if (/^[0-9*#]+$/.test(t)) return { type: 'digits', digits: t };
  return { type: 'speech', text: t };
}

function toEnd(end: SessionEnd | undefined): SimulationEnd {
  if (!end) return { type: 'hangup' };
  switch (end.type) {
    case 'error':
      return { type: 'disconnect', reason: 'error' };
    case 'enterSecureFlow':
      return { type: 'transfer', flow: end.flow };
    default: {
      const { sessionId: _sessionId, ...rest } = end as SessionEnd & { sessionId?: string };
      return rest as SimulationEnd;
    }
  }
}

function describeEnd(end: SimulationEnd): string {
  const { type, ...rest } = end;
  return Object.keys(rest).length > 0 ? `${type} ${JSON.stringify(rest)}` : type;
}

function describeCommand(c: Command): string {
  switch (c.type) {
    case 'connect':
      return `connect ${c.number} (caller id ${c.callerId})`;
    case 'transfer': {
      const target = c.queue !== undefined ? `queue ${c.queue}` : c.number !== undefined ? `number ${c.number}` : c.user !== undefined ? `user ${c.user}` : c.sip !== undefined ? `sip ${c.sip}` : `flow ${c.flow ?? ''}`;
      return `transfer to ${target}`;
    }
    case 'disconnect':
      return c.reason ? `disconnect (${c.reason})` : 'disconnect';
    case 'returnToAgent':
      return `returnToAgent ${JSON.stringify(c.outputs)}`;
    case 'sendSms':
      return `sendSms to ${c.to}`;
    default:
      return c.type;
  }
}
