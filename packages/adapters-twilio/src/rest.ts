/**
 * The commands Twilio takes through its REST API rather than TwiML: pausing and resuming the
 * call's recording around secure input, and sending an SMS (one-time codes). The webhook
 * performs them through a `TwilioRestPort` before it answers the turn's TwiML, so a recording
 * is paused before the caller is asked for card digits.
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
}

/** `Twilio.CURRENT` names the call's recording in progress, whatever its sid. */
const CURRENT_RECORDING = 'Twilio.CURRENT';

/** A `TwilioRestPort` over the official `twilio` REST client. */
export function twilioRest(options: TwilioRestOptions): TwilioRestPort {
  const { client } = options;
  return {
    async perform(effect, call) {
      switch (effect.type) {
        case 'pauseRecording':
          await client.calls(call.callSid).recordings(CURRENT_RECORDING).update({
            status: 'paused',
            pauseBehavior: options.pauseBehavior ?? 'skip',
          });
          return;
        case 'resumeRecording':
          await client.calls(call.callSid).recordings(CURRENT_RECORDING).update({ status: 'in-progress' });
          return;
        case 'sendSms':
          await client.messages.create({
            to: effect.to,
            body: effect.body,
            ...(options.messagingServiceSid !== undefined
              ? { messagingServiceSid: options.messagingServiceSid }
              : { from: options.messagingFrom }),
          });
          return;
      }
    },
  };
}
