/**
 * One turn of one session: take the inbound event to the state that waits for it, then run
 * states (say, set, invoke, switch, callFlow...) until the flow waits on the caller or the
 * provider again, or ends. Produces commands; performs no call I/O. Every error that is not
 * the flow's to handle ends the session safely (fail-safe commands), never as a throw.
 */
import { randomUUID } from 'node:crypto';
import { CALL_FIELDS, fromCelValue, evaluateExpression } from '../expr/cel.js';
import { formatTemplateValue, renderTemplate } from '../expr/template.js';
import { passesValidation } from '../expr/validate.js';
import { parseDuration } from '../expr/duration.js';
import type { MachineCursor } from '../compile/machine.js';
import { caseEvent, optionEvent } from '../compile/machine.js';
import type { Flow, FlowState } from '../model/flow.js';
import { actionOf } from '../model/graph.js';
import type { PromptSpec } from '../model/primitives.js';
import { codeMatches, generateCode, hashCode, lockoutKey } from '../secure/otp.js';
import type { Redactor } from '../secure/redact.js';
import { FlowRuntimeError, programOf, type FlowProgram } from './program.js';
import type { Frame, LiveSession, Wait } from './session.js';
import type { RuntimeContext } from './context.js';
import type { CallEvent, Command, SessionEnd, Speech, TraceStep, Turn } from './types.js';

type Step = { take: string } | { wait: Wait } | { ended: true };

const DEFAULT_ATTEMPTS = 3;
const DEFAULT_INPUT_TIMEOUT_MS = 5000;

/** Runs one turn of one session. */
export class TurnRunner {
  readonly commands: Command[] = [];
  readonly path: string[] = [];
  /** The states entered with their flows (path says only the state names). */
  readonly trace: TraceStep[] = [];
  nextSessionId: string | undefined;
  /** The provider request this turn answers (for replays of a repeated request). */
  requestId: string | undefined;
  /** The session that holds the call at the end of the turn (this one, or one it handed on to). */
  handedTo: TurnRunner | undefined;
  private cursor: MachineCursor;
  /** The end as the adapter gets it (outputs as the agent receives them); the record keeps it redacted. */
  private clearEnd: SessionEnd | undefined;
  private steps = 0;
  private errors = 0;
  /** Set while an onHangup handler runs: its commands are dropped (the call is gone). */
  private droppingCommands = false;

  constructor(
    private readonly rt: RuntimeContext,
    readonly session: LiveSession,
    readonly redactor: Redactor,
  ) {
    this.cursor = this.restoreTop();
  }

  // ---- the session's frames and values ----

  private get frames(): Frame[] {
    return this.session.record.frames;
  }

  private get top(): Frame {
    return this.frames[this.frames.length - 1]!;
  }

  private flowOf(frame: Frame): Flow {
    const flow = this.rt.flows.get(frame.flow);
    if (!flow) throw new FlowRuntimeError('FLOW_UNKNOWN', `flow '${frame.flow}' is not loaded in this runtime`);
    return flow;
  }

  private get program(): FlowProgram {
    return programOf(this.flowOf(this.top));
  }

  private restoreTop(): MachineCursor {
    return programOf(this.flowOf(this.top)).machine.restore(this.top.machine);
  }

  private get stateName(): string {
    return this.cursor.state;
  }

  private get state(): FlowState {
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

  private evaluate(text: unknown, scope: 'plain' | 'value' | 'result' = 'plain', extra?: Record<string, unknown>): unknown {
    const program = this.program;
    const parsed = program.expression(String(text), scope, this.stateName);
    try {
      return evaluateExpression(parsed, this.values(extra), program.types);
    } catch (error) {
      throw new FlowRuntimeError('EXPRESSION_FAILED', `${this.where()}: ${firstLine(error)}`, this.stateName);
    }
  }

  private render(text: string): string {
    const parsed = this.program.template(text, this.stateName);
    return renderTemplate(parsed, (expr) => this.evaluate(expr), (v) => formatTemplateValue(v));
  }

  private assign(name: string, value: unknown): void {
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

  private command(command: Command): void {
    this.commands.push(command);
    // Fix: an onHangup handler's commands go nowhere; emitting them told listeners (the
    // simulator's transcript) about commands no adapter ever received.
    if (!this.droppingCommands) this.rt.emit(this, 'command', { command });
  }

  private speech(prompt: PromptSpec | undefined): Speech[] {
    if (prompt === undefined) return [];
    if (typeof prompt === 'string') return [{ text: this.render(prompt) }];
    const s: Speech = {};
    if (prompt.text !== undefined) s.text = this.render(prompt.text);
    if (prompt.play !== undefined) s.play = this.render(prompt.play);
    if (prompt.voice !== undefined) s.voice = prompt.voice;
    if (prompt.language !== undefined) s.language = prompt.language;
    return [s];
  }

  private promptReadsSecure(prompt: PromptSpec | undefined): boolean {
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
      const step = await this.resume(wait, event);
      if (step && 'take' in step) {
        this.top.wait = undefined;
        this.take(step.take);
        await this.advance();
      } else if (step && 'wait' in step) {
        this.top.wait = step.wait;
      }
    });
  }

  private waitIsSecure(): boolean {
    const s = this.state as { collect?: { into: string }; authenticate?: unknown };
    if (s.authenticate !== undefined) return true;
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
      if ('wait' in step) {
        this.top.wait = step.wait;
        return;
      }
      this.take(step.take);
    }
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
        const handled = this.toOnError(error);
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

  /** onHangup: only actions that need no caller run; their commands go nowhere (the call is gone). */
  private async runHangupHandler(): Promise<void> {
    const flow = this.flowOf(this.frames[0]!);
    if (flow.onHangup === undefined || !flow.states[flow.onHangup]) return;
    while (this.frames.length > 1) this.frames.pop();
    this.cursor = programOf(flow).machine.restore(flow.onHangup);
    const saved = this.commands.length;
    this.droppingCommands = true;
    try {
      for (let i = 0; i < this.rt.maxStepsPerTurn; i++) {
        const state = this.state;
        const action = actionOf(state);
        if (action === 'disconnect' || action === 'return') {
          // Where the handler ends: entered, nothing to do (the call is gone).
          this.path.push(this.stateName);
          this.trace.push({ flow: this.top.flow, state: this.stateName });
          break;
        }
        if (!['set', 'switch', 'invoke', 'log', 'recording'].includes(action)) break;
        this.path.push(this.stateName);
        this.trace.push({ flow: this.top.flow, state: this.stateName });
        const step = await this.execute();
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

  private async execute(): Promise<Step> {
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
        return this.enterCollect();
      case 'menu':
        return this.enterMenu();
      case 'authenticate':
        return this.enterAuthenticate();
      case 'connect': {
        const body = s.connect as { number: unknown; callerId: string; timeout?: string | number; prompt?: PromptSpec; record?: boolean };
        for (const sp of this.speech(body.prompt)) this.command(sayOf(sp));
        const number = String(this.evaluate(body.number));
        const cmd: Command = { type: 'connect', number, callerId: this.render(body.callerId) };
        if (body.timeout !== undefined) cmd.timeoutMs = parseDuration(body.timeout);
        if (body.record !== undefined) cmd.record = body.record;
        this.command(cmd);
        return { wait: { kind: 'connect', attempt: 1 } };
      }
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

  private outputs(map: Record<string, unknown> | undefined, to: string): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [name, expr] of Object.entries(map ?? {})) {
      if (to === 'the agent' && this.protectedCaller && this.program.readsPersonal(String(expr))) continue;
      // Fix: `last4(card)` / `mask(card)` are the masked forms the contract allows here; only an
      // unmasked read of a secure value is refused (readsSecure refused the masked forms too).
      if (this.program.readsSecureUnmasked(String(expr))) {
        throw new FlowRuntimeError('SECURE_OUTPUT', `${this.where()}: output '${name}' would hand a secure value to ${to}; hand back a masked form (last4, mask)`, this.stateName);
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
      // Fix: a masked form (`last4(card)`) is not a secure value; lint tells authors to send
      // one to an action not marked secure, so the runtime must not refuse it (readsSecure did).
      if (this.program.readsSecureUnmasked(String(expr))) carriesSecure = true;
    }
    const state = this.stateName;
    this.rt.emit(this, 'action.started', { state, action: body.action });
    const result = await this.rt.actions.call(body.action, input, {
      sessionId: this.session.record.id,
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
    const inputs: Record<string, unknown> = {};
    for (const [name, expr] of Object.entries(body.inputs ?? {})) inputs[name] = fromCelValue(this.evaluate(expr));
    this.top.machine = this.cursor.persist() as Frame['machine'];
    this.pushFrame(sub, inputs);
    return this.executeEntered();
  }

  /** After pushing a frame, the new top's start state runs as the next step. */
  private async executeEntered(): Promise<Step> {
    this.enter();
    return this.execute();
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
    const outputs = this.outputs(body?.outputs, 'the calling flow');
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
    const outputs = this.outputs(body?.outputs, 'the agent');
    for (const sp of this.speech(body?.prompt)) this.command(sayOf(sp));
    const record = this.session.record;
    this.command({ type: 'resumeRecording' });
    const cmd: Command = { type: 'returnToAgent', outputs };
    if (record.agent?.agentId) cmd.agentId = record.agent.agentId;
    const conversationId = record.agent?.conversationId ?? record.conversationId;
    if (conversationId) cmd.conversationId = conversationId;
    this.command(cmd);
    await this.finish({ type: 'returnToAgent', outputs }, 'returnToAgent');
    return { ended: true };
  }

  // ---- waiting states ----

  private collectCommand(purpose: 'collect' | 'menu' | 'authenticate', prompts: Speech[], secure: boolean): Command {
    const s = this.state as Record<string, unknown>;
    const body = (s.collect ?? s.menu ?? s.authenticate) as {
      digits?: { min?: number; max?: number; length?: number; finishOnKey?: string } | number;
      timeout?: string | number;
      input?: 'dtmf' | 'speech' | 'dtmf speech';
      speech?: { hints?: string[] };
    };
    const cmd: Command = {
      type: 'collect',
      purpose,
      prompt: prompts,
      input: body.input ?? (body.speech ? 'dtmf speech' : 'dtmf'),
      timeoutMs: body.timeout !== undefined ? parseDuration(body.timeout) : DEFAULT_INPUT_TIMEOUT_MS,
      secure,
    };
    if (purpose === 'menu') {
      cmd.maxDigits = 1;
    } else if (typeof body.digits === 'number') {
      cmd.minDigits = body.digits;
      cmd.maxDigits = body.digits;
    } else if (body.digits) {
      const min = body.digits.length ?? body.digits.min;
      const max = body.digits.length ?? body.digits.max;
      if (min !== undefined) cmd.minDigits = min;
      if (max !== undefined) cmd.maxDigits = max;
      if (body.digits.finishOnKey !== undefined) cmd.finishOnKey = body.digits.finishOnKey;
    }
    if (body.speech?.hints) cmd.hints = body.speech.hints;
    return cmd;
  }

  /**
   * The try a collect or menu starts at. A per-try outcome (`noInput`, `noMatch`) that leads
   * back to the state keeps counting: its tries are remembered until the state is left for good.
   */
  private startingTry(attempts: number | undefined): number | 'exhausted' {
    const used = this.top.tries?.[this.stateName] ?? 0;
    if (used >= (attempts ?? DEFAULT_ATTEMPTS)) {
      this.clearTries();
      return 'exhausted';
    }
    return used + 1;
  }

  private clearTries(): void {
    if (this.top.tries) {
      delete this.top.tries[this.stateName];
      if (Object.keys(this.top.tries).length === 0) delete this.top.tries;
    }
  }

  private enterCollect(): Step {
    const body = (this.state as { collect: CollectBody }).collect;
    const attempt = this.startingTry(body.attempts);
    if (attempt === 'exhausted') return { take: 'failure' };
    const secure = this.program.secureNames.has(body.into) || this.promptReadsSecure(body.prompt);
    this.command(this.collectCommand('collect', this.speech(body.prompt), secure));
    return { wait: { kind: 'collect', attempt } };
  }

  private enterMenu(): Step {
    const body = (this.state as { menu: MenuBody }).menu;
    const attempt = this.startingTry(body.attempts);
    if (attempt === 'exhausted') return { take: 'failure' };
    this.command(this.collectCommand('menu', this.speech(body.prompt), this.promptReadsSecure(body.prompt)));
    return { wait: { kind: 'menu', attempt } };
  }

  private async enterAuthenticate(): Promise<Step> {
    const body = (this.state as { authenticate: AuthBody }).authenticate;
    const to = String(this.evaluate(body.to));
    const key = lockoutKey(to);
    if (await this.rt.lockouts.isLocked(key)) {
      this.rt.emit(this, 'alert', { code: 'auth.locked', message: 'a caller tried to authenticate a locked-out number', count: 1 });
      return { take: 'lockedOut' };
    }
    const digits = body.digits ?? this.rt.otp.digits;
    const code = generateCode(digits);
    this.redactor.addSecret(code);
    const { hash, salt } = hashCode(code);
    const ttl = body.ttl !== undefined ? parseDuration(body.ttl) : this.rt.otp.ttlMs;
    this.session.slot.otp = { hash, salt, expiresAt: this.rt.clock.now() + ttl, to };
    const text = body.message !== undefined ? this.render(body.message) : 'Your verification code is {code}.';
    this.command({ type: 'sendSms', to, body: text.includes('{code}') ? text.replaceAll('{code}', code) : `${text} ${code}`, code, secure: true });
    const prompt = body.prompt !== undefined ? this.speech(body.prompt) : [{ text: 'Please key in the code we have sent you by text message.' }];
    const cmd = this.collectCommand('authenticate', prompt, true);
    if (cmd.type === 'collect') {
      cmd.minDigits = digits;
      cmd.maxDigits = digits;
    }
    this.command(cmd);
    return { wait: { kind: 'authenticate', attempt: 1 } };
  }

  /** An event for a waiting state: a way out, or the same wait again (re-prompted). */
  private async resume(wait: Wait, event: CallEvent): Promise<Step | undefined> {
    if (wait.kind === 'connect') {
      return event.type === 'connectResult' ? { take: event.status } : undefined;
    }
    const s = this.state as Record<string, unknown>;
    if (wait.kind === 'authenticate') return this.resumeAuthenticate(wait, event);
    const body = (s.collect ?? s.menu) as (CollectBody | MenuBody) & { attempts?: number };
    const on = (s.on ?? {}) as Record<string, string | undefined>;
    const attempts = body.attempts ?? DEFAULT_ATTEMPTS;
    let problem: 'noInput' | 'noMatch';
    if (event.type === 'noInput' || (event.type === 'digits' && stripFinish(event.digits, body) === '')) {
      problem = 'noInput';
    } else if (event.type === 'digits' || event.type === 'speech') {
      const raw = event.type === 'digits' ? stripFinish(event.digits, body) : event.text.trim();
      if (wait.kind === 'menu') {
        const key = raw.slice(0, 1);
        if ((body as MenuBody).options[key] !== undefined) {
          this.clearTries();
          return { take: optionEvent(key) };
        }
      } else if (this.valid(raw, body as CollectBody)) {
        this.clearTries();
        this.assign((body as CollectBody).into, raw);
        return { take: 'success' };
      }
      problem = 'noMatch';
    } else {
      // Not an answer to this state (a late or out-of-order callback): ask again, count nothing.
      return this.reprompt(wait, []);
    }
    if (wait.attempt >= attempts) {
      this.clearTries();
      return { take: 'failure' };
    }
    if (on[problem] !== undefined) {
      (this.top.tries ??= {})[this.stateName] = wait.attempt;
      return { take: problem };
    }
    const extra = problem === 'noInput' ? body.noInputPrompt : body.noMatchPrompt;
    return this.reprompt({ kind: wait.kind, attempt: wait.attempt + 1 }, this.speech(extra));
  }

  private reprompt(wait: Wait, before: Speech[]): Step {
    const s = this.state as Record<string, unknown>;
    const body = (s.collect ?? s.menu ?? s.authenticate) as { prompt?: PromptSpec; into?: string };
    const secure = wait.kind === 'authenticate' || (body.into !== undefined && this.program.secureNames.has(body.into)) || this.promptReadsSecure(body.prompt);
    const prompt = wait.kind === 'authenticate' && body.prompt === undefined ? [{ text: 'Please key in the code we have sent you by text message.' }] : this.speech(body.prompt);
    const cmd = this.collectCommand(wait.kind === 'connect' ? 'collect' : wait.kind, [...before, ...prompt], secure);
    if (wait.kind === 'authenticate' && cmd.type === 'collect') {
      const digits = (body as AuthBody).digits ?? this.rt.otp.digits;
      cmd.minDigits = digits;
      cmd.maxDigits = digits;
    }
    this.command(cmd);
    return { wait };
  }

  private valid(value: string, body: CollectBody): boolean {
    const d = body.digits;
    const min = d?.length ?? d?.min;
    const max = d?.length ?? d?.max;
    if (min !== undefined && value.length < min) return false;
    if (max !== undefined && value.length > max) return false;
    if (body.validate === undefined) return true;
    const validation = this.program.validation(body.validate);
    return passesValidation(validation, value, (expr, v) => {
      // Fix: the caller decides what `value` holds (`int(value)` on "12*" throws). Input the
      // validation cannot even evaluate does not validate: a no match, not a flow error.
      try {
        return this.evaluate(expr, 'value', { value: v }) === true;
      } catch (error) {
        if (error instanceof FlowRuntimeError && error.code === 'EXPRESSION_FAILED') return false;
        throw error;
      }
    });
  }

  private async resumeAuthenticate(wait: Wait, event: CallEvent): Promise<Step | undefined> {
    const body = (this.state as { authenticate: AuthBody }).authenticate;
    const attempts = body.attempts ?? DEFAULT_ATTEMPTS;
    const otp = this.session.slot.otp;
    if (event.type === 'smsResult') {
      if (event.status === 'failed') {
        delete this.session.slot.otp;
        return { take: 'failed' };
      }
      return undefined;
    }
    if (event.type !== 'digits' && event.type !== 'noInput') return this.reprompt(wait, []);
    if (event.type === 'digits' && otp && this.rt.clock.now() <= otp.expiresAt && codeMatches(event.digits.replace(/#$/, ''), otp.hash, otp.salt)) {
      await this.rt.lockouts.reset(lockoutKey(otp.to));
      delete this.session.slot.otp;
      return { take: 'verified' };
    }
    if (event.type === 'digits' && otp) {
      const { locked } = await this.rt.lockouts.recordFailure(lockoutKey(otp.to), this.rt.lockoutPolicy);
      this.rt.recordFailure(this, 'auth.failed', 'repeated failed one-time codes from this caller');
      if (locked) {
        delete this.session.slot.otp;
        this.rt.emit(this, 'alert', { code: 'auth.lockout', message: 'a number was locked out after repeated wrong one-time codes', count: this.rt.lockoutPolicy.maxFailures });
        return { take: 'lockedOut' };
      }
    }
    if (!otp || wait.attempt >= attempts || this.rt.clock.now() > otp.expiresAt) {
      delete this.session.slot.otp;
      return { take: 'failed' };
    }
    return this.reprompt({ kind: 'authenticate', attempt: wait.attempt + 1 }, []);
  }

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
    if (record.status === 'active') turn.waitingFor = holder.top.wait?.kind === 'connect' ? 'connect' : 'input';
    const end = holder.clearEnd ?? record.end;
    if (end) turn.end = end;
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

type InvokeBody = { action: string; input?: Record<string, unknown>; output?: Record<string, unknown>; timeout?: string | number; retries?: number };
type TransferBody = {
  queue?: string;
  number?: string;
  user?: string;
  sip?: string;
  flow?: string;
  inputs?: Record<string, unknown>;
  data?: Record<string, unknown>;
  prompt?: PromptSpec;
};
type CollectBody = {
  prompt?: PromptSpec;
  into: string;
  digits?: { min?: number; max?: number; length?: number; finishOnKey?: string };
  validate?: string;
  attempts?: number;
  noInputPrompt?: PromptSpec;
  noMatchPrompt?: PromptSpec;
};
type MenuBody = { prompt: PromptSpec; options: Record<string, string>; attempts?: number; noInputPrompt?: PromptSpec; noMatchPrompt?: PromptSpec };
type AuthBody = { to: unknown; prompt?: PromptSpec; message?: string; digits?: number; attempts?: number; ttl?: string | number };

function stripFinish(digits: string, body: object): string {
  const key = (body as { digits?: { finishOnKey?: string } }).digits?.finishOnKey ?? '#';
  return key !== '' && digits.endsWith(key) ? digits.slice(0, -1) : digits;
}

function sayOf(s: Speech): Command {
  if (s.play !== undefined) return { type: 'play', url: s.play };
  const cmd: Command = { type: 'say', text: s.text ?? '' };
  if (s.voice) cmd.voice = s.voice;
  if (s.language) cmd.language = s.language;
  return cmd;
}

/** `call` as CEL sees it: every field present (empty when the provider did not say). */
function stringMap(call: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(CALL_FIELDS)) {
    const v = call[k];
    out[k] = v === undefined || v === null ? '' : String(v);
  }
  return out;
}

function firstLine(error: unknown): string {
  const m = error instanceof Error ? error.message : String(error);
  return (m.split('\n')[0] ?? m).trim();
}

function codeOf(error: unknown): string {
  if (error && typeof error === 'object' && 'code' in error && typeof (error as { code: unknown }).code === 'string') {
    return (error as { code: string }).code;
  }
  return 'RUNTIME_ERROR';
}

function messageOf(error: unknown): string {
  return firstLine(error);
}
