/**
 * Twilio Voice webhooks → runtime events, runtime turns → TwiML. Framework-neutral: a core
 * `handle(WebhookRequest)` with thin node:http and fetch wrappers. Every request is checked
 * against Twilio's signature before anything else (403, no session touched). The session and a
 * turn counter travel in the action URLs (`/voice/:sessionId/:turn`), and the turn counter is
 * the runtime's `requestId`, so a retried callback gets the same TwiML and runs nothing twice.
 * Turns of one call that meet on two workers at once are tried again here (`ConcurrentTurnError`):
 * the request id makes the retry of a request the other worker already answered a replay.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CallEvent, CallInfo, Clock, HandleOptions, Logger, LogLevel, Runtime, Turn } from '@callflow/flow-core';
import {
  BodyTooLargeError,
  param,
  parseForm,
  readFetchBody,
  readNodeBody,
  signatureValid,
  type FormParams,
  type WebhookRequest,
  type WebhookResponse,
} from './http.js';
import { RecordingNotPausedError, type RecordingMode } from './recording.js';
import { RefusalLog } from './refusals.js';
import { CallEndedError, CallInSessionError, MemoryCallRegistry, type CallRegistry } from './calls.js';
import type { TwilioRestPort } from './rest.js';
import { DIAL_STATUS, TERMINAL_CALL_STATUSES, lookUp, transferOutcomeOf } from './outcomes.js';
import {
  DEFAULT_APOLOGY,
  apologyTwiml,
  emptyTwiml,
  failSafeTwiml,
  hangupTwiml,
  holdTwiml,
  renderTurn,
  type RestSideEffect,
  type ReturnToAgentHook,
  type TaskRouterOptions,
} from './twiml.js';

/** The flow a called number runs, with its inputs. */
export interface FlowChoice {
  flow: string;
  inputs?: Record<string, unknown>;
}

/** Something the webhook could not do; never carries a secure value or a stack trace. */
export interface WebhookProblem {
  code: string;
  message: string;
  sessionId?: string;
}

/** How the Twilio webhook is put together. */
export interface TwilioWebhookOptions {
  runtime: Runtime;
  /** The account's auth token: the key of `X-Twilio-Signature`. */
  authToken: string;
  /** The public URL the routes are mounted under, as configured in Twilio (e.g. `https://ivr.example.com/twilio`). */
  publicBaseUrl: string;
  /** The flow for a called number (`To`); undefined: the call is apologised to and hung up. */
  resolveFlow?: (calledNumber: string, params: Readonly<FormParams>) => FlowChoice | string | undefined | Promise<FlowChoice | string | undefined>;
  /** A fixed map of called numbers (E.164) to flows, used when there is no `resolveFlow`. */
  flowByNumber?: Readonly<Record<string, FlowChoice | string>>;
  /**
   * Performs recording pause/resume and SMS (see `twilioRest`). Without it an SMS is reported and
   * taken as failed, and — unless `recording` is `none` — a secure flow is not entered.
   */
  rest?: TwilioRestPort;
  /**
   * Whether calls may be recorded (default `pause`: they may be, and a secure flow is entered
   * only once `rest` confirmed the recording paused), or the deployment declares that none is
   * (`none`: pause and resume are skipped). See `RecordingMode`.
   */
  recording?: RecordingMode;
  /**
   * Where the webhook writes its own log lines (flow-core's logger port; nothing is written
   * without it): every reported problem (warn; `RECORDING_NOT_PAUSED` at error) and refused
   * requests (warn, at most one line per kind per `refusalLogIntervalMs`).
   */
  logger?: Logger;
  /** At most one log line per kind of refused request (403, 405, 413) in this many ms (default 60 000). */
  refusalLogIntervalMs?: number;
  /** The clock the refusal log's interval is measured with (default: the system clock). */
  clock?: Clock;
  /** TaskRouter workflow(s) for `transfer: { queue }`. */
  taskRouter?: TaskRouterOptions;
  /** The Pay Connector `<Pay>` charges through (flows with a `pay` state). */
  paymentConnector?: string;
  /** Caller id for transfers to a number. */
  transferCallerId?: string;
  /** How `returnToAgent` reaches the agent (default `<Dial><Client>agentId</Client></Dial>`). */
  returnToAgent?: ReturnToAgentHook;
  /** CallSid → session (default: in memory, for one process, remembering a call for `callRetentionMs`). */
  calls?: CallRegistry;
  /**
   * How long the default in-memory registry remembers a call after its last change, ms (default
   * `DEFAULT_CALL_RETENTION_MS`, 25 hours): a retried new-call webhook within it gets its first answer.
   */
  callRetentionMs?: number;
  /** Largest accepted body, bytes (default 64 KiB). */
  maxBodyBytes?: number;
  /** Spoken before hanging up when a call cannot go on (and no fallback transfer is configured). */
  apology?: string;
  /**
   * Where a call that cannot go on is put through — the fallback URL (`POST /fallback`), a session
   * store outage, any unexpected failure: this queue (`<Enqueue>`, through `taskRouter` when
   * configured). Without it and without `fallbackNumber`: an apology and `<Hangup/>`.
   */
  fallbackQueue?: string;
  /** Instead of a queue: `<Dial>` this number (E.164; `transferCallerId` as caller id). */
  fallbackNumber?: string;
  /** Spoken before the fallback transfer. */
  fallbackApology?: string;
  /** Told about every problem (redacted: codes and runtime messages, no request values). */
  onProblem?: (problem: WebhookProblem) => void;
  /**
   * How often a turn is tried again when another worker's turn of the same call got in the way
   * (`ConcurrentTurnError`), default 2. Keep (retries + 1) × the runtime's `sessionLockWaitMs`
   * well under the 15 s Twilio waits for an answer.
   */
  concurrentTurnRetries?: number;
}

/** An agent hands the caller on this call to a secure flow. */
export interface StartSecureCallOptions {
  /** The caller's leg. */
  callSid: string;
  conversationId: string;
  agentId: string;
  flow: string;
  inputs?: Record<string, unknown>;
  /** Keep the agent reserved until the flow returns (default true). */
  reserveAgent?: boolean;
  call?: Omit<CallInfo, 'callId' | 'provider'>;
}

/** The Twilio webhook: mount `handleNode` or `handleFetch` under `publicBaseUrl`. */
export interface TwilioWebhook {
  /** The public URL the routes are mounted under (as given in the options). */
  readonly publicBaseUrl: string;
  /** The largest accepted body, bytes (framework mounts configure their body parsers with it). */
  readonly maxBodyBytes: number;
  /** node:http (and anything built on it): answers the request itself. */
  handleNode(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** Fetch-style servers (Hono, Bun, Deno, workers). */
  handleFetch(request: Request): Promise<Response>;
  /** The framework-neutral core, for other adapters (Fastify, Express) to wrap. */
  handle(request: WebhookRequest): Promise<WebhookResponse>;
  /** The 413 answer to a body over `maxBodyBytes` (for mounts that read the body themselves); the refusal is logged. */
  tooLarge(method: string, path: string): WebhookResponse;
  /**
   * Start a secure flow for a caller an agent hands over: the TwiML to move the call there
   * (`client.calls(callSid).update({ twiml })`); the flow's next turns arrive as webhooks.
   */
  startSecureCall(options: StartSecureCallOptions): Promise<{ sessionId: string; twiml: string }>;
}

const XML = 'text/xml; charset=utf-8';
const SESSION_ID = /^[A-Za-z0-9_-]{1,128}$/;
const E164 = /^\+[1-9]\d{6,14}$/;
/** The code of flow-core's `ConcurrentTurnError`. */
const CONCURRENT_TURN = 'SESSION_CONFLICT';
/** Below `publicBaseUrl`: where the fail-safe's own transfer posts its outcome. */
const FAIL_SAFE_RESULT_PATH = '/fallback/result';

/** Build the Twilio webhook handler. */
export function createTwilioWebhook(options: TwilioWebhookOptions): TwilioWebhook {
  const base = new URL(options.publicBaseUrl);
  const origin = base.origin;
  const basePath = base.pathname.replace(/\/+$/, '');
  const publicBase = origin + basePath;
  const runtime = options.runtime;
  const calls = options.calls ?? new MemoryCallRegistry(options.callRetentionMs !== undefined ? { retentionMs: options.callRetentionMs } : {});
  const limit = options.maxBodyBytes ?? 64 * 1024;
  const apology = options.apology ?? DEFAULT_APOLOGY;
  const turnRetries = Math.max(0, Math.floor(options.concurrentTurnRetries ?? 2));
  const recordingMode: RecordingMode = options.recording ?? 'pause';
  if (recordingMode !== 'pause' && recordingMode !== 'none') {
    throw new TypeError("createTwilioWebhook: recording must be 'pause' or 'none'");
  }
  const refusals = new RefusalLog(options.logger, options.clock ?? { now: () => Date.now() }, options.refusalLogIntervalMs ?? 60_000);
  if (options.fallbackQueue !== undefined && options.fallbackNumber !== undefined) {
    throw new TypeError('createTwilioWebhook: give fallbackQueue or fallbackNumber, not both');
  }
  if (options.fallbackQueue !== undefined && options.fallbackQueue.trim() === '') {
    throw new TypeError('createTwilioWebhook: fallbackQueue is empty');
  }
  if (options.fallbackNumber !== undefined && !E164.test(options.fallbackNumber)) {
    throw new TypeError('createTwilioWebhook: fallbackNumber must be an E.164 number (+15555550100)');
  }
  const failSafeResultUrl = publicBase + FAIL_SAFE_RESULT_PATH;
  // Built from configuration only, once: it reads no request, no session and no store.
  const failSafeDocument = failSafeTwiml({
    resultUrl: failSafeResultUrl,
    apology,
    ...(options.fallbackApology !== undefined ? { transferApology: options.fallbackApology } : {}),
    ...(options.fallbackQueue !== undefined ? { queue: options.fallbackQueue } : {}),
    ...(options.fallbackNumber !== undefined ? { number: options.fallbackNumber } : {}),
    ...(options.transferCallerId !== undefined ? { callerId: options.transferCallerId } : {}),
    ...(options.taskRouter ? { taskRouter: options.taskRouter } : {}),
  });

  const xml = (body: string, status = 200): WebhookResponse => ({ status, contentType: XML, body });
  /** The answer to a call that cannot go on: an apology, then the fallback transfer or a hang-up. */
  const failSafeAnswer: WebhookResponse = Object.freeze(xml(failSafeDocument));
  const failSafe = (): WebhookResponse => failSafeAnswer;
  const failSafeTransfers = options.fallbackQueue !== undefined || options.fallbackNumber !== undefined;
  /** The last word to a caller nobody could take, the fail-safe included: an apology and `<Hangup/>`. */
  const lastWordAnswer: WebhookResponse = Object.freeze(xml(apologyTwiml(apology)));
  /** The call is over: connected and done, or the caller hung up. */
  const hangUpAnswer: WebhookResponse = Object.freeze(xml(hangupTwiml()));
  /** Does this transfer command go where the fail-safe would send the caller anyway? */
  const intoFallback = (command: Turn['commands'][number]): boolean =>
    command.type === 'transfer' &&
    ((options.fallbackQueue !== undefined && command.queue === options.fallbackQueue) ||
      (options.fallbackNumber !== undefined && command.number === options.fallbackNumber));
  const text = (status: number, body: string): WebhookResponse => ({ status, contentType: 'text/plain; charset=utf-8', body });
  const log = (level: LogLevel, msg: string, fields: Record<string, unknown>) => {
    if (!options.logger || options.logger.enabled?.(level) === false) return;
    try {
      options.logger.write({ level, msg, fields });
    } catch {
      // a logger must not take the call down
    }
  };
  const report = (problem: WebhookProblem) => {
    // Codes and one-line, redacted messages: what a problem carries is fit for the log.
    log(problem.code === 'RECORDING_NOT_PAUSED' ? 'error' : 'warn', `webhook: ${problem.message}`, {
      code: problem.code,
      ...(problem.sessionId !== undefined ? { sessionId: problem.sessionId } : {}),
    });
    try {
      options.onProblem?.(problem);
    } catch {
      // a reporting hook must not take the call down
    }
  };
  const problemOf = (error: unknown, sessionId?: string): WebhookProblem => {
    const e = error as { code?: unknown; message?: unknown; name?: unknown };
    const code = typeof e?.code === 'string' ? e.code : 'INTERNAL';
    // Runtime errors are redacted by the runtime; anything else is summarised by its type only.
    const message = typeof e?.code === 'string' && typeof e.message === 'string' ? (e.message.split('\n')[0] ?? '') : `unexpected ${typeof e?.name === 'string' ? e.name : 'error'}`;
    return { code, message, ...(sessionId !== undefined ? { sessionId } : {}) };
  };

  const actionUrl = (sessionId: string, turn: number) => `${publicBase}/voice/${encodeURIComponent(sessionId)}/${turn}`;

  /**
   * `runtime.handle`, tried again (a bounded number of times, after a short jittered pause) when
   * another worker's turn of the same call got in the way: it wrote first, or held the session
   * lock too long. The same request id makes the retry of a request the other worker already
   * answered a replay: the same TwiML, and nothing runs twice.
   */
  async function handleTurn(sessionId: string, event: CallEvent, handleOptions: HandleOptions): Promise<Turn> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await runtime.handle(sessionId, event, handleOptions);
      } catch (error) {
        if ((error as { code?: unknown } | null)?.code !== CONCURRENT_TURN || attempt >= turnRetries) throw error;
        await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20 * (attempt + 1)));
      }
    }
  }

  /**
   * Render a turn, perform its REST side effects, and keep the CallSid pointing at the live
   * session. An SMS that could not be sent becomes the session's `smsResult: failed` event, run
   * as the next turn (so the flow's `authenticate` takes `failed` now instead of asking for a
   * code that will never come); that turn is answered instead, after what the first turn said
   * before the SMS. Once per request: a flow that asks again gets the usual Gather time-outs.
   */
  async function answer(turn: Turn, nextTurnNumber: number, callSid: string | undefined, how: AnswerOptions = {}): Promise<string> {
    const { feedSmsFailure = true, register = true, lastResort = false } = how;
    const target = turn.nextSessionId ?? turn.sessionId;
    const next = actionUrl(target, nextTurnNumber);
    // While the recording is paused (a secure flow; the runtime says so, in a replay too), the
    // next URLs say so: a fail-safe answered without the store (it is down, the session is
    // gone) still knows to resume it.
    const query = turn.recordingPaused === true ? `?${RECORDING_PAUSED}` : '';
    const rendered = renderTurn(turn.commands, {
      actionUrl: next + query,
      waitUrl: `${next}/wait${query}`,
      status: turn.nextSessionId !== undefined ? 'waiting' : turn.status,
      apology,
      ...(options.taskRouter ? { taskRouter: options.taskRouter } : {}),
      ...(options.transferCallerId !== undefined ? { transferCallerId: options.transferCallerId } : {}),
      ...(options.returnToAgent ? { returnToAgent: options.returnToAgent } : {}),
      ...(options.paymentConnector !== undefined ? { paymentConnector: options.paymentConnector } : {}),
      // A transfer into the fallback target (or the fail-safe itself) reports to the fail-safe's
      // result route: should it not connect, the caller gets the last word, not the same queue again.
      transferResultUrl: lastResort || turn.commands.some(intoFallback) ? failSafeResultUrl : `${next}/transfer${query}`,
    });
    let smsFailed: RestSideEffect | undefined;
    const pauses = recordingMode === 'pause' && rendered.sideEffects.some((e) => e.type === 'pauseRecording');
    if (callSid !== undefined && pauses && turn.replayed && (turn.nextSessionId !== undefined || turn.status === 'waiting')) {
      // A repeat of a request whose answer entered a secure flow: the pause was confirmed then,
      // or the flow was refused and its session ended. Only a live session gets its questions again.
      const view = await runtime.inspect(target);
      if (view?.status !== 'active') {
        const refused = new RecordingNotPausedError('this secure flow was refused before');
        report({ code: refused.code, message: refused.message, sessionId: target });
        throw refused;
      }
    }
    if (callSid !== undefined && !turn.replayed) {
      for (const effect of rendered.sideEffects) {
        const recordingEffect = effect.type === 'pauseRecording' || effect.type === 'resumeRecording';
        // Declared unrecorded: there is nothing to pause or resume.
        if (recordingEffect && recordingMode === 'none') continue;
        if (!options.rest) {
          if (effect.type === 'pauseRecording') await refuseSecureFlow(target, callSid, 'no REST port configured', undefined);
          report({ code: 'REST_NOT_CONFIGURED', message: `${effect.type} skipped: no REST port configured`, sessionId: target });
          if (effect.type === 'sendSms') smsFailed ??= effect;
          continue;
        }
        try {
          await options.rest.perform(effect, { callSid, sessionId: target });
        } catch (error) {
          if (effect.type === 'pauseRecording') await refuseSecureFlow(target, callSid, problemOf(error).message, error);
          report({ ...problemOf(error, target), code: `REST_${effect.type.toUpperCase()}_FAILED` });
          if (effect.type === 'sendSms') smsFailed ??= effect;
        }
      }
    }
    if (smsFailed && feedSmsFailure && callSid !== undefined && turn.status === 'waiting') {
      const failed = await handleTurn(target, { type: 'smsResult', status: 'failed' }, { requestId: String(nextTurnNumber), requestOrder: nextTurnNumber, callId: callSid });
      // What was said before the SMS still stands; what came after it ("we have sent you a code") does not.
      const at = turn.commands.indexOf(smsFailed);
      const before = turn.commands.slice(0, Math.max(at, 0)).filter((c) => !isRestSideEffect(c));
      return answer({ ...failed, commands: [...before, ...failed.commands] }, nextTurnNumber + 1, callSid, { feedSmsFailure: false, register });
    }
    if (callSid !== undefined && register && !turn.replayed) {
      // The CallSid entry changes only when the session ends or the call moves to another
      // session (a hand-off): not on every turn, which with many workers would be a Redis write
      // per callback. A replay changed nothing, and writes nothing.
      if (turn.status === 'ended' && turn.nextSessionId === undefined) await calls.update(callSid, { sessionEnded: true }, turn.sessionId);
      else if (turn.nextSessionId !== undefined) await calls.update(callSid, { sessionId: target }, turn.sessionId);
    }
    return rendered.twiml;
  }

  /**
   * The recording could not be confirmed paused: the secure flow is not entered. Its session is
   * ended at once (as a hang-up: the caller leaves it for the fail-safe, and an agent reserved
   * for it is let go), the problem is reported and logged at error, and the request is answered
   * with the fail-safe (`RecordingNotPausedError`, caught by `handle`; `startSecureCall` throws
   * it to the agent's application). A pause that timed out may still have taken effect at
   * Twilio: the recording is then resumed, for what the caller says next (to the fallback, or
   * to the agent who is still on the call).
   */
  async function refuseSecureFlow(sessionId: string, callSid: string, reason: string, error: unknown): Promise<never> {
    const refused = new RecordingNotPausedError(reason);
    report({ code: refused.code, message: refused.message, sessionId });
    await hangUp(sessionId);
    if (options.rest && (error as { code?: unknown } | undefined)?.code === 'TWILIO_REST_TIMEOUT') {
      await options.rest.perform({ type: 'resumeRecording' }, { callSid, sessionId }).catch((resumeError: unknown) => {
        report({ ...problemOf(resumeError, sessionId), code: 'REST_RESUMERECORDING_FAILED' });
      });
    }
    throw refused;
  }

  /**
   * A new call. The CallSid is claimed first (atomically), so that a copy of the request — a
   * retry while the first is still being answered, or any time later — starts nothing: it gets
   * the first answer (kept for the registry's retention), or, while that is still being made,
   * a short hold that asks again (at most `NEW_CALL_HOLDS` times, then the fail-safe).
   */
  async function newCall(params: FormParams, holds: number): Promise<WebhookResponse> {
    const callSid = param(params, 'CallSid');
    const to = param(params, 'To') ?? param(params, 'Called');
    if (!callSid || !to) return failSafe();
    const sessionId = randomUUID();
    const known = await calls.claim(callSid, { sessionId, starting: true }, 'new');
    if (known) {
      if (known.startTwiml !== undefined) return xml(known.startTwiml);
      if (known.starting === true) {
        return holds < NEW_CALL_HOLDS ? xml(holdTwiml(`${publicBase}/voice?${HOLD}=${holds + 1}`)) : failSafe();
      }
      // The call came to this webhook first through an agent's hand-over: its current wait.
      if (known.sessionEnded !== true && known.sessionId !== '') return callback(known.sessionId, 0, params, true);
      return failSafe();
    }
    let twiml: string;
    try {
      const choice = await chooseFlow(to, params);
      if (!choice) {
        report({ code: 'NO_FLOW_FOR_NUMBER', message: 'no flow is configured for the called number' });
        twiml = failSafeDocument;
      } else {
        const from = param(params, 'From') ?? param(params, 'Caller');
        const call: CallInfo = { callId: callSid, callee: to, provider: 'twilio', ...(from ? { caller: from } : {}) };
        const turn = await runtime.startSession({ flow: choice.flow, sessionId, call, ...(choice.inputs ? { inputs: choice.inputs } : {}) });
        // The entry is written here, once, with the first TwiML (not by `answer`).
        twiml = await answer(turn, 1, callSid, { register: false });
        const ended = turn.status === 'ended' && turn.nextSessionId === undefined;
        await calls.update(callSid, { sessionId: turn.nextSessionId ?? turn.sessionId, startTwiml: twiml, ...(ended ? { sessionEnded: true } : {}) });
        return xml(twiml);
      }
    } catch (error) {
      // Whatever ran of the first turn is not run again: a copy of the request gets the fail-safe too.
      await calls.update(callSid, { startTwiml: failSafeDocument, sessionEnded: true }, sessionId).catch(() => undefined);
      throw error;
    }
    await calls.update(callSid, { startTwiml: twiml, sessionEnded: true }, sessionId);
    return failSafe();
  }

  async function chooseFlow(to: string, params: FormParams): Promise<FlowChoice | undefined> {
    const found = options.resolveFlow ? await options.resolveFlow(to, params) : options.flowByNumber?.[to];
    if (found === undefined) return undefined;
    return typeof found === 'string' ? { flow: found } : found;
  }

  /** A Gather or Dial action: the caller's answer to turn `turnNumber - 1`, as turn `turnNumber`. */
  async function callback(sessionId: string, turnNumber: number, params: FormParams, wait: boolean): Promise<WebhookResponse> {
    const callSid = param(params, 'CallSid');
    if (wait) return waitCallback(sessionId, turnNumber, callSid);
    // The turn first, the CallSid map after it (`answer` rewrites the entry without the first
    // TwiML: the call is past its first turn, and a retried new-call webhook must not restart
    // it). A store outage then meets the runtime, which reports it and ends the session once
    // the store is back, rather than the registry alone.
    let turn: Turn;
    try {
      // The turn number is both the request's id (a repeat is replayed) and its order (a
      // late callback, older than the last turn answered, gets the current wait again).
      const request = { requestId: String(turnNumber), requestOrder: turnNumber, strictOrder: true, callId: callSid ?? '' };
      turn = await handleTurn(sessionId, eventOf(params), request);
      // A repeat of a turn that handed the call on: the session it went to holds the answer
      // (the first one has ended, and its own replay lacks the prompts the next one asked).
      for (let hops = 0; turn.replayed === true && turn.nextSessionId !== undefined && turn.nextSessionId !== sessionId && hops < 4; hops++) {
        turn = await handleTurn(turn.nextSessionId, { type: 'noInput' }, request);
      }
    } catch (error) {
      const refused = refusedRequest(error, sessionId);
      if (refused) return refused;
      throw error;
    }
    if (turn.ahead === true) report({ code: 'REQUEST_OUT_OF_ORDER', message: 'a callback ahead of the session\'s next turn: its current turn again', sessionId });
    return xml(await answer(turn, (turn.requestOrder ?? turnNumber) + 1, callSid));
  }

  /** A hold's Redirect came back: answer the current wait again, or hold on. */
  async function waitCallback(sessionId: string, turnNumber: number, callSid: string | undefined): Promise<WebhookResponse> {
    const view = await runtime.inspect(sessionId);
    if (!view) {
      report({ code: 'SESSION_NOT_FOUND', message: 'a callback for a session that is not stored', sessionId });
      return failSafe();
    }
    const last = view.lastRequestId !== undefined ? Number(view.lastRequestId) : undefined;
    if (last !== undefined && turnNumber <= last) {
      let replay: Turn;
      try {
        replay = await handleTurn(sessionId, { type: 'noInput' }, { requestId: String(last), callId: callSid ?? '' });
      } catch (error) {
        const refused = refusedRequest(error, sessionId);
        if (refused) return refused;
        throw error;
      }
      return xml(await answer(replay, last + 1, callSid));
    }
    if (view.status === 'ended') return failSafe();
    return xml(holdTwiml(`${actionUrl(sessionId, turnNumber)}/wait${view.recordingPaused === true ? `?${RECORDING_PAUSED}` : ''}`));
  }

  /**
   * A transfer's `<Dial>` or `<Enqueue>` ended (`DialCallStatus` / `QueueResult`; the table is in
   * `outcomes.ts`). Connected and over, or the caller hung up: `<Hangup/>`. The caller still on
   * the line and nobody took the call: the fail-safe, once — the adapter's (`fallbackQueue` /
   * `fallbackNumber`) when configured, else the runtime's (its apology, then its fail-safe
   * queue or a hang-up) — whose own transfer reports to `/fallback/result`, which never answers
   * with another fail-safe.
   */
  async function transferCallback(sessionId: string, turnNumber: number, params: FormParams): Promise<WebhookResponse> {
    const outcome = transferOutcomeOf(params);
    let turn: Turn;
    try {
      turn = await handleTurn(sessionId, { type: 'transferResult', status: outcome.status }, { requestId: `${turnNumber}/transfer`, requestOrder: turnNumber, strictOrder: true, callId: param(params, 'CallSid') ?? '' });
    } catch (error) {
      if ((error as { code?: string } | null)?.code === 'SESSION_NOT_FOUND') {
        // The ended session's record is gone (its short TTL ran out): the same answers, from configuration.
        return outcome.answer === 'hangUp' ? hangUpAnswer : failSafe();
      }
      const refused = refusedRequest(error, sessionId);
      if (refused) return refused;
      throw error;
    }
    if (outcome.status !== 'completed') report({ code: 'TRANSFER_NOT_CONNECTED', message: `the transfer did not connect (${outcome.value})`, sessionId });
    if (outcome.answer === 'hangUp') return hangUpAnswer;
    if (failSafeTransfers) return failSafe();
    // No fallback target here: the runtime's fail-safe, if it has one for this session, else the last word.
    if (!turn.commands.some((c) => c.type === 'say' || c.type === 'transfer')) return lastWordAnswer;
    return xml(await answer(turn, turnNumber + 1, param(params, 'CallSid'), { feedSmsFailure: false, register: false, lastResort: true }));
  }

  /**
   * The fail-safe's own transfer ended (`/fallback/result`). Answered from configuration alone:
   * over, or the caller gone: `<Hangup/>`; not connected: an apology and `<Hangup/>`, never a
   * second fail-safe (the fallback queue may be the one that is full).
   */
  function failSafeResult(params: FormParams): WebhookResponse {
    const outcome = transferOutcomeOf(params);
    if (outcome.status !== 'completed') report({ code: 'FALLBACK_NOT_CONNECTED', message: `the fail-safe transfer did not connect (${outcome.value})` });
    return outcome.answer === 'hangUp' ? hangUpAnswer : lastWordAnswer;
  }

  async function statusCallback(params: FormParams): Promise<WebhookResponse> {
    const callSid = param(params, 'CallSid');
    const status = param(params, 'CallStatus');
    if (!callSid || !status || !TERMINAL_CALL_STATUSES.has(status)) return xml(emptyTwiml());
    const entry = await calls.get(callSid);
    if (entry?.callEnded === true) return xml(emptyTwiml());
    // Marked first: a hand-over that starts meanwhile sees it and ends its own session.
    await calls.update(callSid, { callEnded: true });
    if (!entry || entry.sessionEnded === true || entry.sessionId === '') return xml(emptyTwiml());
    await hangUp(entry.sessionId);
    return xml(emptyTwiml());
  }

  /** The caller is gone: end the session (releasing its agent); no REST side effect is performed for a call that no longer exists. */
  async function hangUp(sessionId: string): Promise<void> {
    try {
      await handleTurn(sessionId, { type: 'hangup' }, { requestId: 'hangup' });
    } catch (error) {
      report(problemOf(error, sessionId));
    }
  }

  /**
   * A request the session refused before anything ran: from another call or none
   * (`CALL_MISMATCH`), or ahead of a session that has answered nothing yet
   * (`REQUEST_OUT_OF_ORDER`), or for a session the store does not hold: the fail-safe, reported.
   */
  function refusedRequest(error: unknown, sessionId: string): WebhookResponse | undefined {
    const code = (error as { code?: unknown } | null)?.code;
    if (code === 'SESSION_NOT_FOUND') {
      report({ code, message: 'a callback for a session that is not stored', sessionId });
      return failSafe();
    }
    if (code === 'CALL_MISMATCH' || code === 'REQUEST_OUT_OF_ORDER') {
      report(problemOf(error, sessionId));
      return failSafe();
    }
    return undefined;
  }

  /**
   * Twilio's Voice Fallback URL: the primary webhook failed or timed out (11200, 11205, 12100, …).
   * Answered from configuration alone — no runtime, no store, no registry, no REST call — since
   * whatever broke the primary may be down still. The live session (if any) is left as it is:
   * the call's status callback ends it (and releases an agent) when the call ends.
   */
  function fallbackRequest(params: FormParams): WebhookResponse {
    const errorCode = (param(params, 'ErrorCode') ?? '').replace(/\D/g, '').slice(0, 6);
    const failedUrl = param(params, 'ErrorUrl');
    let sessionId: string | undefined;
    if (failedUrl?.startsWith(`${publicBase}/voice/`)) {
      sessionId = sessionOfPath(failedUrl.slice(origin.length));
    }
    report({
      code: 'TWILIO_FALLBACK',
      message: `Twilio requested the fallback URL${errorCode !== '' ? ` (Twilio error ${errorCode})` : ''}`,
      ...(sessionId !== undefined ? { sessionId } : {}),
    });
    // What failed was the fail-safe's own result route: the caller has had the fail-safe once.
    if (failedUrl?.split('?')[0] === failSafeResultUrl) return lastWordAnswer;
    return failSafe();
  }

  /** The session a path names, if any (for reporting a failure). */
  function sessionOfPath(path: string): string | undefined {
    const pathname = path.split('?')[0] ?? '';
    if (!pathname.startsWith(basePath)) return undefined;
    const parts = pathname.slice(basePath.length).split('/').filter((p) => p !== '');
    if (parts[0] !== 'voice' || parts[1] === undefined) return undefined;
    try {
      const id = decodeURIComponent(parts[1]);
      return SESSION_ID.test(id) ? id : undefined;
    } catch {
      return undefined;
    }
  }

  async function route(request: WebhookRequest, params: FormParams): Promise<WebhookResponse> {
    const pathname = request.path.split('?')[0] ?? '';
    if (!pathname.startsWith(basePath)) return text(404, 'Not Found');
    const parts = pathname.slice(basePath.length).split('/').filter((p) => p !== '');
    if (parts[0] === 'status' && parts.length === 1) return statusCallback(params);
    if (parts[0] === 'fallback' && parts.length === 1) return fallbackRequest(params);
    if (parts[0] === 'fallback' && parts[1] === 'result' && parts.length === 2) return failSafeResult(params);
    if (parts[0] !== 'voice') return text(404, 'Not Found');
    if (parts.length === 1) return newCall(params, holdsIn(request.path));
    const sessionId = decodeURIComponent(parts[1] ?? '');
    const turn = parts[2];
    const wait = parts[3] === 'wait' && parts.length === 4;
    const transferred = parts[3] === 'transfer' && parts.length === 4;
    if (!SESSION_ID.test(sessionId) || turn === undefined || !/^\d{1,9}$/.test(turn) || (parts.length > 3 && !wait && !transferred)) {
      return text(404, 'Not Found');
    }
    if (transferred) return transferCallback(sessionId, Number(turn), params);
    return callback(sessionId, Number(turn), params, wait);
  }

  async function handle(request: WebhookRequest): Promise<WebhookResponse> {
    if (request.method !== 'POST') {
      refusals.refused('method', request.method, request.path);
      return text(405, 'Method Not Allowed');
    }
    const params = parseForm(request.body);
    // Before anything else: an unsigned or forged request touches no session.
    if (!signatureValid(options.authToken, request.signature, origin + request.path, params)) {
      refusals.refused('signature', request.method, request.path, origin);
      return text(403, 'Forbidden');
    }
    let response: WebhookResponse;
    try {
      response = await route(request, params);
    } catch (error) {
      // A store outage (STORE_UNAVAILABLE) or anything else: the caller hears the fail-safe
      // document, Twilio gets a 200 (no retry of a half-done turn, no error page), and the
      // problem goes to onProblem as a code and a one-line message, never a stack trace.
      // A refused secure flow was reported where it was refused.
      if (!(error instanceof RecordingNotPausedError)) report(problemOf(error, sessionOfPath(request.path)));
      response = failSafe();
    }
    if (response === failSafeAnswer) await resumeBeforeFailSafe(request, params);
    return response;
  }

  /**
   * The fail-safe puts the caller through to a person: when the request's URL says the recording
   * is paused (the call was in a secure flow: the URL was signed by Twilio as we wrote it), resume
   * it first, through the REST API (not the store, which may be what failed), as the runtime does
   * before any transfer out of a secure flow. A failure is reported; the caller is put through.
   */
  async function resumeBeforeFailSafe(request: WebhookRequest, params: FormParams): Promise<void> {
    if (!failSafeTransfers || !options.rest || recordingMode === 'none') return;
    const failedUrl = param(params, 'ErrorUrl');
    const paused = recordingPausedIn(request.path) || (failedUrl?.startsWith(`${publicBase}/`) === true && recordingPausedIn(failedUrl));
    const callSid = param(params, 'CallSid');
    if (!paused || callSid === undefined) return;
    const sessionId = sessionOfPath(request.path) ?? (failedUrl !== undefined ? sessionOfPath(failedUrl.slice(origin.length)) : undefined);
    try {
      await options.rest.perform({ type: 'resumeRecording' }, { callSid, sessionId: sessionId ?? '' });
    } catch (error) {
      report({ ...problemOf(error, sessionId), code: 'REST_RESUMERECORDING_FAILED' });
    }
  }

  /** The answer to a body over `maxBodyBytes`, logged like every refusal. */
  function tooLarge(method: string, path: string): WebhookResponse {
    refusals.refused('bodyTooLarge', method, path);
    return text(413, 'Payload Too Large');
  }

  return {
    publicBaseUrl: options.publicBaseUrl,
    maxBodyBytes: limit,
    handle,
    tooLarge,
    async handleNode(req, res) {
      let response: WebhookResponse;
      try {
        const body = await readNodeBody(req, limit);
        const signature = req.headers['x-twilio-signature'];
        response = await handle({
          method: req.method ?? 'GET',
          path: req.url ?? '/',
          signature: Array.isArray(signature) ? signature[0] : signature,
          body,
        });
      } catch (error) {
        response = error instanceof BodyTooLargeError ? tooLarge(req.method ?? 'GET', req.url ?? '/') : text(400, 'Bad Request');
        res.setHeader('connection', 'close');
      }
      res.statusCode = response.status;
      res.setHeader('content-type', response.contentType);
      res.end(response.body);
    },
    async handleFetch(request) {
      let response: WebhookResponse;
      try {
        const url = new URL(request.url);
        const body = await readFetchBody(request, limit);
        response = await handle({
          method: request.method,
          path: url.pathname + url.search,
          signature: request.headers.get('x-twilio-signature') ?? undefined,
          body,
        });
      } catch (error) {
        response = error instanceof BodyTooLargeError ? tooLarge(request.method, pathOf(request.url)) : text(400, 'Bad Request');
      }
      return new Response(response.body, { status: response.status, headers: { 'content-type': response.contentType } });
    },
    async startSecureCall(start) {
      const sessionId = randomUUID();
      // One live session per call: the CallSid is claimed before the agent is reserved.
      let found = await calls.claim(start.callSid, { sessionId }, 'handOver');
      if (found && found.sessionEnded !== true && found.sessionId !== '') {
        // The entry says live; a session can end without the registry hearing of it (its TTL, a
        // store outage's recovery): look, and claim again if it has.
        const view = await runtime.inspect(found.sessionId);
        if (!view || view.status === 'ended') {
          await calls.update(start.callSid, { sessionEnded: true }, found.sessionId);
          found = await calls.claim(start.callSid, { sessionId }, 'handOver');
        }
      }
      if (found?.callEnded === true) throw new CallEndedError();
      if (found) throw new CallInSessionError();
      const call: CallInfo = { ...start.call, callId: start.callSid, provider: 'twilio' };
      let turn: Turn;
      try {
        turn = await runtime.startSecureSession({
          sessionId,
          conversationId: start.conversationId,
          agentId: start.agentId,
          flow: start.flow,
          reserveAgent: start.reserveAgent ?? true,
          call,
          ...(start.inputs ? { inputs: start.inputs } : {}),
        });
      } catch (error) {
        await calls.update(start.callSid, { sessionEnded: true }, sessionId).catch(() => undefined);
        throw error;
      }
      // The call's final status came while the session started: end it (freeing the agent).
      if ((await calls.get(start.callSid))?.callEnded === true) {
        await hangUp(sessionId);
        throw new CallEndedError();
      }
      const twiml = await answer(turn, 1, start.callSid);
      return { sessionId: turn.sessionId, twiml };
    },
  };
}

/** The path and query of a URL (what a refusal log line is built from). */
function pathOf(url: string): string {
  try {
    const parsed = new URL(url);
    return parsed.pathname + parsed.search;
  } catch {
    return '/';
  }
}

/** An action URL's query while the call's recording is paused. */
const RECORDING_PAUSED = 'recording=paused';

/** Does this URL (or path) say the call's recording is paused? */
function recordingPausedIn(url: string | undefined): boolean {
  const at = url?.indexOf('?') ?? -1;
  return at >= 0 && new URLSearchParams(url!.slice(at + 1)).get('recording') === 'paused';
}

/** How often a copy of a new-call webhook is held while the first is still answered. */
const NEW_CALL_HOLDS = 5;
/** The query parameter counting those holds. */
const HOLD = 'hold';

/** How many holds a new-call request's URL counts. */
function holdsIn(path: string): number {
  const at = path.indexOf('?');
  const n = at >= 0 ? Number(new URLSearchParams(path.slice(at + 1)).get(HOLD)) : 0;
  return Number.isInteger(n) && n > 0 ? n : 0;
}

/** How a turn is answered (see `answer`). */
interface AnswerOptions {
  /** Feed a failed SMS back to the runtime as the next turn (default true). */
  feedSmsFailure?: boolean;
  /** Write the CallSid entry when the call moves to another session or its session ends (default true). */
  register?: boolean;
  /** The fail-safe after a failed transfer: its own transfer's outcome goes to `/fallback/result` (default false). */
  lastResort?: boolean;
}

/** A command performed through the REST port rather than written as TwiML. */
function isRestSideEffect(command: Turn['commands'][number]): boolean {
  return command.type === 'pauseRecording' || command.type === 'resumeRecording' || command.type === 'sendSms';
}

/** The event a Gather or Dial action carries. */
function eventOf(params: FormParams): CallEvent {
  // <Pay>'s action: Result (success, too-many-failed-attempts, caller-hung-up, ...) and the
  // references; never card data.
  const payResult = param(params, 'Result');
  if (payResult !== undefined) {
    const reference = param(params, 'PaymentConfirmationCode');
    const token = param(params, 'PaymentToken');
    return {
      type: 'paymentResult',
      status: payResult === 'success' ? 'success' : 'failed',
      ...(reference ? { reference } : {}),
      ...(token ? { token } : {}),
      ...(payResult !== 'success' ? { error: payResult } : {}),
    };
  }
  const dialStatus = param(params, 'DialCallStatus');
  if (dialStatus !== undefined) return { type: 'connectResult', status: lookUp(DIAL_STATUS, dialStatus) ?? 'failed' };
  const digits = param(params, 'Digits');
  if (digits !== undefined && digits !== '') return { type: 'digits', digits };
  const speech = param(params, 'SpeechResult');
  if (speech !== undefined && speech.trim() !== '') {
    const confidence = Number(param(params, 'Confidence'));
    return { type: 'speech', text: speech, ...(Number.isFinite(confidence) ? { confidence } : {}) };
  }
  return { type: 'noInput' };
}
