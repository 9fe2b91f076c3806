/**
 * One turn of one session: take the inbound event to the state that waits for it, then run
 * states (say, set, invoke, switch, callFlow...) until the flow waits on the caller or the
 * provider again, or ends. Produces commands; performs no call I/O. Every error that is not
 * the flow's to handle ends the session safely (fail-safe commands), never as a throw.
 */
import { randomUUID } from 'node:crypto';
import { fromCelValue, evaluateExpression } from '../expr/cel.js';
import { formatTemplateValue, renderTemplate } from '../expr/template.js';
import { parseDuration } from '../expr/duration.js';
import type { MachineCursor } from '../compile/machine.js';
import { caseEvent } from '../compile/machine.js';
import type { Flow, FlowState } from '../model/flow.js';
import { ACTIONS } from '../model/actions.js';
import { actionOf } from '../model/graph.js';
import type { PromptSpec } from '../model/primitives.js';
import type { Redactor } from '../secure/redact.js';
import { FlowRuntimeError, programOf, type FlowProgram } from './program.js';
import { MIN_DECLASSIFY_LENGTH, SECURE, type FlowSecurity } from '../secure/information-flow.js';
import type { Frame, LiveSession } from './session.js';
import type { RuntimeContext } from './context.js';
import { WaitingStates } from './waits.js';
import { celFailure, codeOf, messageOf, quoteExpression, sayOf, stringMap, type InvokeBody, type TransferBody, type Step } from './turn-parts.js';
import type { CallEvent, Command, SessionEnd, Speech, TraceStep, Turn } from './types.js';



/** Runs one turn of one session. */
export class TurnRunner {
  readonly commands: Command[] = [];
  readonly path: string[] = [];
  /** The states entered with their flows (path says only the state names). */
  readonly trace: TraceStep[] = [];
  nextSessionId: string | undefined;
  /** The provider request this turn answers (for replays of a repeated request). */
  requestId: string | undefined;
  /** Its order among the session's requests (a late request is answered by a replay). */
  requestOrder: number | undefined;
  /** The session that holds the call at the end of the turn (this one, or one it handed on to). */
  handedTo: TurnRunner | undefined;
  /** Data action calls made this turn, by state (for their idempotency keys). */
  private readonly invokes = new Map<string, number>();
  private cursor: MachineCursor;
  private readonly waits = new WaitingStates(this);
  /** The end as the adapter gets it (outputs as the agent receives them); the record keeps it redacted. */
  private clearEnd: SessionEnd | undefined;
  private steps = 0;
  private errors = 0;
  /** Set while an onHangup handler runs: its commands are dropped (the call is gone). */
  private droppingCommands = false;

  constructor(
    readonly rt: RuntimeContext,
    readonly session: LiveSession,
    readonly redactor: Redactor,
  ) {
    this.cursor = this.restoreTop();
    // the analysis (made once per runtime) also decides which variables are sealed
    void rt.security;
  }

  // ---- the session's frames and values ----

  private get frames(): Frame[] {
    return this.session.record.frames;
  }

  /** @internal */
  get top(): Frame {
    return this.frames[this.frames.length - 1]!;
  }

  private flowOf(frame: Frame): Flow {
    const flow = this.rt.flows.get(frame.flow);
    if (!flow) throw new FlowRuntimeError('FLOW_UNKNOWN', `flow '${frame.flow}' is not loaded in this runtime`);
    return flow;
  }

  /** @internal */
  get program(): FlowProgram {
    return programOf(this.flowOf(this.top));
  }

  private restoreTop(): MachineCursor {
    return programOf(this.flowOf(this.top)).machine.restore(this.top.machine);
  }

  /** @internal */
  get stateName(): string {
    return this.cursor.state;
  }

  /** @internal */
  get state(): FlowState {
    return this.flowOf(this.top).states[this.stateName]!;
  }

  /** The values an expression of the top frame sees. */
  private values(extra?: Record<string, unknown>): Record<string, unknown> {
    const index = String(this.frames.length - 1);
    return {
      ...this.top.vars,
      ...(this.session.slot.vars[index] ?? {}),
      call: stringMap(this.session.slot.call as Record<string, unknown>),
      ...extra,
    };
  }

  /** @internal */
  evaluate(text: unknown, scope: 'plain' | 'value' | 'result' = 'plain', extra?: Record<string, unknown>): unknown {
    const program = this.program;
    const parsed = program.expression(String(text), scope, this.stateName);
    try {
      return evaluateExpression(parsed, this.values(extra), program.types);
    } catch (error) {
      // Whether an expression over a secure value fails, and how, depends on the value: that
      // is no path for the flow to take (its onError could tell the digits apart), and the
      // reason is no one's to read. The call ends with the fail-safe.
      if (program.readsSecure(String(text), scope)) {
        throw new SecureLeakBlocked(`${this.where()}: an expression over a secure value could not be evaluated`, this.stateName, 'SECURE_EXPRESSION_FAILED');
      }
      // CEL's messages quote the values they failed on: say what failed, never with what
      throw new FlowRuntimeError('EXPRESSION_FAILED', `${this.where()}: the expression ${quoteExpression(String(text))} could not be evaluated (${celFailure(error)})`, this.stateName);
    }
  }

  /** @internal */
  render(text: string): string {
    const parsed = this.program.template(text, this.stateName);
    return renderTemplate(parsed, (expr) => this.evaluate(expr), (v) => formatTemplateValue(v));
  }

  /** @internal */
  assign(name: string, value: unknown): void {
    const v = fromCelValue(value);
    if (this.program.isSealed(name)) {
      const index = String(this.frames.length - 1);
      (this.session.slot.vars[index] ??= {})[name] = v;
      this.redactor.addSecret(v);
    } else {
      this.top.vars[name] = v;
    }
    const flag = this.flowOf(this.top).protectedIdentity;
    // Sticky: once protected, the session stays so (nothing about it is logged or emitted).
    if (flag === name && v === true) this.session.record.protectedIdentity = true;
  }

  /** Is the caller a protected identity (personal data kept off agent screens)? */
  private get protectedCaller(): boolean {
    return this.session.record.protectedIdentity === true;
  }

  private where(): string {
    return `${this.top.flow}: states.${this.stateName}`;
  }

  // ---- output ----

  /** @internal */
  command(command: Command): void {
    this.holdTheLine(command);
    this.commands.push(command);
    if (command.type === 'pauseRecording') this.session.record.recordingPaused = true;
    else if (command.type === 'resumeRecording') delete this.session.record.recordingPaused;
    // Fix: an onHangup handler's commands go nowhere; emitting them told listeners (the
    // simulator's transcript) about commands no adapter ever received.
    if (!this.droppingCommands) this.rt.emit(this, 'command', { command });
  }

  /**
   * The last line, behind the analysis: a command that carries a value away from the caller
   * (a transfer, a URL, outputs, a payment's text, a caller id) must not hold one of the
   * session's secure values whole, however it got there.
   */
  private holdTheLine(command: Command): void {
    let away: unknown;
    switch (command.type) {
      case 'transfer':
      case 'returnToAgent':
      case 'play':
        away = command;
        break;
      case 'pay':
        away = [command.description];
        break;
      case 'connect':
        away = [command.callerId];
        break;
      default:
        return;
    }
    const secrets = this.secureValues();
    if (secrets.length === 0) return;
    const text = JSON.stringify(away).toLowerCase();
    const digits = text.replace(/[^0-9]/g, '');
    for (const secret of secrets) {
      if (text.includes(secret) || (/^\d+$/.test(secret) && digits.includes(secret))) {
        throw new SecureLeakBlocked(`${this.where()}: a ${command.type} command would carry a secure value of this session`, this.stateName);
      }
    }
  }

  /**
   * @internal A secure number to dial or text must be a phone number (E.164: `+`, then at most
   * 15 digits): a card number held whole in a secure variable would otherwise reach the carrier
   * and the provider's call or message records.
   */
  destination(value: string, action: 'connect' | 'authenticate', field: 'number' | 'to'): string {
    if (this.security.siteAt(['states', this.stateName, action, field])?.label === SECURE && !E164.test(value)) {
      throw new SecureLeakBlocked(`${this.where()}: ${action}.${field} holds a secure value that is not a phone number (E.164); only a phone number is dialled or texted`, this.stateName);
    }
    return value;
  }

  /** The session's secure values long enough to look for (shorter ones match too much). */
  private secureValues(): string[] {
    const out: string[] = [];
    for (const [index, vars] of Object.entries(this.session.slot.vars)) {
      const frame = this.frames[Number(index)];
      const facts = frame ? this.rt.security.flow(frame.flow) : undefined;
      for (const [name, v] of Object.entries(vars)) {
        if (facts && !facts.secure.has(name)) continue;
        const text = typeof v === 'string' ? v.toLowerCase() : typeof v === 'number' || typeof v === 'bigint' ? String(v) : '';
        if (text.replace(/[^0-9a-z]/g, '').length >= 6) out.push(text);
      }
    }
    return out;
  }

  /** @internal */
  speech(prompt: PromptSpec | undefined): Speech[] {
    if (prompt === undefined) return [];
    if (typeof prompt === 'string') return [{ text: this.render(prompt) }];
    const s: Speech = {};
    if (prompt.text !== undefined) s.text = this.render(prompt.text);
    if (prompt.play !== undefined) s.play = this.render(prompt.play);
    if (prompt.voice !== undefined) s.voice = prompt.voice;
    if (prompt.language !== undefined) s.language = prompt.language;
    return [s];
  }

  /** @internal */
  promptReadsSecure(prompt: PromptSpec | undefined): boolean {
    if (prompt === undefined) return false;
    const text = typeof prompt === 'string' ? prompt : (prompt.text ?? '');
    return this.program.templateReadsSecure(text);
  }

  // ---- the turn ----

  /** Start the session: run from the start state. */
  async begin(): Promise<void> {
    if (this.session.record.kind === 'secure') {
      this.rt.emit(this, 'secure.entered', { reservation: this.session.record.reservation ?? 'none' });
      this.command({ type: 'pauseRecording' });
    }
    await this.guard(() => this.advance());
  }

  /** Take an inbound event. */
  async receive(event: CallEvent): Promise<void> {
    if (this.session.record.status === 'ended') return;
    const wait = this.top.wait;
    const secure = wait !== undefined && this.waitIsSecure();
    this.rt.emit(this, 'input', {
      state: this.stateName,
      event: secure && event.type === 'digits' ? { type: 'digits', digits: '[secure]' }
        : secure && event.type === 'speech' ? { type: 'speech', text: '[secure]' }
          : event,
    });
    if (event.type === 'hangup') {
      await this.hangup();
      return;
    }
    if (!wait) return;
    await this.guard(async () => {
      const step = await this.waits.resume(wait, event);
      if (step && 'take' in step) {
        this.top.wait = undefined;
        this.take(step.take);
        await this.advance();
      } else if (step && 'wait' in step) {
        this.top.wait = step.wait;
      }
    });
  }

  /** @internal What the caller keys here is secure: a secure variable, a code, or any key in a secure flow. */
  waitIsSecure(): boolean {
    const s = this.state as { collect?: { into: string }; authenticate?: unknown; menu?: unknown };
    if (s.authenticate !== undefined) return true;
    if (s.menu !== undefined) return this.session.record.kind === 'secure';
    return s.collect !== undefined && this.program.secureNames.has(s.collect.into);
  }

  /** Run states until a wait or an end. */
  private async advance(): Promise<void> {
    for (;;) {
      if (this.session.record.status === 'ended') return;
      if (++this.steps > this.rt.maxStepsPerTurn) {
        throw new FlowRuntimeError('BUSY_LOOP', `${this.where()}: more than ${this.rt.maxStepsPerTurn} states in one turn without waiting on the caller`, this.stateName);
      }
      this.enter();
      const step = await this.execute();
      if ('ended' in step) return;
      if ('entered' in step) continue;
      if ('wait' in step) {
        this.top.wait = step.wait;
        return;
      }
      this.take(step.take);
    }
  }

  /**
   * A session handed on to in this turn (a transfer to a flow, enterSecureFlow) goes on with
   * the turn's count of states: a ring of flows that hand the call on without ever waiting on
   * the caller ends at maxStepsPerTurn like any busy loop.
   */
  continueStepsOf(parent: TurnRunner): void {
    this.steps = parent.steps;
  }

  private take(event: string): void {
    const from = this.stateName;
    const next = this.cursor.take(event);
    if (next === undefined) {
      throw new FlowRuntimeError('NO_TRANSITION', `${this.top.flow}: states.${from}: outcome '${event}' has nowhere to go`, from);
    }
    this.via = event;
  }

  /** The way out taken into the state about to be entered (for the trace). */
  private via: string | undefined;

  /** Run `fn`; an error goes to the flow's onError (nearest frame first), or ends the session safely. */
  private async guard(fn: () => Promise<void>): Promise<void> {
    let work = fn;
    for (;;) {
      try {
        await work();
        return;
      } catch (error) {
        // a blocked leak is not the flow's to handle: its handler could be where the value goes
        const handled = !(error instanceof SecureLeakBlocked) && this.toOnError(error);
        if (!handled) {
          await this.fail(error);
          return;
        }
        work = () => this.advance();
      }
    }
  }

  private toOnError(error: unknown): boolean {
    if (++this.errors > 3) return false;
    const failedAt = error instanceof FlowRuntimeError ? error.state : undefined;
    this.rt.emit(this, 'error', { code: codeOf(error), message: messageOf(error), ...(failedAt ? { state: failedAt } : {}) });
    // Fix: `failedAt` names a state of the frame that failed. Only there does it mean "the
    // onError state itself failed"; compared against a calling frame's onError it wrongly
    // skipped that handler whenever the names matched (subflow state `recover`, caller onError `recover`).
    let failingFrame = true;
    while (this.frames.length > 0) {
      const flow = this.flowOf(this.top);
      if (flow.onError !== undefined && flow.states[flow.onError] && !(failingFrame && failedAt === flow.onError)) {
        this.top.wait = undefined;
        this.cursor = programOf(flow).machine.restore(flow.onError);
        return true;
      }
      if (this.frames.length === 1) return false;
      this.popFrame();
      failingFrame = false;
    }
    return false;
  }

  private async fail(error: unknown): Promise<void> {
    if (error instanceof SecureLeakBlocked) this.rt.emit(this, 'error', { code: error.code, message: error.message, state: error.state ?? this.stateName });
    const code = codeOf(error);
    const message = this.redactor.redactText(messageOf(error));
    const fs = this.rt.failSafe;
    if (fs.say) this.command({ type: 'say', text: fs.say });
    if (fs.transferQueue !== undefined) {
      if (this.session.record.kind === 'secure') this.command({ type: 'resumeRecording' });
      this.command({ type: 'transfer', queue: fs.transferQueue });
    } else this.command({ type: 'disconnect', reason: 'error' });
    await this.finish({ type: 'error', code, message, state: this.stateName }, 'error');
  }

  /** End the session (its secure slot is wiped, unless the caller wipes it later: `keepSlot`). */
  private async finish(end: SessionEnd, reason: Parameters<RuntimeContext['release']>[1], keepSlot = false): Promise<void> {
    const record = this.session.record;
    if (record.status === 'ended') return;
    record.status = 'ended';
    this.clearEnd = end;
    record.end = this.redactor.redact(end);
    for (const f of record.frames) f.wait = undefined;
    if (record.kind === 'secure') this.rt.emit(this, 'secure.exited', { reason: end.type });
    this.command({ type: 'end', sessionId: record.id, end });
    await this.rt.release(this, reason);
    this.rt.emit(this, 'session.ended', { end });
    // Wipe the secure slot: nothing secure outlives the session.
    if (!keepSlot) this.wipe();
  }

  private wipe(): void {
    this.session.slot = { call: {}, vars: {} };
  }

  private async hangup(): Promise<void> {
    const at = this.stateName;
    // The agent is released at once; the onHangup handler still sees the call and its values.
    await this.finish({ type: 'hangup', state: at }, 'hangup', true);
    try {
      await this.runHangupHandler();
    } finally {
      this.wipe();
    }
  }

  /**
   * onHangup: every action that needs no caller runs (the action table says which: `callFlow`
   * too, and then the subflow's own states), until the handler reaches one that needs the
   * caller, or ends (`disconnect`, or `return` from the root flow). Its commands go nowhere:
   * the call is gone.
   */
  private async runHangupHandler(): Promise<void> {
    const flow = this.flowOf(this.frames[0]!);
    if (flow.onHangup === undefined || !flow.states[flow.onHangup]) return;
    while (this.frames.length > 1) this.popFrame();
    this.cursor = programOf(flow).machine.restore(flow.onHangup);
    const saved = this.commands.length;
    this.droppingCommands = true;
    try {
      for (let i = 0; i < this.rt.maxStepsPerTurn; i++) {
        const action = actionOf(this.state);
        if (ACTIONS[action].needsCaller) break;
        this.path.push(this.stateName);
        this.trace.push({ flow: this.top.flow, state: this.stateName });
        // Where the handler ends: entered, nothing to do (the call is gone, the session ended).
        if (action === 'disconnect' || (action === 'return' && this.frames.length === 1)) break;
        const step = await this.execute();
        if ('entered' in step) continue;
        if (!('take' in step)) break;
        this.take(step.take);
      }
    } catch (error) {
      this.rt.emit(this, 'error', { code: codeOf(error), message: messageOf(error), state: this.stateName });
    }
    this.droppingCommands = false;
    this.commands.length = saved;
  }

  // ---- actions ----

  /** The information-flow facts of the top frame's flow. */
  private get security(): FlowSecurity {
    const facts = this.rt.security.flow(this.top.flow);
    if (!facts) throw new FlowRuntimeError('FLOW_UNKNOWN', `flow '${this.top.flow}' is not loaded in this runtime`);
    return facts;
  }

  /**
   * Refuse to run a state where a secure value would go where it may not (the findings lint
   * reports, made here whatever lint said): nothing of the state runs, no value is computed.
   */
  private enforce(): void {
    const facts = this.security;
    const state = this.stateName;
    const finding = facts.blockedAt(state) ?? (this.session.record.recordingPaused === true ? undefined : facts.recordedAt(state));
    if (finding) throw new SecureLeakBlocked(`${this.where()}: ${finding.message}`, state);
    // last4/mask declassify only a value that really is long enough, whatever its declaration said
    const declassified = facts.declassifiedAt(state);
    const values = declassified.length > 0 ? this.values() : {};
    for (const name of declassified) {
      const v = values[name];
      if (typeof v !== 'string' || v.length < MIN_DECLASSIFY_LENGTH) {
        throw new SecureLeakBlocked(`${this.where()}: last4/mask of '${name}' would show most of it: it holds fewer than ${MIN_DECLASSIFY_LENGTH} characters`, state);
      }
    }
  }

  private async execute(): Promise<Step> {
    this.enforce();
    const s = this.state as Record<string, unknown>;
    const action = actionOf(this.state);
    switch (action) {
      case 'say': {
        const body = s.say as string | { text: string; voice?: string; language?: string };
        const text = typeof body === 'string' ? body : body.text;
        const cmd: Command = { type: 'say', text: this.render(text) };
        if (typeof body !== 'string' && body.voice) cmd.voice = body.voice;
        if (typeof body !== 'string' && body.language) cmd.language = body.language;
        if (this.program.templateReadsSecure(text)) cmd.secure = true;
        this.command(cmd);
        return { take: 'next' };
      }
      case 'play': {
        const body = s.play as string | { url: string; loop?: number };
        const url = this.render(typeof body === 'string' ? body : body.url);
        this.command(typeof body !== 'string' && body.loop !== undefined ? { type: 'play', url, loop: body.loop } : { type: 'play', url });
        return { take: 'next' };
      }
      case 'log': {
        const body = s.log as string | { message: string; level?: 'debug' | 'info' | 'warn' | 'error' };
        const message = this.render(typeof body === 'string' ? body : body.message);
        const level = typeof body === 'string' ? 'info' : (body.level ?? 'info');
        this.rt.log(this, level, message, { state: this.stateName });
        return { take: 'next' };
      }
      case 'set': {
        for (const [name, expr] of Object.entries(s.set as Record<string, unknown>)) this.assign(name, this.evaluate(expr));
        return { take: 'next' };
      }
      case 'switch': {
        const body = s.switch as { cases: { when: unknown }[]; default?: string };
        for (let i = 0; i < body.cases.length; i++) {
          if (this.evaluate(body.cases[i]!.when) === true) return { take: caseEvent(i) };
        }
        return { take: body.default !== undefined ? 'default' : 'next' };
      }
      case 'recording': {
        const body = s.recording as string | { action: string };
        const what = typeof body === 'string' ? body : body.action;
        if (this.session.record.kind !== 'secure') this.command({ type: what === 'pause' ? 'pauseRecording' : 'resumeRecording' });
        return { take: 'next' };
      }
      case 'invoke':
        return this.invoke(s.invoke as InvokeBody);
      case 'callFlow':
        return this.callFlow(s.callFlow as { flow: string; inputs?: Record<string, unknown> });
      case 'collect':
        return this.waits.enterCollect();
      case 'menu':
        return this.waits.enterMenu();
      case 'authenticate':
        return this.waits.enterAuthenticate();
      case 'connect': {
        const body = s.connect as { number: unknown; callerId: string; timeout?: string | number; prompt?: PromptSpec; record?: boolean };
        for (const sp of this.speech(body.prompt)) this.command(sayOf(sp));
        const number = this.destination(String(this.evaluate(body.number)), 'connect', 'number');
        const cmd: Command = { type: 'connect', number, callerId: this.render(body.callerId) };
        if (body.timeout !== undefined) cmd.timeoutMs = parseDuration(body.timeout);
        if (body.record !== undefined) cmd.record = body.record;
        this.command(cmd);
        return { wait: { kind: 'connect', attempt: 1 } };
      }
      case 'pay':
        return this.waits.enterPay();
      case 'transfer':
        return this.transfer(s.transfer as TransferBody);
      case 'enterSecureFlow':
        return this.enterSecureFlow(s.enterSecureFlow as { flow: string; inputs?: Record<string, unknown> });
      case 'disconnect': {
        const body = s.disconnect as null | string | { reason?: string; prompt?: PromptSpec };
        const reason = typeof body === 'string' ? body : (body?.reason ?? undefined);
        if (body && typeof body === 'object') for (const sp of this.speech(body.prompt)) this.command(sayOf(sp));
        this.command(reason === undefined ? { type: 'disconnect' } : { type: 'disconnect', reason });
        await this.finish(reason === undefined ? { type: 'disconnect' } : { type: 'disconnect', reason }, 'disconnect');
        return { ended: true };
      }
      case 'returnToAgent':
        return this.returnToAgent(s.returnToAgent as null | { outputs?: Record<string, unknown>; prompt?: PromptSpec });
      case 'return':
        return this.returnFromSubflow(s.return as null | { outputs?: Record<string, unknown> });
    }
  }

  private outputs(map: Record<string, unknown> | undefined, to: string, via: 'returnToAgent' | 'return'): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [name, expr] of Object.entries(map ?? {})) {
      if (to === 'the agent' && this.protectedCaller && this.program.readsPersonal(String(expr))) continue;
      // enforce() refused the state already; this holds the line should a site be missed there
      if (this.security.siteAt(['states', this.stateName, via, 'outputs', name])?.label === SECURE) {
        throw new SecureLeakBlocked(`${this.where()}: output '${name}' would hand a secure value to ${to}; hand back a masked form (last4, mask)`, this.stateName);
      }
      out[name] = fromCelValue(this.evaluate(expr));
    }
    return out;
  }

  private async invoke(body: InvokeBody): Promise<Step> {
    const input: Record<string, unknown> = {};
    let carriesSecure = false;
    for (const [field, expr] of Object.entries(body.input ?? {})) {
      input[field] = fromCelValue(this.evaluate(expr));
      // a masked form counts too: only an action that may receive secure values gets one
      if ((this.security.siteAt(['states', this.stateName, 'invoke', 'input', field])?.label ?? 0) > 0) carriesSecure = true;
    }
    const state = this.stateName;
    this.rt.emit(this, 'action.started', { state, action: body.action });
    // Deterministic: a turn run again from the same stored session (its worker died) makes the same keys.
    const n = (this.invokes.get(state) ?? 0) + 1;
    this.invokes.set(state, n);
    const record = this.session.record;
    const result = await this.rt.actions.call(body.action, input, {
      sessionId: record.id,
      idempotencyKey: `${record.id}:${record.turns}:${record.frames.length - 1}.${state}:${n}`,
      ...(body.timeout !== undefined ? { timeoutMs: parseDuration(body.timeout) } : {}),
      ...(body.retries !== undefined ? { retries: body.retries } : {}),
      carriesSecure,
    });
    if (result.outcome === 'success') {
      this.rt.emit(this, 'action.succeeded', { state, action: body.action, ms: result.ms, attempts: result.attempts });
      for (const [name, expr] of Object.entries(body.output ?? {})) {
        this.assign(name, this.evaluate(expr, 'result', { result: result.output }));
      }
      return { take: 'success' };
    }
    this.rt.emit(this, 'action.failed', {
      state,
      action: body.action,
      ms: result.ms,
      attempts: result.attempts,
      outcome: result.outcome,
      ...(result.outcome === 'error' ? { code: result.code, message: result.message } : {}),
    });
    this.rt.recordFailure(this, 'lookup.failed', `data action '${body.action}' keeps failing for this caller`);
    return { take: result.outcome };
  }

  private async callFlow(body: { flow: string; inputs?: Record<string, unknown> }): Promise<Step> {
    const sub = this.rt.flows.get(body.flow);
    if (!sub) throw new FlowRuntimeError('FLOW_UNKNOWN', `${this.where()}: flow '${body.flow}' is not loaded`, this.stateName);
    // a secure or inbound flow run as a subflow would run outside the session that pauses the
    // recording and reserves the agent for it
    if (sub.kind !== 'subflow') throw new FlowRuntimeError('NOT_A_SUBFLOW', `${this.where()}: flow '${body.flow}' is a ${sub.kind} flow; callFlow runs subflows only`, this.stateName);
    // Frames below the top are the calls in progress: the root flow's frame is not a call.
    const depth = this.frames.length;
    if (depth > this.rt.maxCallDepth) {
      throw new FlowRuntimeError(
        'CALL_DEPTH',
        `${this.where()}: calling '${sub.flow}' would make ${depth} subflow calls in progress, more than the limit of ${this.rt.maxCallDepth}; does a flow call itself (directly or through others) before it returns?`,
        this.stateName,
      );
    }
    const inputs: Record<string, unknown> = {};
    for (const [name, expr] of Object.entries(body.inputs ?? {})) inputs[name] = fromCelValue(this.evaluate(expr));
    this.top.machine = this.cursor.persist() as Frame['machine'];
    this.pushFrame(sub, inputs);
    // The subflow's start state runs as the turn's next step (counted like any other).
    return { entered: true };
  }

  private enter(): void {
    this.path.push(this.stateName);
    this.trace.push(this.via === undefined ? { flow: this.top.flow, state: this.stateName } : { flow: this.top.flow, state: this.stateName, via: this.via });
    this.via = undefined;
    this.rt.emit(this, 'state.entered', { state: this.stateName, action: actionOf(this.state) });
  }

  /** Push a frame for `flow` with its inputs and variable defaults. */
  pushFrame(flow: Flow, inputs: Record<string, unknown>): void {
    this.frames.push(createFrame(flow, inputs, this.session, this.frames.length, this.redactor));
    this.cursor = programOf(flow).machine.restore(flow.start);
  }

  private popFrame(): void {
    const index = String(this.frames.length - 1);
    delete this.session.slot.vars[index];
    this.frames.pop();
    this.cursor = this.restoreTop();
  }

  private async returnFromSubflow(body: null | { outputs?: Record<string, unknown> }): Promise<Step> {
    const outputs = this.outputs(body?.outputs, 'the calling flow', 'return');
    if (this.frames.length === 1) {
      this.command({ type: 'disconnect', reason: 'return' });
      await this.finish({ type: 'return', outputs }, 'ended');
      return { ended: true };
    }
    const subflow = this.flowOf(this.top);
    this.popFrame();
    const call = (this.state as { callFlow: { outputs?: Record<string, unknown> } }).callFlow;
    for (const [name, expr] of Object.entries(call.outputs ?? {})) {
      const text = String(expr);
      // A bare name of one of the subflow's outputs is short for result.NAME (`balance: balance`).
      const bare = /^[A-Za-z_][A-Za-z0-9_]*$/.test(text) && subflow.outputs?.[text] !== undefined;
      this.assign(name, bare ? outputs[text] : this.evaluate(text, 'result', { result: outputs }));
    }
    return { take: 'next' };
  }

  private async transfer(body: TransferBody): Promise<Step> {
    for (const sp of this.speech(body.prompt)) this.command(sayOf(sp));
    const target: { queue?: string; number?: string; user?: string; sip?: string; flow?: string } = {};
    for (const key of ['queue', 'number', 'user', 'sip'] as const) {
      const v = body[key];
      if (v !== undefined) target[key] = this.render(v);
    }
    if (body.flow !== undefined) target.flow = body.flow;
    const data: Record<string, unknown> = {};
    for (const [k, expr] of Object.entries(body.data ?? {})) {
      // A protected identity's personal data never reaches an agent's screen.
      if (this.protectedCaller && this.program.readsPersonal(String(expr))) continue;
      data[k] = fromCelValue(this.evaluate(expr));
    }
    if (this.protectedCaller) data.protectedIdentity = true;
    if (this.session.record.kind === 'secure') this.command({ type: 'resumeRecording' });
    if (body.flow !== undefined) {
      return this.handOnTo(body.flow, body.inputs, (sessionId) => ({ type: 'transfer', flow: body.flow!, sessionId }), 'transfer');
    }
    this.command({ type: 'transfer', ...target, ...(Object.keys(data).length > 0 ? { data } : {}) });
    await this.finish({ type: 'transfer', ...target, ...(Object.keys(data).length > 0 ? { data } : {}) }, 'transfer');
    return { ended: true };
  }

  private async enterSecureFlow(body: { flow: string; inputs?: Record<string, unknown> }): Promise<Step> {
    return this.handOnTo(body.flow, body.inputs, (sessionId) => ({ type: 'enterSecureFlow', flow: body.flow, sessionId }), 'ended');
  }

  /** End this session and carry the call on in a new session of `flowName` with `inputs`. */
  private async handOnTo(
    flowName: string,
    inputExprs: Record<string, unknown> | undefined,
    endOf: (sessionId: string) => SessionEnd,
    reason: Parameters<RuntimeContext['release']>[1],
  ): Promise<Step> {
    const flow = this.rt.flows.get(flowName);
    if (!flow) throw new FlowRuntimeError('FLOW_UNKNOWN', `${this.where()}: flow '${flowName}' is not loaded`, this.stateName);
    const inputs: Record<string, unknown> = {};
    for (const [k, expr] of Object.entries(inputExprs ?? {})) inputs[k] = fromCelValue(this.evaluate(expr));
    // The new session gets the call before this one's slot is wiped.
    const call = { ...this.session.slot.call };
    const child = randomUUID();
    await this.finish(endOf(child), reason);
    await this.rt.handOn(this, flow, inputs, call, child);
    return { ended: true };
  }

  private async returnToAgent(body: null | { outputs?: Record<string, unknown>; prompt?: PromptSpec }): Promise<Step> {
    const outputs = this.outputs(body?.outputs, 'the agent', 'returnToAgent');
    for (const sp of this.speech(body?.prompt)) this.command(sayOf(sp));
    const record = this.session.record;
    this.command({ type: 'resumeRecording' });
    const cmd: Command = { type: 'returnToAgent', outputs };
    // The reserved agent, or (not reserved, or the lease ran out) the agent who handed the caller over.
    const agentId = record.agent?.agentId ?? record.handedOverBy;
    if (agentId) cmd.agentId = agentId;
    const conversationId = record.agent?.conversationId ?? record.conversationId;
    if (conversationId) cmd.conversationId = conversationId;
    this.command(cmd);
    await this.finish({ type: 'returnToAgent', outputs }, 'returnToAgent');
    return { ended: true };
  }

  // ---- waiting states ----

  /** The turn's answer. */
  result(): Turn {
    const holder = this.handedTo ?? this;
    const record = holder.session.record;
    this.top.machine = this.cursor.persist() as Frame['machine'];
    const turn: Turn = {
      sessionId: this.session.record.id,
      commands: this.commands,
      status: record.status === 'ended' ? 'ended' : 'waiting',
      path: this.path,
      trace: this.trace,
    };
    if (this.nextSessionId) turn.nextSessionId = this.nextSessionId;
    if (record.status === 'active') {
      const kind = holder.top.wait?.kind;
      turn.waitingFor = kind === 'connect' ? 'connect' : kind === 'pay' ? 'payment' : 'input';
    }
    const end = holder.clearEnd ?? record.end;
    if (end) turn.end = end;
    turn.recordingPaused = record.recordingPaused === true;
    return turn;
  }

  /** Persist the top cursor into its frame (before the session is stored). */
  persistCursor(): void {
    if (this.frames.length > 0) this.top.machine = this.cursor.persist() as Frame['machine'];
  }
}

/** A new frame for `flow` at stack index `index`: variable and input defaults, then the inputs given. */
export function createFrame(flow: Flow, inputs: Record<string, unknown>, session: LiveSession, index: number, redactor: Redactor): Frame {
  const program = programOf(flow);
  const frame: Frame = { flow: flow.flow, machine: { value: flow.start }, vars: {} };
  const secure: Record<string, unknown> = {};
  const put = (name: string, value: unknown) => {
    if (program.isSealed(name)) {
      secure[name] = value;
      redactor.addSecret(value);
    } else frame.vars[name] = value;
  };
  for (const [name, d] of Object.entries(flow.variables ?? {})) if (d.default !== undefined) put(name, d.default);
  for (const [name, d] of Object.entries(flow.inputs ?? {})) if (d.default !== undefined) put(name, d.default);
  for (const [name, value] of Object.entries(inputs)) put(name, value);
  if (Object.keys(secure).length > 0) session.slot.vars[String(index)] = secure;
  else delete session.slot.vars[String(index)];
  return frame;
}

const E164 = /^\+[1-9]\d{6,14}$/;

/** A state refused because a secure value would leave where it may not (never carries the value). */
export class SecureLeakBlocked extends FlowRuntimeError {
  constructor(message: string, state?: string, code: 'SECURE_LEAK_BLOCKED' | 'SECURE_EXPRESSION_FAILED' = 'SECURE_LEAK_BLOCKED') {
    super(code, message, state);
    this.name = 'SecureLeakBlocked';
  }
}
