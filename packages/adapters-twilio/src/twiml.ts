/**
 * Runtime commands → TwiML. One turn's commands become one `<Response>`, built with the
 * `twilio` package's `VoiceResponse` (it escapes every text and attribute: no string
 * concatenation here). Commands that are not TwiML verbs (pause/resume the recording, send an
 * SMS) come back as REST side effects for `rest.ts`, performed before the TwiML is answered.
 */
import twilio from 'twilio';
import type { Command, Speech } from '@callflow/flow-core';

const { VoiceResponse } = twilio.twiml;

/** A TwiML document under construction (the `twilio` package's `VoiceResponse`). */
export type TwimlResponse = InstanceType<typeof VoiceResponse>;

/** The `returnToAgent` command as the runtime emits it. */
export type ReturnToAgentCommand = Extract<Command, { type: 'returnToAgent' }>;

/** A command performed through Twilio's REST API rather than TwiML. */
export type RestSideEffect = Extract<Command, { type: 'pauseRecording' | 'resumeRecording' | 'sendSms' }>;

/** Where TwiML sends the caller next, and how transfers and the agent leg are reached. */
export interface TwimlOptions {
  /** Absolute URL a `<Gather>` or `<Dial>` posts its result to: the session's next turn. */
  actionUrl: string;
  /** Absolute URL a session that waits without a TwiML verb is redirected to (it polls politely). */
  waitUrl: string;
  /** Whether the session still waits on the caller or the provider after this turn. */
  status: 'waiting' | 'ended';
  /** Transfers to a `queue` go to TaskRouter through this workflow; without one, `<Enqueue>` names a plain Twilio queue. */
  taskRouter?: TaskRouterOptions;
  /** Caller id for `transfer` to a number (a Twilio number or a verified one); Twilio's default otherwise. */
  transferCallerId?: string;
  /** How `returnToAgent` reaches the reserved agent (default: `<Dial><Client>agentId</Client></Dial>`). */
  returnToAgent?: ReturnToAgentHook;
  /** Said before hanging up when the agent cannot be reached (no agent id and no hook). */
  apology?: string;
  /** The Pay Connector `<Pay>` charges through (Twilio console name); Twilio's default otherwise. */
  paymentConnector?: string;
  /**
   * Absolute URL a transfer's `<Dial>` or `<Enqueue>` (and the default return to the agent's
   * `<Dial><Client>`) posts its outcome to (`DialCallStatus`, `QueueResult`): one that did not
   * connect becomes the runtime's `transferResult`, and the caller hears the fail-safe instead of
   * silence. Without it the document simply ends.
   */
  transferResultUrl?: string;
}

/** TaskRouter settings for `transfer: { queue }`. */
export interface TaskRouterOptions {
  /** The workflow every queue transfer enters, unless `workflowSidByQueue` names one. */
  workflowSid: string;
  /** A workflow per flow queue name. */
  workflowSidByQueue?: Readonly<Record<string, string>>;
}

/** Appends the verbs that put the caller back to the agent (e.g. a `<Dial><Conference>`). */
export type ReturnToAgentHook = (command: ReturnToAgentCommand, response: TwimlResponse) => void;

/** One turn as Twilio gets it: the TwiML document and the REST calls to make first. */
export interface RenderedTurn {
  twiml: string;
  sideEffects: RestSideEffect[];
}

/** The apology every failure path speaks by default. */
export const DEFAULT_APOLOGY = 'Sorry, something went wrong. Goodbye.';

/** Seconds a waiting session without a TwiML verb pauses before it asks again. */
const WAIT_PAUSE_SECONDS = 2;

/** Render one turn's commands as TwiML plus the REST side effects they ask for. */
export function renderTurn(commands: readonly Command[], options: TwimlOptions): RenderedTurn {
  const response = new VoiceResponse();
  const sideEffects: RestSideEffect[] = [];
  // Once a verb that hands the call on (Gather, Dial, Enqueue, Hangup) is written, Twilio
  // runs nothing after it in this document, so nothing else is written.
  let handedOn = false;
  for (const command of commands) {
    if (handedOn && command.type !== 'end') continue;
    switch (command.type) {
      case 'say':
        say(response, { text: command.text, voice: command.voice, language: command.language });
        break;
      case 'play':
        response.play(command.loop !== undefined ? { loop: command.loop } : {}, command.url);
        break;
      case 'collect':
        gather(response, command, options.actionUrl);
        handedOn = true;
        break;
      case 'connect': {
        const dial = response.dial({
          callerId: command.callerId,
          action: options.actionUrl,
          method: 'POST',
          ...(command.timeoutMs !== undefined ? { timeout: seconds(command.timeoutMs) } : {}),
          ...(command.record ? { record: 'record-from-answer' as const } : {}),
        });
        dial.number(command.number);
        handedOn = true;
        break;
      }
      case 'pay': {
        // Twilio captures the card and charges it: the digits never reach this server.
        for (const p of command.prompt) {
          if (p.play !== undefined) response.play({}, p.play);
          else if (p.text !== undefined) say(response, { text: p.text, voice: p.voice, language: p.language });
        }
        response.pay({
          chargeAmount: command.amount.toFixed(2),
          currency: command.currency.toLowerCase(),
          action: options.actionUrl,
          ...(command.description !== undefined ? { description: command.description } : {}),
          ...(command.attempts !== undefined ? { maxAttempts: command.attempts } : {}),
          ...(command.timeoutMs !== undefined ? { timeout: seconds(command.timeoutMs) } : {}),
          ...(options.paymentConnector !== undefined ? { paymentConnector: options.paymentConnector } : {}),
        });
        handedOn = true;
        break;
      }
      case 'transfer':
        // A transfer to another flow continues in the next session: its commands follow.
        if (command.flow !== undefined && !command.queue && !command.number && !command.user && !command.sip) break;
        transfer(response, command, options);
        handedOn = true;
        break;
      case 'disconnect':
        response.hangup();
        handedOn = true;
        break;
      case 'returnToAgent':
        if (options.returnToAgent) options.returnToAgent(command, response);
        else if (command.agentId) {
          // With a result URL: an agent who does not pick up leaves the caller with the fail-safe, not silence.
          const client = response
            .dial(resultAction(options))
            .client();
          client.identity(command.agentId);
          for (const [name, value] of Object.entries(command.outputs)) {
            if (value !== undefined && value !== null) client.parameter({ name, value: String(value) });
          }
        } else {
          say(response, { text: options.apology ?? DEFAULT_APOLOGY });
          response.hangup();
        }
        handedOn = true;
        break;
      case 'pauseRecording':
      case 'resumeRecording':
      case 'sendSms':
        sideEffects.push(command);
        break;
      case 'end':
        break;
    }
  }
  if (!handedOn) {
    if (options.status === 'waiting') {
      // Waiting with nothing for the caller to answer (e.g. an SMS result is due): hold the
      // line and come back, rather than let the document end (which hangs up).
      response.pause({ length: WAIT_PAUSE_SECONDS });
      response.redirect({ method: 'POST' }, options.waitUrl);
    } else {
      response.hangup();
    }
  }
  return { twiml: response.toString(), sideEffects };
}

/** A complete document that apologises and hangs up: the answer to anything that cannot go on. */
export function apologyTwiml(text: string = DEFAULT_APOLOGY): string {
  const response = new VoiceResponse();
  say(response, { text });
  response.hangup();
  return response.toString();
}

/** Said before the fail-safe transfer (`fallbackQueue` / `fallbackNumber`). */
export const DEFAULT_FALLBACK_APOLOGY = 'Sorry, something went wrong. Please hold while we put you through to an advisor.';

/** Where the fail-safe document sends a call that cannot go on: a queue, a number, or nowhere (hang up). */
export interface FailSafeTarget {
  /** `<Enqueue>` the caller here (through `taskRouter`'s workflow when one is configured). */
  queue?: string;
  /** Otherwise `<Dial>` this number (E.164). */
  number?: string;
  /** Caller id for the `<Dial>` (Twilio's default otherwise). */
  callerId?: string;
  taskRouter?: TaskRouterOptions;
  /** Said before hanging up (no target). */
  apology?: string;
  /** Said before the transfer. */
  transferApology?: string;
  /**
   * Where the fail-safe's `<Enqueue>` or `<Dial>` posts its outcome (the webhook's
   * `/fallback/result`, answered from configuration alone): a fallback that does not connect
   * either ends with an apology instead of silence, and never with a second fail-safe.
   */
  resultUrl?: string;
}

/**
 * The fail-safe document: what a call that cannot go on is answered (the fallback URL, a store
 * outage, any unexpected failure). An apology, then the fallback transfer when one is
 * configured, else `<Hangup/>`. Built from configuration only: no request value, no session
 * data, so a protected caller's details cannot reach it. The TaskRouter task carries
 * `{ queue, fallback: true }` and nothing else.
 */
export function failSafeTwiml(target: FailSafeTarget = {}): string {
  const response = new VoiceResponse();
  const result = target.resultUrl !== undefined ? { action: target.resultUrl, method: 'POST' as const } : {};
  if (target.queue !== undefined) {
    say(response, { text: target.transferApology ?? DEFAULT_FALLBACK_APOLOGY });
    const workflowSid = target.taskRouter
      ? (target.taskRouter.workflowSidByQueue?.[target.queue] ?? target.taskRouter.workflowSid)
      : undefined;
    if (workflowSid !== undefined) response.enqueue({ workflowSid, ...result }).task(JSON.stringify({ queue: target.queue, fallback: true }));
    else response.enqueue(result, target.queue);
  } else if (target.number !== undefined) {
    say(response, { text: target.transferApology ?? DEFAULT_FALLBACK_APOLOGY });
    response.dial({ ...(target.callerId !== undefined ? { callerId: target.callerId } : {}), ...result }).number(target.number);
  } else {
    say(response, { text: target.apology ?? DEFAULT_APOLOGY });
    response.hangup();
  }
  return response.toString();
}

/** A `<Pause>` then a `<Redirect>` back to `url`: a waiting session asked again later. */
export function holdTwiml(url: string): string {
  const response = new VoiceResponse();
  response.pause({ length: WAIT_PAUSE_SECONDS });
  response.redirect({ method: 'POST' }, url);
  return response.toString();
}

/** `<Hangup/>` alone: the call is over. */
export function hangupTwiml(): string {
  const response = new VoiceResponse();
  response.hangup();
  return response.toString();
}

/** An empty `<Response/>` (status callbacks: Twilio ignores the body). */
export function emptyTwiml(): string {
  return new VoiceResponse().toString();
}

type GatherAttributes = NonNullable<Parameters<TwimlResponse['gather']>[0]>;
type SayAttributes = Parameters<TwimlResponse['say']>[0] & object;
type Sayer = Pick<TwimlResponse, 'say' | 'play'>;

function say(target: Sayer, speech: Speech): void {
  if (speech.play !== undefined) target.play(speech.play);
  if (speech.text === undefined || speech.text === '') return;
  const attributes: SayAttributes = {};
  if (speech.voice !== undefined) attributes.voice = speech.voice as SayAttributes['voice'];
  if (speech.language !== undefined) attributes.language = speech.language as SayAttributes['language'];
  target.say(attributes, speech.text);
}

function gather(response: TwimlResponse, command: Extract<Command, { type: 'collect' }>, actionUrl: string): void {
  const attributes: GatherAttributes = {
    input: command.input.split(' ') as GatherAttributes['input'],
    action: actionUrl,
    method: 'POST',
    timeout: seconds(command.timeoutMs),
    // A Gather that hears nothing would fall through to the end of the document and hang up:
    // post back instead, so the flow counts the no-input and re-prompts.
    actionOnEmptyResult: true,
  };
  const numDigits = command.maxDigits ?? (command.purpose === 'menu' ? 1 : undefined);
  if (numDigits !== undefined) attributes.numDigits = numDigits;
  if (command.finishOnKey !== undefined) attributes.finishOnKey = command.finishOnKey;
  if (command.hints && command.hints.length > 0) attributes.hints = command.hints.join(', ');
  const language = command.prompt.find((p) => p.language !== undefined)?.language;
  if (language !== undefined && command.input.includes('speech')) attributes.language = language as GatherAttributes['language'];
  const g = response.gather(attributes);
  for (const speech of command.prompt) say(g, speech);
}

function transfer(response: TwimlResponse, command: Extract<Command, { type: 'transfer' }>, options: TwimlOptions): void {
  if (command.queue !== undefined) {
    const workflowSid = options.taskRouter
      ? (options.taskRouter.workflowSidByQueue?.[command.queue] ?? options.taskRouter.workflowSid)
      : undefined;
    const result = resultAction(options);
    if (workflowSid !== undefined) {
      const enqueue = response.enqueue({ workflowSid, ...result });
      // The task's attributes route it inside the workflow; the runtime already left out
      // anything personal for a protected identity, and secure values never reach `data`.
      enqueue.task(JSON.stringify({ queue: command.queue, ...(command.data ?? {}) }));
    } else {
      response.enqueue(result, command.queue);
    }
    return;
  }
  const dial = response.dial({
    ...(options.transferCallerId !== undefined ? { callerId: options.transferCallerId } : {}),
    ...resultAction(options),
  });
  if (command.number !== undefined) dial.number(command.number);
  else if (command.user !== undefined) dial.client(command.user);
  else if (command.sip !== undefined) dial.sip(command.sip);
}

/** The `action`/`method` attributes that make a hand-on's `<Dial>` or `<Enqueue>` post its outcome, when asked for. */
function resultAction(options: TwimlOptions): { action?: string; method?: 'POST' } {
  return options.transferResultUrl !== undefined ? { action: options.transferResultUrl, method: 'POST' } : {};
}

/** TwiML times are whole seconds (at least one). */
function seconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
