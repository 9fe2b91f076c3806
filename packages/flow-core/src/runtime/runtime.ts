/**
 * `createRuntime`: runs flows for many calls at once. Sessions live in the session store
 * between turns (restored, advanced, persisted every turn), agent reservations in the
 * reservation store, secure values sealed. Every log record and event is redacted before it
 * leaves. The runtime takes provider-neutral events and answers with commands; adapters do
 * the call I/O.
 */
import { randomUUID } from 'node:crypto';
import { ActionRegistry, type ActionCaller, type DataActionDefinition } from '../actions/data-action.js';
import type { Flow } from '../model/flow.js';
import { ephemeralKeyRing, open, seal, type SecretsProvider } from '../secure/crypto.js';
import { DEFAULT_LOCKOUT, MemoryLockoutStore, type LockoutPolicy, type LockoutStore } from '../secure/otp.js';
import { Redactor, type RedactorOptions } from '../secure/redact.js';
import {
  MemoryReservationStore,
  type ReleaseReason,
  type ReservationMirror,
  type ReservationStore,
} from '../secure/reservations.js';
import { MemorySessionStore, type SessionStore } from '../store/session-store.js';
import { AbuseMonitor, DEFAULT_ALERT_POLICY, type AlertPolicy } from './alerts.js';
import { systemClock, type Clock } from './clock.js';
import type { FailSafe, RuntimeContext } from './context.js';
import { RuntimeEvents, type EventBase, type RuntimeEventMap, type RuntimeEventName } from './events.js';
import { silentLogger, type LogLevel, type Logger } from './logger.js';
import { deserializeSession, serializeSession, type LiveSession, type SessionRecord } from './session.js';
import { TurnRunner, createFrame } from './turn.js';
import { AgentBusyError, ConcurrentTurnError, FlowValidationError, SessionNotFoundError } from './errors.js';
import { validateFlows } from './validate-flows.js';

export { AgentBusyError, ConcurrentTurnError, FlowValidationError, SessionNotFoundError };
import type { CallEvent, CallInfo, Command, Turn } from './types.js';

/** How a runtime is put together: every port has an embedded in-memory default. */
export interface RuntimeOptions {
  /** The flows it runs (validated here). */
  flows: readonly Flow[] | Readonly<Record<string, Flow>>;
  /** Data actions: a registry, a list of definitions, or any caller (a simulator's mocks). */
  actions?: ActionCaller | readonly DataActionDefinition[];
  store?: SessionStore;
  reservations?: ReservationStore;
  /** Mirrors reservations into the provider (TaskRouter activity, Genesys status). */
  reservationMirror?: ReservationMirror;
  logger?: Logger;
  clock?: Clock;
  /** Keys that seal the secure slot (default: one random key for this process). */
  secrets?: SecretsProvider;
  redaction?: RedactorOptions;
  /** How long an agent stays reserved at most, ms (default 15 minutes). */
  reservationLeaseMs?: number;
  /** How long an idle session is kept, ms (default 4 hours). */
  sessionTtlMs?: number;
  /** States one turn may run without waiting on the caller (default 1000). */
  maxStepsPerTurn?: number;
  failSafe?: FailSafe;
  lockout?: Partial<LockoutPolicy>;
  lockoutStore?: LockoutStore;
  alerts?: Partial<AlertPolicy>;
  /** One-time codes: digits (default 6) and time to live, ms (default 5 minutes). */
  otp?: { digits?: number; ttlMs?: number };
  /**
   * How many sessions this process keeps open between turns (default 5000; 0: none). A turn
   * whose stored session is, byte for byte, the one this process wrote last skips parsing and
   * opening it. Only sessions holding no secure value and no one-time code are kept: those are
   * opened from the store every turn, so their values are in clear in memory only during a turn.
   */
  sessionCacheSize?: number;
}

/** Starting an IVR (or any non-agent) session. */
export interface StartSessionOptions {
  flow: string;
  sessionId?: string;
  call?: CallInfo;
  inputs?: Record<string, unknown>;
}

/** An agent hands the caller to a secure flow, and may stay reserved until it returns. */
export interface SecureSessionOptions {
  conversationId: string;
  agentId: string;
  flow: string;
  inputs?: Record<string, unknown>;
  /** Keep the agent reserved (offered no new work) until the flow returns the caller. */
  reserveAgent: boolean;
  call?: CallInfo;
  sessionId?: string;
}

/** Options of one turn. */
export interface HandleOptions {
  /** Identifies the provider request: a repeat of the last one gets the same turn back. */
  requestId?: string;
  /**
   * The order of the request among the session's requests (e.g. the turn number an adapter
   * put in the callback URL). A request older than the last one answered is late: it gets
   * the last turn again (`replayed`, `late`), and nothing runs.
   */
  requestOrder?: number;
}

/** A session as `inspect` shows it: redacted, secure slot left out. */
export type SessionView = Omit<SessionRecord, 'sealed'>;

/** The runtime. */
export interface Runtime {
  /** The typed event bus (payloads are redacted). */
  readonly events: RuntimeEvents;
  /** The flows it runs, by name. */
  readonly flows: ReadonlyMap<string, Flow>;
  startSession(options: StartSessionOptions): Promise<Turn>;
  startSecureSession(options: SecureSessionOptions): Promise<Turn>;
  /**
   * One turn: an event for a session, answered with commands. With a `requestId` (an
   * adapter's id of the provider request: e.g. the callback URL's turn number), a repeat of
   * the last request is answered with the same turn again, and nothing runs twice.
   */
  handle(sessionId: string, event: CallEvent, options?: HandleOptions): Promise<Turn>;
  isReserved(agentId: string): Promise<boolean>;
  /** End reservations whose lease ran out (call it on a timer); how many were released. */
  sweep(): Promise<number>;
  /** Release every reservation this runtime holds. */
  shutdown(): Promise<void>;
  /** A redacted view of a stored session. */
  inspect(sessionId: string): Promise<SessionView | undefined>;
}

const ENDED_TTL_MS = 10 * 60_000;

/** Build a runtime. Throws FlowValidationError when a flow cannot run. */
export function createRuntime(options: RuntimeOptions): Runtime {
  return new CallflowRuntime(options);
}

class CallflowRuntime implements Runtime, RuntimeContext {
  readonly events = new RuntimeEvents();
  readonly flows: Map<string, Flow>;
  readonly actions: ActionCaller;
  readonly clock: Clock;
  readonly maxStepsPerTurn: number;
  readonly failSafe: FailSafe;
  readonly lockouts: LockoutStore;
  readonly lockoutPolicy: LockoutPolicy;
  readonly otp: { digits: number; ttlMs: number };
  private readonly store: SessionStore;
  private readonly reservations: ReservationStore;
  private readonly mirror: ReservationMirror | undefined;
  private readonly logger: Logger;
  private readonly secrets: SecretsProvider;
  private readonly baseRedactor: Redactor;
  private readonly leaseMs: number;
  private readonly sessionTtlMs: number;
  private readonly abuse: AbuseMonitor;
  private readonly locks = new Map<string, Promise<unknown>>();
  /** Reservations this runtime granted: agentId → session, token, lease end. */
  private readonly held = new Map<string, { sessionId: string; token: string; expiresAt: number; flow: string }>();
  /** Sessions this process wrote last, open (see `sessionCacheSize`); oldest first. */
  private readonly openSessions = new Map<string, { text: string; version: number; live: LiveSession }>();
  private readonly openSessionsMax: number;
  /** Sessions saved during the current turn other than the main one (hand-offs). */
  private readonly pending: LiveSession[] = [];

  constructor(options: RuntimeOptions) {
    this.flows = validateFlows(options.flows);
    this.actions = Array.isArray(options.actions) || options.actions === undefined
      ? new ActionRegistry((options.actions ?? []) as readonly DataActionDefinition[])
      : (options.actions as ActionCaller);
    this.clock = options.clock ?? systemClock;
    this.store = options.store ?? new MemorySessionStore(this.clock);
    this.reservations = options.reservations ?? new MemoryReservationStore(this.clock);
    this.mirror = options.reservationMirror;
    this.logger = options.logger ?? silentLogger;
    this.secrets = options.secrets ?? ephemeralKeyRing();
    this.baseRedactor = new Redactor(options.redaction);
    this.leaseMs = options.reservationLeaseMs ?? 15 * 60_000;
    this.sessionTtlMs = options.sessionTtlMs ?? 4 * 60 * 60_000;
    this.maxStepsPerTurn = options.maxStepsPerTurn ?? 1000;
    this.failSafe = options.failSafe ?? { say: 'Sorry, something went wrong. Goodbye.' };
    this.lockouts = options.lockoutStore ?? new MemoryLockoutStore(this.clock);
    this.lockoutPolicy = { ...DEFAULT_LOCKOUT, ...options.lockout };
    this.abuse = new AbuseMonitor(this.clock, { ...DEFAULT_ALERT_POLICY, ...options.alerts });
    this.otp = { digits: options.otp?.digits ?? 6, ttlMs: options.otp?.ttlMs ?? 5 * 60_000 };
    this.openSessionsMax = Math.max(0, Math.floor(options.sessionCacheSize ?? 5000));
  }

  // ---- public API ----

  async startSession(options: StartSessionOptions): Promise<Turn> {
    const flow = this.flowNamed(options.flow);
    const id = options.sessionId ?? randomUUID();
    return this.serialized(id, async () => {
      const live = this.newSession(id, flow, options.call ?? {});
      const runner = this.runner(live, options.inputs ?? {}, flow);
      this.emit(runner, 'session.started', { kind: flow.kind, secure: flow.kind === 'secure' });
      await runner.begin();
      return this.complete(runner);
    });
  }

  async startSecureSession(options: SecureSessionOptions): Promise<Turn> {
    const flow = this.flowNamed(options.flow);
    if (flow.kind !== 'secure') throw new FlowValidationError([`${flow.flow}: an agent can only start a secure flow (this one is kind: ${flow.kind})`]);
    const id = options.sessionId ?? randomUUID();
    return this.serialized(id, async () => {
      const live = this.newSession(id, flow, options.call ?? {});
      live.record.conversationId = options.conversationId;
      const runner = this.runner(live, options.inputs ?? {}, flow);
      this.emit(runner, 'session.started', { kind: flow.kind, secure: true });
      if (options.reserveAgent && (flow.reservation ?? 'agent') === 'agent') {
        const r = await this.reservations.reserve(options.agentId, id, this.leaseMs);
        if (!r) throw new AgentBusyError(options.agentId);
        live.record.agent = { agentId: r.agentId, token: r.token, expiresAt: r.expiresAt, conversationId: options.conversationId };
        this.held.set(r.agentId, { sessionId: id, token: r.token, expiresAt: r.expiresAt, flow: flow.flow });
        this.emit(runner, 'reservation.reserved', { agentId: r.agentId, expiresAt: r.expiresAt });
        await this.mirrorSafely(() => this.mirror?.reserved(r), runner);
      } else {
        live.record.agent = undefined;
        if (options.agentId) live.record.conversationId = options.conversationId;
      }
      try {
        await runner.begin();
        return await this.complete(runner);
      } catch (error) {
        // No reservation may outlive its session: whatever failed, let the agent go.
        await this.release(runner, 'error');
        throw error;
      }
    });
  }

  async handle(sessionId: string, event: CallEvent, options: HandleOptions = {}): Promise<Turn> {
    return this.serialized(sessionId, async () => {
      const stored = await this.store.get(sessionId);
      if (!stored) throw new SessionNotFoundError(sessionId);
      const live = this.open(sessionId, stored.value, stored.version);
      const replay = this.replayOf(live, options.requestId, options.requestOrder);
      if (replay) return replay;
      const runner = new TurnRunner(this, live, this.redactorFor(live));
      if (live.record.status === 'ended') {
        // A transfer the session ended with did not connect: the caller is still there and
        // gets the fail-safe rather than silence.
        if (event.type === 'transferResult' && event.status !== 'completed' && live.record.end?.type === 'transfer') {
          return { ...runner.result(), commands: this.failSafeCommands() };
        }
        return runner.result();
      }
      // From here the turn changes the session: the open copy is no longer the stored one.
      this.openSessions.delete(sessionId);
      live.record.turns++;
      if (options.requestId !== undefined) runner.requestId = options.requestId;
      if (options.requestOrder !== undefined) runner.requestOrder = options.requestOrder;
      const agent = live.record.agent;
      if (agent && agent.expiresAt <= this.clock.now()) await this.release(runner, 'expired');
      try {
        await runner.receive(event);
      } catch (error) {
        await this.release(runner, 'error');
        throw error;
      }
      return this.complete(runner);
    });
  }

  async isReserved(agentId: string): Promise<boolean> {
    return (await this.reservations.get(agentId)) !== undefined;
  }

  async sweep(): Promise<number> {
    let released = 0;
    const now = this.clock.now();
    for (const [agentId, h] of [...this.held]) {
      if (h.expiresAt > now) continue;
      this.held.delete(agentId);
      await this.reservations.release(agentId, h.token);
      released++;
      this.emitFor(h.sessionId, h.flow, this.baseRedactor, 'reservation.released', { agentId, reason: 'expired' });
      const reservation = { agentId, sessionId: h.sessionId, token: h.token, reservedAt: 0, expiresAt: h.expiresAt };
      await this.mirror?.released(reservation, 'expired').catch((error: unknown) => this.mirrorFailed(h.sessionId, h.flow, error));
    }
    return released;
  }

  async shutdown(): Promise<void> {
    this.openSessions.clear();
    for (const [agentId, h] of [...this.held]) {
      this.held.delete(agentId);
      await this.reservations.release(agentId, h.token).catch(() => false);
      this.emitFor(h.sessionId, h.flow, this.baseRedactor, 'reservation.released', { agentId, reason: 'shutdown' });
      const reservation = { agentId, sessionId: h.sessionId, token: h.token, reservedAt: 0, expiresAt: h.expiresAt };
      await this.mirror?.released(reservation, 'shutdown').catch((error: unknown) => this.mirrorFailed(h.sessionId, h.flow, error));
    }
  }

  async inspect(sessionId: string): Promise<SessionView | undefined> {
    const stored = await this.store.get(sessionId);
    if (!stored) return undefined;
    const live = deserializeSession(stored.value, stored.version, this.secrets);
    const { sealed: _sealed, ...view } = live.record;
    return this.redactorFor(live).redact(view);
  }

  // ---- RuntimeContext ----

  emit<K extends RuntimeEventName>(runner: TurnRunner, name: K, payload: Omit<RuntimeEventMap[K], keyof EventBase>): void {
    const r = runner.session.record;
    this.emitFor(r.id, r.flow, runner.redactor, name, payload);
  }

  log(runner: TurnRunner, level: LogLevel, msg: string, fields: Record<string, unknown> = {}): void {
    if (!this.logs(level)) return;
    const r = runner.session.record;
    this.logger.write({
      level,
      msg: runner.redactor.redactText(msg),
      fields: runner.redactor.redact({ sessionId: r.id, flow: r.flow, ...fields }),
    });
  }

  async release(runner: TurnRunner, reason: ReleaseReason): Promise<void> {
    const record = runner.session.record;
    const agent = record.agent;
    if (!agent) return;
    record.agent = undefined;
    // Fix: only this reservation's own entry leaves `held`. After its lease ran out the agent
    // may hold a newer reservation; deleting that one meant shutdown never released it.
    if (this.held.get(agent.agentId)?.token === agent.token) this.held.delete(agent.agentId);
    const released = await this.reservations.release(agent.agentId, agent.token).catch(() => false);
    if (!released) {
      // Fix: the agent is already reserved again, by another secure session. Announcing this
      // stale release would tell the mirror to offer work to an agent who is busy.
      const current = await this.reservations.get(agent.agentId).catch(() => undefined);
      if (current && current.token !== agent.token) return;
    }
    // An expired lease was already released by the store (or by sweep): say so once.
    this.emit(runner, 'reservation.released', { agentId: agent.agentId, reason: released ? reason : 'expired' });
    const reservation = { agentId: agent.agentId, sessionId: record.id, token: agent.token, reservedAt: 0, expiresAt: agent.expiresAt };
    await this.mirrorSafely(() => this.mirror?.released(reservation, released ? reason : 'expired'), runner);
  }

  async handOn(runner: TurnRunner, flow: Flow, inputs: Record<string, unknown>, call: CallInfo, id: string): Promise<void> {
    const live = this.newSession(id, flow, call);
    live.record.parentSessionId = runner.session.record.id;
    const child = this.runner(live, inputs, flow);
    this.emit(child, 'session.started', { kind: flow.kind, secure: flow.kind === 'secure', parentSessionId: runner.session.record.id });
    await child.begin();
    runner.commands.push(...child.commands);
    runner.path.push(...child.path);
    runner.trace.push(...child.trace);
    runner.nextSessionId = child.nextSessionId ?? id;
    runner.handedTo = child.handedTo ?? child;
    child.persistCursor();
    this.pending.push(live);
  }

  recordFailure(runner: TurnRunner, kind: string, message: string): void {
    const count = this.abuse.record(kind, runner.session.slot.call.caller);
    if (count !== undefined) this.emit(runner, 'alert', { code: kind, message, count });
  }

  // ---- internals ----

  private logs(level: LogLevel): boolean {
    return this.logger.enabled?.(level) ?? true;
  }

  private flowNamed(name: string): Flow {
    const flow = this.flows.get(name);
    if (!flow) throw new FlowValidationError([`no flow named '${name}' in this runtime`]);
    return flow;
  }

  private newSession(id: string, flow: Flow, call: CallInfo): LiveSession {
    const record: SessionRecord = {
      v: 1,
      id,
      flow: flow.flow,
      kind: flow.kind,
      status: 'active',
      frames: [],
      startedAt: this.clock.now(),
      turns: 1,
    };
    if (flow.kind === 'secure') record.reservation = flow.reservation ?? 'agent';
    return { record, slot: { call: { ...call }, vars: {} }, version: undefined };
  }

  private runner(live: LiveSession, inputs: Record<string, unknown>, flow: Flow): TurnRunner {
    const redactor = this.redactorFor(live);
    live.record.frames.push(createFrame(flow, inputs, live, 0, redactor));
    return new TurnRunner(this, live, redactor);
  }

  /** The session's redactor: the base one plus every secure value it holds and the call's numbers. */
  private redactorFor(live: LiveSession): Redactor {
    const secrets: unknown[] = [];
    for (const vars of Object.values(live.slot.vars)) secrets.push(...Object.values(vars));
    for (const v of Object.values(live.slot.call)) if (typeof v === 'string' && /\d{4}/.test(v)) secrets.push(v);
    return this.baseRedactor.with(secrets.map((s) => (typeof s === 'string' ? s : JSON.stringify(s))));
  }

  /** What a caller hears when a flow cannot go on: the configured apology, then a transfer or a hang-up. */
  private failSafeCommands(): Command[] {
    const out: Command[] = [];
    if (this.failSafe.say) out.push({ type: 'say', text: this.failSafe.say });
    out.push(this.failSafe.transferQueue !== undefined ? { type: 'transfer', queue: this.failSafe.transferQueue } : { type: 'disconnect', reason: 'error' });
    return out;
  }

  /** The stored answer to a repeated request, if this is one. */
  private replayOf(live: LiveSession, requestId: string | undefined, order: number | undefined): Turn | undefined {
    const r = live.record;
    if (!r.replay && !live.slot.replay) return undefined;
    const repeat = requestId !== undefined && r.lastRequestId === requestId;
    const late = !repeat && order !== undefined && r.lastRequestOrder !== undefined && order < r.lastRequestOrder;
    if (!repeat && !late) return undefined;
    try {
      // A live session keeps it in its secure slot (opened already); an ended one, sealed on its own.
      const stored = live.slot.replay ?? (r.replay ? open<Turn>(r.replay, this.secrets) : undefined);
      return stored ? { ...stored, replayed: true, ...(late ? { late: true } : {}) } : undefined;
    } catch {
      return undefined;
    }
  }

  private async complete(runner: TurnRunner): Promise<Turn> {
    runner.persistCursor();
    const turn = runner.result();
    if (runner.requestOrder !== undefined) turn.requestOrder = runner.requestOrder;
    if (runner.requestId !== undefined) {
      // Kept sealed for a repeat of this request. Once the session has ended its secure values
      // are wiped, so a replay of the last turn leaves out what was secure in it.
      // A copy: the caller owns the turn it is given (and may change it); the replay must not move.
      const keep = { ...turn, commands: turn.status === 'ended' ? turn.commands.filter((c) => !isSecureCommand(c)) : [...turn.commands] };
      runner.session.record.lastRequestId = runner.requestId;
      if (runner.requestOrder !== undefined) runner.session.record.lastRequestOrder = runner.requestOrder;
      // A live session's replay rides in its secure slot, sealed with it (one seal a turn);
      // an ended session's slot is wiped, so its replay is sealed on its own.
      if (turn.status === 'ended') {
        runner.session.record.replay = seal(keep, this.secrets);
      } else {
        runner.session.slot.replay = keep;
        delete runner.session.record.replay;
      }
    }
    await this.save(runner.session);
    for (const live of this.pending.splice(0)) await this.save(live);
    if (this.logs('debug')) this.log(runner, 'debug', 'turn', {
      path: turn.path,
      commands: turn.commands.map((c) => c.type),
      status: turn.status,
      ...(turn.end ? { end: turn.end.type } : {}),
    });
    return turn;
  }

  private async save(live: LiveSession): Promise<void> {
    const text = serializeSession(live, this.secrets);
    const ttlMs = live.record.status === 'ended' ? ENDED_TTL_MS : this.sessionTtlMs;
    const id = live.record.id;
    this.openSessions.delete(id);
    const result = await this.store.put(id, text, { expectedVersion: live.version, ttlMs });
    if (!result.ok) throw new ConcurrentTurnError(id);
    live.version = result.version;
    if (this.openSessionsMax > 0 && keepsOpen(live)) {
      this.openSessions.set(id, { text, version: result.version, live });
      if (this.openSessions.size > this.openSessionsMax) this.openSessions.delete(this.openSessions.keys().next().value!);
    }
  }

  /** The stored session, open: the copy this process wrote if the store still holds exactly it. */
  private open(sessionId: string, text: string, version: number): LiveSession {
    const kept = this.openSessions.get(sessionId);
    if (kept && kept.version === version && kept.text === text) return kept.live;
    if (kept) this.openSessions.delete(sessionId);
    return deserializeSession(text, version, this.secrets);
  }

  private emitFor<K extends RuntimeEventName>(
    sessionId: string,
    flow: string,
    redactor: Redactor,
    name: K,
    payload: Omit<RuntimeEventMap[K], keyof EventBase>,
  ): void {
    if (this.events.listenerCount(name) === 0) return;
    const full = redactor.redact({ sessionId, flow, at: this.clock.now(), ...payload }) as unknown as RuntimeEventMap[K];
    (this.events.emit as (n: K, p: RuntimeEventMap[K]) => boolean)(name, full);
  }

  /** A mirror call outside a turn failed: say so (the turn-less twin of mirrorSafely). */
  private mirrorFailed(sessionId: string, flow: string, error: unknown): void {
    this.emitFor(sessionId, flow, this.baseRedactor, 'error', { code: 'MIRROR_FAILED', message: error instanceof Error ? error.message : String(error) });
  }

  private async mirrorSafely(fn: () => Promise<void> | undefined, runner: TurnRunner): Promise<void> {
    try {
      await fn();
    } catch (error) {
      this.emit(runner, 'error', { code: 'MIRROR_FAILED', message: error instanceof Error ? error.message : String(error) });
    }
  }

  /** One turn at a time per session in this process (turns of different sessions run in parallel). */
  private async serialized<T>(sessionId: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(sessionId) ?? Promise.resolve();
    const next = previous.then(fn, fn);
    const tail = next.then(
      () => undefined,
      () => undefined,
    );
    this.locks.set(sessionId, tail);
    try {
      return await next;
    } finally {
      if (this.locks.get(sessionId) === tail) this.locks.delete(sessionId);
    }
  }
}

/** May a session stay open in memory between turns? Not while it holds a secure value or a code. */
function keepsOpen(live: LiveSession): boolean {
  if (live.record.status !== 'active' || live.slot.otp !== undefined) return false;
  for (const index in live.slot.vars) if (Object.keys(live.slot.vars[index]!).length > 0) return false;
  return true;
}

/** A command that carries a secure value (a read-back, a code, a masked number's dial). */
function isSecureCommand(c: Command): boolean {
  return (c.type === 'say' && c.secure === true) || c.type === 'sendSms' || c.type === 'connect' || (c.type === 'collect' && c.secure);
}
