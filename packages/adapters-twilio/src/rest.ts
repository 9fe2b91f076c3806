/**
 * The commands Twilio takes through its REST API rather than TwiML: pausing and resuming the
 * call's recording around secure input, and sending an SMS (one-time codes). The webhook
 * performs them through a `TwilioRestPort` before it answers the turn's TwiML, so a recording
 * is paused before the caller is asked for card digits.
 *
 * Failures become typed errors that carry Twilio's error code, the HTTP status and the
 * documentation link, never Twilio's message text: Twilio echoes request values in it (the
 * `To` number of a message, a path with the CallSid), and a message body holds a one-time code.
 */
import type { RestSideEffect } from './twiml.js';

/** The call a side effect belongs to. */
export interface RestCallContext {
  /** Twilio's CallSid of the caller's leg. */
  callSid: string;
  sessionId: string;
}

/** Performs REST side effects (recording, messaging) for the webhook. */
export interface TwilioRestPort {
  /** Resolves once Twilio accepted the request; rejects with a `TwilioRestError` otherwise. */
  perform(effect: RestSideEffect, call: RestCallContext): Promise<void>;
}

/**
 * The slice of the `twilio` REST client this adapter uses (a `Twilio` client fits it; a test
 * double can too).
 */
export interface TwilioRestClient {
  calls(callSid: string): {
    recordings(recordingSid: string): {
      update(params: { status: 'paused' | 'in-progress'; pauseBehavior?: 'skip' | 'silence' }): Promise<unknown>;
    };
  };
  messages: {
    create(params: { to: string; body: string; from?: string; messagingServiceSid?: string }): Promise<unknown>;
  };
}

/** How `twilioRest` sends messages and pauses recordings. */
export interface TwilioRestOptions {
  client: TwilioRestClient;
  /** The number one-time codes are sent from (or use `messagingServiceSid`). */
  messagingFrom?: string;
  messagingServiceSid?: string;
  /** `skip` (default) leaves the paused part out of the recording; `silence` keeps its length. */
  pauseBehavior?: 'skip' | 'silence';
  /**
   * How long one REST call may take, ms (default 4000). Twilio waits 15 s for the whole
   * webhook answer, and the side effects run before it.
   */
  timeoutMs?: number;
}

/** A Twilio REST call that failed: Twilio answered an error, or it could not be reached. */
export class TwilioRestError extends Error {
  readonly code = 'TWILIO_REST_FAILED';
  constructor(
    /** What was asked (`pauseRecording`, `sendSms`, `updateWorker`, ...). */
    readonly operation: string,
    /** The HTTP status Twilio answered, if it answered. */
    readonly status: number | undefined,
    /** Twilio's error code (e.g. 21211, 20404), if it gave one. */
    readonly twilioCode: number | undefined,
    /** Twilio's documentation link for the code. */
    readonly moreInfo: string | undefined,
    /** Transport failure class (`ECONNREFUSED`, ...) when Twilio did not answer. */
    readonly network?: string,
  ) {
    const what = status !== undefined
      ? `HTTP ${status}${twilioCode !== undefined ? `, Twilio error ${twilioCode}` : ''}${moreInfo ? ` (${moreInfo})` : ''}`
      : `not reached${network ? ` (${network})` : ''}`;
    super(`Twilio REST ${operation} failed: ${what}`);
    this.name = 'TwilioRestError';
  }

  /** A failure worth trying again: Twilio unreachable, throttled (429) or failing (5xx). */
  get retryable(): boolean {
    return this.status === undefined || this.status === 429 || this.status >= 500;
  }
}

/** A Twilio REST call that did not answer in time (it may still take effect at Twilio). */
export class TwilioRestTimeoutError extends Error {
  readonly code = 'TWILIO_REST_TIMEOUT';
  readonly retryable = true;
  constructor(
    readonly operation: string,
    readonly timeoutMs: number,
  ) {
    super(`Twilio REST ${operation} did not answer within ${timeoutMs} ms`);
    this.name = 'TwilioRestTimeoutError';
  }
}

/** Default time one REST call may take, ms. */
export const DEFAULT_REST_TIMEOUT_MS = 4000;

/**
 * Run one REST call with a deadline, turning whatever the `twilio` client throws into a
 * `TwilioRestError` (code, status, link — no message text) or a `TwilioRestTimeoutError`.
 * Shared by the REST port and the TaskRouter mirror.
 */
export async function callTwilio<T>(operation: string, timeoutMs: number, request: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TwilioRestTimeoutError(operation, timeoutMs)), timeoutMs);
    timer.unref?.();
  });
  try {
    return await Promise.race([request(), deadline]);
  } catch (error) {
    if (error instanceof TwilioRestTimeoutError) throw error;
    throw restErrorOf(operation, error);
  } finally {
    clearTimeout(timer);
  }
}

/** The facts of a `twilio` RestException (or a transport error), without its message. */
function restErrorOf(operation: string, error: unknown): TwilioRestError {
  const e = (error ?? {}) as { status?: unknown; code?: unknown; moreInfo?: unknown };
  if (typeof e.status === 'number') {
    return new TwilioRestError(
      operation,
      e.status,
      typeof e.code === 'number' ? e.code : undefined,
      typeof e.moreInfo === 'string' && /^https:\/\/www\.twilio\.com\//.test(e.moreInfo) ? e.moreInfo : undefined,
    );
  }
  // A transport error (axios/node): keep only its class, e.g. ECONNREFUSED or ECONNABORTED.
  const network = typeof e.code === 'string' && /^[A-Z_]{3,40}$/.test(e.code) ? e.code : undefined;
  return new TwilioRestError(operation, undefined, undefined, undefined, network);
}

/** `Twilio.CURRENT` names the call's recording in progress, whatever its sid. */
const CURRENT_RECORDING = 'Twilio.CURRENT';

/**
 * A `TwilioRestPort` over the official `twilio` REST client. Resolves with nothing (Twilio's
 * answer — a Message resource echoes the body with its code — is dropped here); rejects with a
 * `TwilioRestError` or `TwilioRestTimeoutError`.
 */
export function twilioRest(options: TwilioRestOptions): TwilioRestPort {
  const { client } = options;
  const timeoutMs = options.timeoutMs ?? DEFAULT_REST_TIMEOUT_MS;
  return {
    async perform(effect, call) {
      switch (effect.type) {
        case 'pauseRecording':
          await callTwilio(effect.type, timeoutMs, () =>
            client.calls(call.callSid).recordings(CURRENT_RECORDING).update({
              status: 'paused',
              pauseBehavior: options.pauseBehavior ?? 'skip',
            }),
          );
          return;
        case 'resumeRecording':
          await callTwilio(effect.type, timeoutMs, () =>
            client.calls(call.callSid).recordings(CURRENT_RECORDING).update({ status: 'in-progress' }),
          );
          return;
        case 'sendSms':
          await callTwilio(effect.type, timeoutMs, () =>
            client.messages.create({
              to: effect.to,
              body: effect.body,
              ...(options.messagingServiceSid !== undefined
                ? { messagingServiceSid: options.messagingServiceSid }
                : { from: options.messagingFrom }),
            }),
          );
          return;
      }
    },
  };
}
