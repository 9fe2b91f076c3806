/**
 * `createRuntime`: runs flows for many calls at once. Sessions live in the session store
 * between turns (restored, advanced, persisted every turn), agent reservations in the
 * reservation store, secure values sealed. Every log record and event is redacted before it
 * leaves. The runtime takes provider-neutral events and answers with commands; adapters do
 * the call I/O.
 */
import { randomUUID } from 'node:crypto';
import { ActionRegistry, type ActionCaller, type DataActionDefinition } from '../actions/data-action.js';
import { programOf } from './program.js';
import { analyseSecurity, type ActionSecurityLookup, type SecurityAnalysis } from '../secure/information-flow.js';
import type { Flow } from '../model/flow.js';
import { checkSecrets, ephemeralKeyRing, seal, type SecretsProvider } from '../secure/crypto.js';
import { DEFAULT_LOCKOUT, MemoryLockoutStore, type LockoutPolicy, type LockoutStore } from '../secure/otp.js';
import { Redactor, type RedactorOptions } from '../secure/redact.js';
import {
  MemoryReservationStore,
  type ReleaseReason,
  type ReservationMirror,
  type ReservationStore,
} from '../secure/reservations.js';
import { MemorySessionStore, type SessionStore } from '../store/session-store.js';
import { MemorySessionLock, type HeldSessionLock, type SessionLock } from '../store/session-lock.js';
import { AbuseMonitor, DEFAULT_ALERT_POLICY, type AlertPolicy } from './alerts.js';
import { systemClock, type Clock } from './clock.js';
import type { FailSafe, RuntimeContext } from './context.js';
import { RuntimeEvents, type EventBase, type RuntimeEventMap, type RuntimeEventName } from './events.js';
import { silentLogger, type LogLevel, type Logger } from './logger.js';
import { deserializeSession, replayContext, serializeSession, type HeldReservation, type LiveSession, type SessionRecord } from './session.js';
import { openStored, salvage } from './session-record.js';
import {
  OUTAGE_END,
  OutageLedger,
  STORE_UNAVAILABLE,
  STORE_UNAVAILABLE_MESSAGE,
  endAfterOutage,
  isStoreOutage,
  wentOnAfter,
  type OutageEntry,
} from './recovery.js';
import { TurnRunner, createFrame } from './turn.js';
import { AgentBusyError, CallMismatchError, ConcurrentTurnError, RequestOutOfOrderError, FlowInputError, FlowValidationError, SessionNotFoundError, SessionRecordError, type SessionRecordErrorCode } from './errors.js';
import { inputProblems } from './inputs.js';
import { MAX_VALUE_DEPTH, nestsDeeperThan } from './value-depth.js';
import { validateFlows } from './validate-flows.js';

export { AgentBusyError, CallMismatchError, ConcurrentTurnError, RequestOutOfOrderError, FlowInputError, FlowValidationError, SessionNotFoundError, SessionRecordError, type SessionRecordErrorCode };
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
  /**
   * Keys that seal the secure slot (default: one random key for this process). The current key
   * is checked once here: missing, or not 32 bytes, and `createRuntime` throws `SecretsError`.
   */
  secrets?: SecretsProvider;
  redaction?: RedactorOptions;
  /** How long an agent stays reserved at most, ms (default 15 minutes). */
  reservationLeaseMs?: number;
  /** How long an idle session is kept, ms (default 4 hours). */
  sessionTtlMs?: number;
  /** States one turn may run without waiting on the caller (default 1000). */
  maxStepsPerTurn?: number;
  /**
   * Subflow calls (`callFlow`) one session may have in progress at once (default 16). A call
   * beyond it fails with `CALL_DEPTH` (the flow's onError, else the fail-safe): a flow that
   * calls itself, directly or through others, cannot grow the session without bound.
   */
  maxCallDepth?: number;
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
  /**
   * Serializes the turns of one session across workers (`RedisSessionLock` from
   * `@callflow/flow-core/redis`). Without it, turns of one session run one at a time in this
   * process only, and across processes the store's version check refuses the second write.
   */
  sessionLock?: SessionLock;
  /**
   * How long a turn's session lock lives unless extended, ms (default 5 s). It is extended every
   * third of that while the turn runs, so a slow data action keeps it; a worker that dies mid-turn
   * holds the call up for at most this long (well inside the 15 s Twilio waits).
   */
  sessionLockTtlMs?: number;
  /** How long a turn waits for the session lock before giving up with `ConcurrentTurnError`, ms (default 4 s). */
  sessionLockWaitMs?: number;
  /**
   * Every this many ms, end the sessions a store outage left behind (and release their agents)
   * once the store answers again. Default: only when `sweep()` is called.
   */
  recoveryIntervalMs?: number;
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
  /**
   * Accept only the session's next request: a `requestOrder` more than one past the last one
   * answered (past 0 for a session that has answered none) gets the last turn again (`replayed`,
   * `ahead`), and nothing runs; with no last turn, `RequestOutOfOrderError`.
   */
  strictOrder?: boolean;
  /**
   * The provider's call the request came with: a live session of another call (its
   * `call.callId`) refuses it with `CallMismatchError` before anything runs or is answered from
   * it. An ended session no longer holds its call; it runs nothing whoever asks.
   */
  callId?: string;
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
  /**
   * End reservations whose lease ran out, and the sessions whose turn failed on an unreachable
   * store once the store answers again (call it on a timer); how many reservations were released.
   */
  sweep(): Promise<number>;
  /** Release every reservation this runtime holds, and stop the recovery timer. */
  shutdown(): Promise<void>;
  /** A redacted view of a stored session. */
  inspect(sessionId: string): Promise<SessionView | undefined>;
}

const ENDED_TTL_MS = 10 * 60_000;
/** A turn whose write was refused is read again and run again at most this often (when nothing irreversible ran). */
const MAX_RERUNS = 2;
const WAIT_FOREVER = { ttlMs: Infinity, waitMs: Infinity };

/** One turn in progress: the sessions it touches (its own and those it hands on to) share it. */
interface TurnScope {
  /** A data action ran, an agent was released, a failure was counted: the turn cannot simply run again. */
  irreversible: boolean;
  /** Sessions started during the turn (hand-ons), saved after the turn's own session. */
  pending: LiveSession[];
  /** The ids registered for this scope. */
  ids: string[];
  /** The session as read, once it was (for reporting a store outage). */
  live?: LiveSession;
  /** A store outage was reported during the turn already. */
  outage: boolean;
  /** The request the turn answers (handle). */
  request?: HandleOptions;
}

/** Build a runtime. Throws FlowValidationError when a flow cannot run, SecretsError when the current key is unusable. */
export function createRuntime(options: RuntimeOptions): Runtime {
  return new CallflowRuntime(options);
}

/**
 * @internal The redactor of the event whose listeners are running — the session's secure values
 * and the patterns — for a listener that writes out what it composes from the event (the
 * simulator's transcript lines). Undefined outside a listener.
 */
export function redactorOfEvent(runtime: Runtime): Redactor | undefined {
  return runtime instanceof CallflowRuntime ? runtime.emitting : undefined;
}

class CallflowRuntime implements Runtime, RuntimeContext {
  readonly events = new RuntimeEvents((event, error, where) => this.listenerFailed(event, error, where));
  /** The redactor of the event being emitted, while its listeners run (see redactorOfEvent; and for what a listener throws). */
  emitting: Redactor | undefined;
  readonly flows: Map<string, Flow>;
  readonly actions: ActionCaller;
  readonly clock: Clock;
  readonly maxStepsPerTurn: number;
  readonly maxCallDepth: number;
  readonly failSafe: FailSafe;
  readonly lockouts: LockoutStore;
  readonly lockoutPolicy: LockoutPolicy;
  readonly otp: { digits: number; ttlMs: number };
  private readonly actionSecurity: ActionSecurityLookup;
  private securityCache: SecurityAnalysis | undefined;
  private readonly store: SessionStore;
  private readonly reservations: ReservationStore;
  private readonly mirror: ReservationMirror | undefined;
  private readonly logger: Logger;
  private readonly secrets: SecretsProvider;
  private readonly baseRedactor: Redactor;
  private readonly leaseMs: number;
  private readonly sessionTtlMs: number;
  private readonly abuse: AbuseMonitor;
  /** Turns of one session in this process, one at a time, in order. */
  private readonly localLock = new MemorySessionLock();
  /** Turns of one session across processes (when configured). */
  private readonly sessionLock: SessionLock | undefined;
  private readonly lockTtlMs: number;
  private readonly lockWaitMs: number;
  /** The turn in progress by session id. */
  private readonly scopes = new Map<string, TurnScope>();
  /** Sessions a store outage left behind, to end once the store answers. */
  private readonly outages = new OutageLedger();
  private recoveryRun: Promise<number> | undefined;
  private readonly recoveryTimer: ReturnType<typeof setInterval> | undefined;
  /** Reservations this runtime granted: agentId → session, token, lease end. */
  private readonly held = new Map<string, { sessionId: string; token: string; expiresAt: number; flow: string }>();
  /** Sessions this process wrote last, open (see `sessionCacheSize`); oldest first. */
  private readonly openSessions = new Map<string, { text: string; version: number; live: LiveSession }>();
  private readonly openSessionsMax: number;
  private readonly stopping = new AbortController();

  /**
   * The information-flow analysis of the flows, made on first use (so actions registered after
   * the runtime was created are seen). Names it finds secure or masked are sealed like declared ones.
   */
  get security(): SecurityAnalysis {
    if (!this.securityCache) {
      this.securityCache = analyseSecurity(this.flows.values(), this.actionSecurity);
      for (const flow of this.flows.values()) {
        const facts = this.securityCache.flow(flow.flow);
        if (facts) programOf(flow).adoptSealed(facts.sealed);
      }
    }
    return this.securityCache;
  }

  constructor(options: RuntimeOptions) {
    this.flows = validateFlows(options.flows);
    const actions = Array.isArray(options.actions) || options.actions === undefined
      ? new ActionRegistry((options.actions ?? []) as readonly DataActionDefinition[])
      : (options.actions as ActionCaller);
    this.actionSecurity = (name) => actions.securityOf?.(name);
    // A data action that ran is why a refused turn cannot just be run again.
    this.actions = {
      call: async (name, input, callOptions) => {
        this.markIrreversible(callOptions.sessionId);
        // Shutting down aborts the calls in flight (their AbortSignal), so no turn outlives it by a time-out.
        const outcome = await actions.call(name, input, { signal: this.stopping.signal, ...callOptions });
        // Whatever answers (a registry, a simulator's mocks), the turn only gets what it can walk.
        if (outcome.outcome !== 'success' || !nestsDeeperThan(outcome.output)) return outcome;
        const message = `data action '${name}': output nests lists and maps more than ${MAX_VALUE_DEPTH} levels deep`;
        return { outcome: 'error', code: 'ACTION_OUTPUT_INVALID', message, attempts: outcome.attempts, ms: outcome.ms };
      },
    };
    this.clock = options.clock ?? systemClock;
    this.store = options.store ?? new MemorySessionStore(this.clock);
    this.reservations = options.reservations ?? new MemoryReservationStore(this.clock);
    this.mirror = options.reservationMirror;
    this.logger = options.logger ?? silentLogger;
    this.secrets = options.secrets ?? ephemeralKeyRing();
    // At start-up, not on the first secure value a caller keys in.
    checkSecrets(this.secrets);
    this.baseRedactor = new Redactor(options.redaction);
    this.leaseMs = options.reservationLeaseMs ?? 15 * 60_000;
    this.sessionTtlMs = options.sessionTtlMs ?? 4 * 60 * 60_000;
    this.maxStepsPerTurn = options.maxStepsPerTurn ?? 1000;
    const depth = options.maxCallDepth;
    this.maxCallDepth = depth !== undefined && depth >= 0 ? Math.floor(depth) : 16;
    this.failSafe = options.failSafe ?? { say: 'Sorry, something went wrong. Goodbye.' };
    this.lockouts = options.lockoutStore ?? new MemoryLockoutStore(this.clock);
    this.lockoutPolicy = { ...DEFAULT_LOCKOUT, ...options.lockout };
    this.abuse = new AbuseMonitor(this.clock, { ...DEFAULT_ALERT_POLICY, ...options.alerts });
    this.otp = { digits: options.otp?.digits ?? 6, ttlMs: options.otp?.ttlMs ?? 5 * 60_000 };
    this.openSessionsMax = Math.max(0, Math.floor(options.sessionCacheSize ?? 5000));
    this.sessionLock = options.sessionLock;
    this.lockTtlMs = options.sessionLockTtlMs ?? 5_000;
    this.lockWaitMs = options.sessionLockWaitMs ?? 4_000;
    if (options.recoveryIntervalMs !== undefined) {
      this.recoveryTimer = setInterval(() => void this.recover().catch(() => undefined), Math.max(1, options.recoveryIntervalMs));
      // Recovery must never keep a process alive on its own.
      this.recoveryTimer.unref?.();
    }
  }

  // ---- public API ----

  async startSession(options: StartSessionOptions): Promise<Turn> {
    const flow = this.flowNamed(options.flow);
    this.checkInputs(flow, options.inputs);
    const id = options.sessionId ?? randomUUID();
    // A fresh random id is nobody else's: only a given one needs the shared session lock.
    return this.turn(id, options.sessionId !== undefined, async (scope) => {
      const live = this.newSession(id, flow, options.call ?? {});
      scope.live = live;
      const runner = this.runner(live, options.inputs ?? {}, flow);
      this.emit(runner, 'session.started', { kind: flow.kind, secure: flow.kind === 'secure' });
      await runner.begin();
      return this.complete(runner);
    });
  }

  async startSecureSession(options: SecureSessionOptions): Promise<Turn> {
    const flow = this.flowNamed(options.flow);
    if (flow.kind !== 'secure') throw new FlowValidationError([`${flow.flow}: an agent can only start a secure flow (this one is kind: ${flow.kind})`]);
    // Before anything is reserved: a wrong hand-over is the agent app's to hear about, not the caller's.
    this.checkInputs(flow, options.inputs);
    const id = options.sessionId ?? randomUUID();
    return this.turn(id, options.sessionId !== undefined, async (scope) => {
      const live = this.newSession(id, flow, options.call ?? {});
      scope.live = live;
      live.record.conversationId = options.conversationId;
      if (options.agentId) live.record.handedOverBy = options.agentId;
      const runner = this.runner(live, options.inputs ?? {}, flow);
      this.emit(runner, 'session.started', { kind: flow.kind, secure: true });
      if (options.reserveAgent && (flow.reservation ?? 'agent') === 'agent') {
        const r = await this.reservations.reserve(options.agentId, id, this.leaseMs);
        if (!r) throw new AgentBusyError(options.agentId);
        this.markIrreversible(id);
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
    return this.turn(sessionId, true, async (scope) => {
      scope.request = options;
      for (let attempt = 0; ; attempt++) {
        try {
          return await this.runTurn(sessionId, event, options, scope);
        } catch (error) {
          // The write was refused: another worker wrote the session first (its session lock
          // lapsed, or none is shared). When nothing irreversible ran, read the session again
          // and run the turn on it: a request the other turn answered is then a replay.
          if (!(error instanceof ConcurrentTurnError) || scope.irreversible || attempt >= MAX_RERUNS) throw error;
          scope.pending.length = 0;
        }
      }
    });
  }

  private async runTurn(sessionId: string, event: CallEvent, options: HandleOptions, scope: TurnScope): Promise<Turn> {
    const stored = await this.store.get(sessionId);
    if (!stored) throw new SessionNotFoundError(sessionId);
    let live: LiveSession;
    let replay: Turn | undefined;
    try {
      live = this.open(sessionId, stored.value, stored.version);
      // An ended session's slot (the call with it) is wiped: it answers only its own end, and runs nothing.
      if (options.callId !== undefined && live.record.status !== 'ended' && live.slot.call.callId !== options.callId) throw new CallMismatchError(sessionId);
      replay = this.replayOf(live, options.requestId, options.requestOrder, options.strictOrder === true);
    } catch (error) {
      if (error instanceof SessionRecordError) await this.refuseRecord(sessionId, stored.value, error);
      throw error;
    }
    scope.live = live;
    if (replay) return replay;
    const runner = new TurnRunner(this, live, this.redactorFor(live));
    if (live.record.status === 'ended') {
      // A transfer the session ended with did not connect: the caller is still there and
      // gets the fail-safe rather than silence.
      // The same for a return to the agent that did not connect (the agent did not answer).
      const handedOn = live.record.end?.type === 'transfer' || live.record.end?.type === 'returnToAgent';
      if (event.type === 'transferResult' && event.status !== 'completed' && handedOn) {
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
  }

  async isReserved(agentId: string): Promise<boolean> {
    return (await this.reservations.get(agentId)) !== undefined;
  }

  async sweep(): Promise<number> {
    let released = await this.recover();
    const now = this.clock.now();
    for (const [agentId, h] of [...this.held]) {
      if (h.expiresAt > now) continue;
      this.held.delete(agentId);
      // The lease ended in the store on its own: an unreachable store changes nothing to say.
      await this.reservations.release(agentId, h.token).catch((error: unknown) => {
        if (!isStoreOutage(error)) throw error;
      });
      released++;
      this.emitFor(h.sessionId, h.flow, this.baseRedactor, 'reservation.released', { agentId, reason: 'expired' });
      const reservation = { agentId, sessionId: h.sessionId, token: h.token, reservedAt: 0, expiresAt: h.expiresAt };
      await this.mirror?.released(reservation, 'expired').catch((error: unknown) => this.mirrorFailed(h.sessionId, h.flow, error));
    }
    return released;
  }

  async shutdown(): Promise<void> {
    this.stopping.abort();
    this.openSessions.clear();
    if (this.recoveryTimer !== undefined) clearInterval(this.recoveryTimer);
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
    const live = deserializeSession(sessionId, stored.value, stored.version, this.secrets, this.flows);
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
    this.markIrreversible(record.id);
    // Fix: only this reservation's own entry leaves `held`. After its lease ran out the agent
    // may hold a newer reservation; deleting that one meant shutdown never released it.
    const mine = this.held.get(agent.agentId);
    if (mine?.token === agent.token) this.held.delete(agent.agentId);
    let released: boolean;
    try {
      released = await this.reservations.release(agent.agentId, agent.token);
    } catch (error) {
      if (!isStoreOutage(error)) released = false;
      else {
        // Whether the agent is free is unknown: announcing it would offer a reserved agent
        // work. The recovery releases it once the store answers (or its lease ends it).
        if (mine?.token === agent.token) this.held.set(agent.agentId, mine);
        const scope = this.scopes.get(record.id);
        this.storeFailed(scope, record.id, runner.session, agent, !scope?.outage);
        if (scope) scope.outage = true;
        return;
      }
    }
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
    // The recording is the call's: a flow handed on to inherits its pause.
    if (runner.session.record.recordingPaused) live.record.recordingPaused = true;
    const child = this.runner(live, inputs, flow);
    this.emit(child, 'session.started', { kind: flow.kind, secure: flow.kind === 'secure', parentSessionId: runner.session.record.id });
    child.continueStepsOf(runner);
    await child.begin();
    runner.commands.push(...child.commands);
    runner.path.push(...child.path);
    runner.trace.push(...child.trace);
    runner.nextSessionId = child.nextSessionId ?? id;
    runner.handedTo = child.handedTo ?? child;
    child.persistCursor();
    const scope = this.scopeOf(runner);
    scope.pending.push(live);
    // The child's data actions belong to this turn too.
    scope.ids.push(id);
    this.scopes.set(id, scope);
  }

  recordFailure(runner: TurnRunner, kind: string, message: string): void {
    // A counted failure (a lock-out step) must not be counted twice by a turn run again.
    this.markIrreversible(runner.session.record.id);
    const count = this.abuse.record(kind, runner.session.slot.call.caller);
    if (count !== undefined) this.emit(runner, 'alert', { code: kind, message, count });
  }

  // ---- internals ----

  private logs(level: LogLevel): boolean {
    return this.logger.enabled?.(level) ?? true;
  }

  private checkInputs(flow: Flow, inputs: Readonly<Record<string, unknown>> | undefined): void {
    const problems = inputProblems(flow, inputs ?? {});
    if (problems.length > 0) throw new FlowInputError(problems);
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
    void this.security; // decides which inputs are sealed, before the first frame is made
    live.record.frames.push(createFrame(flow, inputs, live, 0, redactor));
    return new TurnRunner(this, live, redactor);
  }

  /** The session's redactor: the base one plus every secure value it holds and the call's numbers. */
  private redactorFor(live: LiveSession): Redactor {
    const secrets: unknown[] = [];
    for (const vars of Object.values(live.slot.vars)) secrets.push(...Object.values(vars));
    for (const v of Object.values(live.slot.call)) if (typeof v === 'string' && /\d{4}/.test(v)) secrets.push(v);
    return this.baseRedactor.with(secrets);
  }

  /** What a caller hears when a flow cannot go on: the configured apology, then a transfer or a hang-up. */
  private failSafeCommands(): Command[] {
    const out: Command[] = [];
    if (this.failSafe.say) out.push({ type: 'say', text: this.failSafe.say });
    out.push(this.failSafe.transferQueue !== undefined ? { type: 'transfer', queue: this.failSafe.transferQueue } : { type: 'disconnect', reason: 'error' });
    return out;
  }

  /** The stored answer to a repeated request, if this is one. */
  private replayOf(live: LiveSession, requestId: string | undefined, order: number | undefined, strict: boolean): Turn | undefined {
    const r = live.record;
    const ahead = strict && order !== undefined && r.status !== 'ended' && order > (r.lastRequestOrder ?? 0) + 1;
    if (!r.replay && !live.slot.replay) {
      if (ahead) throw new RequestOutOfOrderError(r.id);
      return undefined;
    }
    const repeat = requestId !== undefined && r.lastRequestId === requestId;
    const late = !repeat && order !== undefined && r.lastRequestOrder !== undefined && order < r.lastRequestOrder;
    if (!repeat && !late && !ahead) return undefined;
    // A live session keeps it in its secure slot (opened already); an ended one, sealed on its
    // own for this session: one that does not open here is refused like a damaged slot.
    const stored = live.slot.replay ?? (r.replay ? openStored<Turn>(r.replay, this.secrets, replayContext(r.id), r.id, 'replay') : undefined);
    if (ahead && !repeat) {
      if (!stored) throw new RequestOutOfOrderError(r.id);
      return { ...stored, replayed: true, ahead: true };
    }
    return stored ? { ...stored, replayed: true, ...(late ? { late: true } : {}) } : undefined;
  }

  private async complete(runner: TurnRunner): Promise<Turn> {
    runner.persistCursor();
    const turn = runner.result();
    if (runner.requestOrder !== undefined) turn.requestOrder = runner.requestOrder;
    if (runner.requestId !== undefined) {
      // Kept for a repeat of this request. Once a session has ended its secure values are
      // wiped, so its replay of the last turn leaves out what was secure in it.
      // A copy: the caller owns the turn it is given (and may change it); the replay must not move.
      const copy = (ended: boolean): Turn => ({ ...turn, commands: ended ? turn.commands.filter((c) => !isSecureCommand(c)) : [...turn.commands] });
      this.keepReplay(runner.session, copy(turn.status === 'ended' || runner.session.record.status === 'ended'), runner.requestId, runner.requestOrder);
      // The session the call was handed on to in this turn answers a repeat of the request too:
      // the first one has ended, and its replay lacks the secure prompts the new one asked.
      const next = this.scopeOf(runner).pending.find((p) => p.record.id === turn.nextSessionId);
      if (next) this.keepReplay(next, copy(next.record.status === 'ended'), runner.requestId, runner.requestOrder);
    }
    await this.save(runner.session);
    for (const live of this.scopeOf(runner).pending.splice(0)) await this.save(live);
    if (this.logs('debug')) this.log(runner, 'debug', 'turn', {
      path: turn.path,
      commands: turn.commands.map((c) => c.type),
      status: turn.status,
      ...(turn.end ? { end: turn.end.type } : {}),
    });
    return turn;
  }

  /** Keep `turn` as the answer to a repeat of request `requestId` of this session. */
  private keepReplay(live: LiveSession, turn: Turn, requestId: string, requestOrder: number | undefined): void {
    live.record.lastRequestId = requestId;
    if (requestOrder !== undefined) live.record.lastRequestOrder = requestOrder;
    // A live session's replay rides in its secure slot, sealed with it (one seal a turn);
    // an ended session's slot is wiped, so its replay is sealed on its own.
    if (live.record.status === 'ended') {
      live.record.replay = seal(turn, this.secrets, replayContext(live.record.id));
    } else {
      live.slot.replay = turn;
      delete live.record.replay;
    }
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
    return deserializeSession(sessionId, text, version, this.secrets, this.flows);
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
    const outer = this.emitting;
    this.emitting = redactor;
    try {
      (this.events.emit as (n: K, p: RuntimeEventMap[K]) => boolean)(name, full);
    } finally {
      this.emitting = outer;
    }
  }

  /**
   * A listener threw (RuntimeEvents caught it): an error log record with the event's name and
   * the error's first line, redacted; never the payload, and never an `error` event (whose
   * listener might throw in turn). The call goes on.
   */
  private listenerFailed(event: RuntimeEventName, error: unknown, where: { sessionId?: string; flow?: string }): void {
    if (!this.logs('error')) return;
    const redactor = this.emitting ?? this.baseRedactor;
    const message = error instanceof Error ? error.message : String(error);
    this.logger.write({
      level: 'error',
      msg: `a listener of the runtime event '${event}' threw; the call went on without it`,
      fields: redactor.redact({ ...where, event, error: redactor.redactText((message.split('\n')[0] ?? '').trim()) }),
    });
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

  // ---- turns, locks and store outages ----

  /**
   * Run one turn of a session: one at a time per session (in this process, and across
   * processes when a session lock is shared and `shared`), with its scope, and with a store
   * outage reported (`error` STORE_UNAVAILABLE) and the session remembered for recovery.
   */
  private async turn<T>(sessionId: string, shared: boolean, fn: (scope: TurnScope) => Promise<T>): Promise<T> {
    const scope: TurnScope = { irreversible: false, pending: [], ids: [sessionId], outage: false };
    try {
      const result = await this.serialized(sessionId, shared, async () => {
        this.scopes.set(sessionId, scope);
        try {
          return await fn(scope);
        } finally {
          for (const id of scope.ids) if (this.scopes.get(id) === scope) this.scopes.delete(id);
        }
      });
      // The session went on after an outage: there is nothing left to recover.
      if (this.outages.size > 0 && !scope.outage) this.outages.forget(sessionId);
      return result;
    } catch (error) {
      if (isStoreOutage(error)) this.storeFailed(scope, sessionId, scope.live, undefined, !scope.outage);
      throw error;
    }
  }

  /** One turn at a time per session in this process, and across processes when `shared` and a session lock is configured. */
  private async serialized<T>(sessionId: string, shared: boolean, fn: () => Promise<T>, waitMs = this.lockWaitMs): Promise<T> {
    const local = (await this.localLock.acquire(sessionId, WAIT_FOREVER)) as HeldSessionLock;
    try {
      if (!shared || this.sessionLock === undefined) return await fn();
      const held = await this.sessionLock.acquire(sessionId, { ttlMs: this.lockTtlMs, waitMs });
      if (!held) throw new ConcurrentTurnError(sessionId, 'busy');
      // A long turn (a slow data action) keeps its lock; a worker that dies loses it after the TTL.
      const keepAlive = setInterval(() => void held.extend(this.lockTtlMs).catch(() => false), Math.max(1, Math.floor(this.lockTtlMs / 3)));
      keepAlive.unref?.();
      try {
        return await fn();
      } finally {
        clearInterval(keepAlive);
        // A release that fails (the store went away) leaves the lock to its TTL.
        await held.release().catch(() => undefined);
      }
    } finally {
      await local.release();
    }
  }

  private scopeOf(runner: TurnRunner): TurnScope {
    const scope = this.scopes.get(runner.session.record.id);
    if (!scope) throw new Error('callflow: a session was changed outside of a turn');
    return scope;
  }

  private markIrreversible(sessionId: string): void {
    const scope = this.scopes.get(sessionId);
    if (scope) scope.irreversible = true;
  }

  /** A store failed under a turn: say so (once a turn, no store message: it may name hosts) and remember the session. */
  private storeFailed(scope: TurnScope | undefined, sessionId: string, live: LiveSession | undefined, agent: HeldReservation | undefined, announce: boolean): void {
    const flow = live?.record.flow ?? '';
    const request = scope?.request;
    this.outages.remember({
      sessionId,
      flow,
      ...(live?.version !== undefined ? { version: live.version } : {}),
      ...(request?.requestId !== undefined ? { requestId: request.requestId } : {}),
      ...(request?.requestOrder !== undefined ? { requestOrder: request.requestOrder } : {}),
      ...(agent ? { agent } : {}),
    });
    if (announce) this.emitFor(sessionId, flow, this.baseRedactor, 'error', { code: STORE_UNAVAILABLE, message: STORE_UNAVAILABLE_MESSAGE });
  }

  /**
   * A stored record was refused (`SessionRecordError`): say so (`error` with its code; the
   * message names no value of the record) and let go of the agent it holds, when the
   * reservation store still has that agent reserved for this session under that token (a
   * record's word alone releases nobody). The record is left as it is for a person to look at:
   * every turn of it is refused, and its time to live removes it. How many agents it released.
   */
  private async refuseRecord(sessionId: string, text: string, error: SessionRecordError): Promise<number> {
    this.openSessions.delete(sessionId);
    const { flow, agent } = salvage(text, this.flows);
    this.emitFor(sessionId, flow, this.baseRedactor, 'error', { code: error.code, message: error.message });
    // The record's reservation, and any this process granted the session (a record too damaged to name it).
    const claims = agent ? [agent] : [];
    for (const [agentId, h] of this.held) if (h.sessionId === sessionId && h.token !== agent?.token) claims.push({ agentId, token: h.token });
    let released = 0;
    for (const { agentId, token } of claims) {
      try {
        const current = await this.reservations.get(agentId);
        if (current?.sessionId !== sessionId || current.token !== token) continue;
        if (await this.releaseByToken(sessionId, flow, { agentId, token, expiresAt: current.expiresAt }, this.baseRedactor)) released++;
      } catch (failure) {
        // Unreachable: the recovery releases it once the store answers. Anything else: its lease ends it.
        if (isStoreOutage(failure)) this.storeFailed(this.scopes.get(sessionId), sessionId, undefined, { agentId, token, expiresAt: 0 }, true);
      }
    }
    return released;
  }

  /** End what store outages left behind, one run at a time; how many agents it released. */
  private recover(): Promise<number> {
    if (this.outages.size === 0) return Promise.resolve(0);
    this.recoveryRun ??= this.recoverAll().finally(() => {
      this.recoveryRun = undefined;
    });
    return this.recoveryRun;
  }

  private async recoverAll(): Promise<number> {
    let released = 0;
    for (const entry of this.outages.list()) {
      try {
        released += await this.recoverSession(entry);
        this.outages.forget(entry.sessionId);
      } catch (error) {
        // Still unreachable: the next sweep (or tick) tries again. Busy: a turn of it runs now.
        if (isStoreOutage(error)) break;
        if (error instanceof ConcurrentTurnError) continue;
        // It cannot be ended here (its flow is not loaded, its slot does not open): its TTL ends it.
        this.outages.forget(entry.sessionId);
        // Its code or type only: a parse error's message can quote the stored text.
        const why = (error as { code?: unknown } | null)?.code ?? (error instanceof Error ? error.name : 'unexpected error');
        this.emitFor(entry.sessionId, entry.flow, this.baseRedactor, 'error', {
          code: 'RECOVERY_FAILED',
          message: `the session could not be ended after a store outage (${String(why)}); its time to live ends it`,
        });
      }
    }
    return released;
  }

  /** Release what the failed turn held, and end the session if it was left active; how many agents it released. */
  private async recoverSession(entry: OutageEntry): Promise<number> {
    let released = 0;
    if (entry.agent) {
      if (await this.releaseByToken(entry.sessionId, entry.flow, entry.agent, this.baseRedactor)) released++;
      entry.agent = undefined;
    }
    // No wait for a lock another turn holds (or the failed turn left to its TTL): the next round tries again.
    return this.serialized(entry.sessionId, true, async () => {
      const stored = await this.store.get(entry.sessionId);
      if (!stored) return released;
      let live: LiveSession;
      try {
        live = deserializeSession(entry.sessionId, stored.value, stored.version, this.secrets, this.flows);
      } catch (error) {
        if (!(error instanceof SessionRecordError)) throw error;
        return released + (await this.refuseRecord(entry.sessionId, stored.value, error));
      }
      const record = live.record;
      // Ended meanwhile (a hang-up), or a turn ran after the outage: it is not ours to end.
      if (record.status === 'ended' || wentOnAfter(entry, { version: stored.version, record })) return released;
      const redactor = this.redactorFor(live);
      // The agent first: a write that fails next leaves the session to the next try, never the agent reserved.
      if (record.agent && (await this.releaseByToken(record.id, record.flow, record.agent, redactor))) released++;
      endAfterOutage(live);
      await this.save(live);
      if (record.kind === 'secure') this.emitFor(record.id, record.flow, redactor, 'secure.exited', { reason: OUTAGE_END.type });
      this.emitFor(record.id, record.flow, redactor, 'session.ended', { end: OUTAGE_END });
      return released;
    }, 0);
  }

  /** Release a reservation by its token (after an outage, for a refused record); true when this released it (then it is announced). */
  private async releaseByToken(sessionId: string, flow: string, agent: HeldReservation, redactor: Redactor): Promise<boolean> {
    const released = await this.reservations.release(agent.agentId, agent.token);
    const mine = this.held.get(agent.agentId);
    // A lease that ran out during the outage stays for sweep to announce as expired.
    if (mine?.token === agent.token && (released || mine.expiresAt > this.clock.now())) this.held.delete(agent.agentId);
    if (!released) return false;
    this.emitFor(sessionId, flow, redactor, 'reservation.released', { agentId: agent.agentId, reason: 'error' });
    const reservation = { agentId: agent.agentId, sessionId, token: agent.token, reservedAt: 0, expiresAt: agent.expiresAt };
    await this.mirror?.released(reservation, 'error').catch((error: unknown) => this.mirrorFailed(sessionId, flow, error));
    return true;
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
