/**
 * What stands in for the outside world when the example server runs on its own: the data
 * actions answer from the script in lines.mjs (the same one the cluster test's workers and the
 * load test use), so a caller picks a flow's path by the digits it keys in; and, without Twilio
 * credentials, a REST port that only logs the SMS it would send and refuses a recording pause.
 */
import { scriptedActionOutcome } from './lines.mjs';

/**
 * The data actions of every example flow, answering from the script (flow-core's `ActionCaller`).
 * Each call writes one info line, `stand-in data action called`, with the action's name and
 * session only (never its input or answer): a client outside the server counts them to see
 * that a retried request ran nothing twice.
 * @param {import('pino').Logger} log
 */
export function standInActions(log) {
  return {
    async call(name, input, options) {
      log.info({ action: name, sessionId: options?.sessionId }, 'stand-in data action called');
      return scriptedActionOutcome(name, input);
    },
  };
}

/**
 * The script's rules as the start-up banner and the README state them, flow by flow: which
 * last digit leads where. (The script itself is `scriptedOutcome` in lines.mjs.)
 */
export const STAND_IN_RULES = [
  ['billing-line', 'account number (10 digits), last digit: 0 not found → billing queue · 1 lookup error → billing · 2 lookup time-out → billing · 3 nothing due → goodbye · 4–9 amount due 64.50–69.50 → menu: 1 pay by card (card-payment), 2 billing'],
  ['card-payment', 'card (Luhn-valid, then #), expiry MMYY, security code; the code\'s last digit: 7 declined → billing · 8 gateway error → billing · 9 gateway time-out → billing · 0–6 approved (reference PAY-700<digit>) → read-back of the last four digits, hang-up'],
  ['agent-card-payment', 'started by an agent (POST /agent/secure-call); the same card rules as card-payment, chargeCard; approved → back to the agent (<Dial><Client>agentId</Client>) with the reference and the last four digits'],
  ['masked-callback', 'application number (8 digits, then #), last digit: 0 closed → partner-desk · 1 not found (asked again; the third try → partner-desk) · 2 error → partner-desk · 3 time-out → partner-desk · 4–9 open → <Dial> the client through the proxy number +15555550100 (DialCallStatus busy/no-answer: try again with 1)'],
  ['protected-identity', 'the caller\'s number (From), last digit: 0–1 protected identity → vetted-care · 2 unknown caller → customer-care · 3 lookup error → vetted-care · 4–9 known caller → customer-care'],
  ['sms-otp', 'the caller\'s number (From), last digit: 0 unknown → customer-care · 1 lookup error → customer-care · 2–9 known → a one-time code by SMS to the registered mobile (without Twilio credentials it is sent nowhere and never shown: wrong codes → customer-care; five wrong codes within 15 minutes (three a call) lock the mobile out → security)'],
];

/** Twilio REST is not configured: a recording cannot be paused (nor resumed) without it. */
export class RestNotConfiguredError extends Error {
  constructor(operation) {
    super(`Twilio REST is not configured: ${operation} cannot be made (set TWILIO_ACCOUNT_SID, TWILIO_API_KEY and TWILIO_API_SECRET)`);
    this.name = 'RestNotConfiguredError';
    this.code = 'TWILIO_REST_NOT_CONFIGURED';
  }
}

/**
 * A REST port for a server without Twilio credentials. An SMS is only logged (which call it
 * would be for, nothing of what it would send: the number, body and code stay out of the log).
 * A recording pause is refused, not pretended: the webhook must not believe the recording
 * paused, so a secure flow is refused unless CALLFLOW_RECORDING=none declares that no call is
 * recorded (and then the webhook asks for no pause at all).
 * @param {import('pino').Logger} log
 */
export function loggingRest(log) {
  return {
    async perform(effect, call) {
      if (effect.type !== 'sendSms') throw new RestNotConfiguredError(effect.type);
      log.info({ rest: effect.type, callSid: call.callSid, sessionId: call.sessionId }, 'would send the one-time code by SMS to the registered mobile (Twilio REST, not configured)');
    },
  };
}
