/**
 * The agent's side of the example server: `POST /agent/secure-call`, what an agent desktop
 * calls when the agent presses "take payment". It hands the caller on `callSid` to a secure
 * flow (`webhook.startSecureCall`: the agent is reserved, the recording paused) and answers the
 * TwiML that moves the caller's leg there; with the real Twilio REST client it also makes that
 * move (`calls(callSid).update({ twiml })`).
 *
 * Only on when AGENT_API_TOKEN is set, and then only for `Authorization: Bearer <token>`,
 * compared in constant time: starting a secure flow reserves an agent and takes over a call,
 * so it is not left open to whoever reaches the port. Errors answer a code and one line, never
 * a stack trace.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** The route, below the server's root (not below PUBLIC_BASE_URL: Twilio never calls it). */
export const AGENT_ROUTE = '/agent/secure-call';

const MAX_BODY_BYTES = 16 * 1024;
const CALL_SID = /^CA[0-9a-fA-F]{32}$/;
const NAME = /^[A-Za-z0-9_.:@-]{1,128}$/;

/** HTTP status for the runtime's and the REST client's typed errors; anything else is a 500. */
const STATUS_OF = {
  AGENT_RESERVED: 409,
  // One live session per call: the call is in another session already (a second hand-over, or
  // the new-call flow still running), or Twilio reported its final status. The agent's request
  // is refused, not failed: nothing was started and nobody reserved.
  CALL_IN_SESSION: 409,
  CALL_ENDED: 409,
  FLOW_INVALID: 400,
  // The runtime checks the inputs against the flow's declarations before it reserves anyone.
  FLOW_INPUT_INVALID: 400,
  STORE_UNAVAILABLE: 503,
  // The recording could not be paused: the secure flow was not entered (the agent was let go).
  RECORDING_NOT_PAUSED: 503,
  TWILIO_REST_FAILED: 502,
  TWILIO_REST_TIMEOUT: 504,
};

class RequestError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// Hashing both sides first gives equal lengths, so the comparison takes the same time whatever
// the length or content of the guess.
function sameToken(given, expected) {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

function send(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

async function readJson(req) {
  if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) throw new RequestError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send application/json');
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new RequestError(413, 'BODY_TOO_LARGE', `the body may hold at most ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new RequestError(400, 'BAD_JSON', 'the body is not valid JSON');
  }
}

function checked(body) {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new RequestError(400, 'BAD_REQUEST', 'the body must be a JSON object');
  const { callSid, agentId, conversationId, flow, inputs } = body;
  if (typeof callSid !== 'string' || !CALL_SID.test(callSid)) throw new RequestError(400, 'BAD_REQUEST', 'callSid must be a Twilio CallSid (CA followed by 32 hex digits)');
  for (const [name, value] of [['agentId', agentId], ['conversationId', conversationId], ['flow', flow]]) {
    if (typeof value !== 'string' || !NAME.test(value)) throw new RequestError(400, 'BAD_REQUEST', `${name} must be a name of 1 to 128 letters, digits or _ . : @ -`);
  }
  if (inputs !== undefined && (inputs === null || typeof inputs !== 'object' || Array.isArray(inputs))) throw new RequestError(400, 'BAD_REQUEST', 'inputs must be a JSON object');
  return { callSid, agentId, conversationId, flow, ...(inputs !== undefined ? { inputs } : {}) };
}

/** The first line of an error's message: the runtime's own messages are redacted and carry no stack. */
const firstLine = (error) => String(error?.message ?? error).split('\n')[0];

/**
 * The handler of `POST /agent/secure-call`.
 * @param {{ token: string | undefined, flows: readonly import('@callflow/flow-core').Flow[], webhook: import('@callflow/adapters-twilio').TwilioWebhook,
 *   runtime: import('@callflow/flow-core').Runtime, rest?: import('@callflow/adapters-twilio').TwilioRestPort, calls?: { calls(sid: string): { update(p: { twiml: string }): Promise<unknown> } },
 *   log: import('pino').Logger }} options
 */
export function agentSecureCall({ token, webhook, runtime, calls, rest, log }) {
  return async (req, res) => {
    if (token === undefined) return send(res, 404, { error: 'NOT_FOUND', message: 'the agent API is off (set AGENT_API_TOKEN)' });
    const auth = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    if (!auth || !sameToken(auth[1], token)) {
      log.warn({ route: AGENT_ROUTE }, 'agent API: refused a request without the right bearer token');
      return send(res, 401, { error: 'UNAUTHORIZED', message: 'Authorization: Bearer <AGENT_API_TOKEN> required' }, { 'www-authenticate': 'Bearer' });
    }
    if (req.method !== 'POST') return send(res, 405, { error: 'METHOD_NOT_ALLOWED', message: 'POST only' }, { allow: 'POST' });
    let started;
    let start;
    try {
      start = checked(await readJson(req));
      started = await webhook.startSecureCall(start);
      log.info({ sessionId: started.sessionId, flow: start.flow, agentId: start.agentId, callSid: start.callSid }, 'agent API: secure flow started');
      if (calls) {
        await calls.calls(start.callSid).update({ twiml: started.twiml }).catch((error) => {
          // Twilio's message text echoes request values: keep its facts only (as the adapter does).
          throw new RequestError(502, 'TWILIO_REST_FAILED', `Twilio REST calls(callSid).update failed: ${typeof error?.status === 'number' ? `HTTP ${error.status}${typeof error.code === 'number' ? `, Twilio error ${error.code}` : ''}` : 'Twilio not reached'}`);
        });
        log.info({ sessionId: started.sessionId, callSid: start.callSid }, 'agent API: the caller was moved into the secure flow (Twilio REST)');
      }
      send(res, 200, { sessionId: started.sessionId, twiml: started.twiml });
    } catch (error) {
      const code = error instanceof RequestError ? error.code : typeof error?.code === 'string' ? error.code : 'INTERNAL';
      const status = error instanceof RequestError ? error.status : STATUS_OF[code] ?? 500;
      // The call was never moved: end the session it would have entered, so the agent is not
      // left reserved for a caller who is still with them, and give the agent's conversation
      // its recording back (the hand-over paused it).
      if (started) {
        await runtime.handle(started.sessionId, { type: 'hangup' }).catch(() => undefined);
        await rest?.perform({ type: 'resumeRecording' }, { callSid: start.callSid, sessionId: started.sessionId }).catch((e) => log.warn({ code: e?.code, sessionId: started.sessionId }, 'agent API: the recording could not be resumed'));
      }
      log.warn({ code, status, ...(started ? { sessionId: started.sessionId } : {}) }, `agent API: ${status >= 500 ? 'failed' : 'refused'}: ${firstLine(error)}`);
      send(res, status, { error: code, message: status === 500 ? 'internal error (see the server log)' : firstLine(error) });
    }
  };
}
