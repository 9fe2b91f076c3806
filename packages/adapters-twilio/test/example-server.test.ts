/**
 * The example server (examples/twilio-server/server.mjs) as a client outside the repository
 * meets it (test/example-server/outside-client.ts): the server runs in its own process over the
 * built packages, and the client knows only what the README and the server's banner say — the
 * URLs, the numbers, the stand-in rules, the documented local test token — and Twilio's request
 * format.
 *
 * Three servers: one with every default but calls declared unrecorded (in memory, the local
 * test token, the agent API off, the debug log), one configured as behind a tunnel (its own
 * auth token, a public URL that is not the address it listens on, Redis, a key, the agent API
 * on, calls declared unrecorded), and one with every default, which cannot pause a recording
 * and so refuses its secure flows. The second needs Redis at 127.0.0.1:6379 (or
 * CALLFLOW_REDIS_URL): without it its tests fail, saying why.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import twilio from 'twilio';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CLIENT_PHONE, LINES } from '../../../examples/twilio-server/lines.mjs';
import { parseTwiml } from './call-simulator.js';
import { deletePrefix, findClearSecrets } from './cluster/redis-scan.mjs';
import { ROOT, TwilioCall, actionParts, logLine, only, says, startServer, stopServer, verbs, type RunningServer } from './example-server/outside-client.js';

const README = readFileSync(join(ROOT, 'examples', 'twilio-server', 'README.md'), 'utf8');
/** The token the README documents for local use: an outside client signs with it. */
const LOCAL_TEST_TOKEN = 'callflow-local-test-token-not-a-secret';
const REDIS_URL = process.env.CALLFLOW_REDIS_URL ?? 'redis://127.0.0.1:6379';

// What callers key in or call from, and the secure values the stand-ins hand out.
const CARD = '4916338506082832'; // Luhn-valid test card
const EXPIRY = '0931';
const CVV = '5314'; // last digit 4: approved, PAY-7004
const AGENT_CVV = '462'; // last digit 2: approved, PAY-7002
const BILLING_CALLER = '+15555550188';
const PARTNER_CALLER = '+15555550145';
const AGENT_CALLER = '+15555550186';

// The second server's secrets: none may reach a body or the log.
const ENV_AUTH_TOKEN = randomBytes(16).toString('hex');
const AGENT_TOKEN = randomBytes(24).toString('base64url');
const KEY = randomBytes(32).toString('base64');
const PUBLIC_BASE = 'https://ivr.example.test/twilio';
const prefix = `callflow-example-server-${randomUUID().slice(0, 8)}`;

/** Every response body the client got, from both servers, for the leak checks at the end. */
const bodies: string[] = [];
const record = (body: string) => void bodies.push(body);

// ---- the servers ----

let plain: RunningServer;
let strict: RunningServer;
let deployed: RunningServer | undefined;
let deployedUnavailable: Error | undefined;
let redis: Redis | undefined;

beforeAll(async () => {
  const dist = join(ROOT, 'packages', 'adapters-twilio', 'dist', 'index.js');
  if (!existsSync(dist)) throw new Error(`the example server runs the built packages: ${dist} is missing (npm run build first)`);
  const plainStarted = startServer({ LOG_LEVEL: 'debug', CALLFLOW_RECORDING: 'none' });
  plainStarted.catch(() => undefined); // awaited below, once the other servers are started
  const strictStarted = startServer({});
  strictStarted.catch(() => undefined);
  redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2_000 });
  redis.on('error', () => undefined); // reported once, below, as the reason the Redis tests fail
  try {
    await redis.connect();
    await redis.ping();
    deployed = await startServer({
      TWILIO_AUTH_TOKEN: ENV_AUTH_TOKEN,
      PUBLIC_BASE_URL: PUBLIC_BASE,
      AGENT_API_TOKEN: AGENT_TOKEN,
      CALLFLOW_REDIS_URL: REDIS_URL,
      CALLFLOW_REDIS_PREFIX: prefix,
      CALLFLOW_KEY: KEY,
      FALLBACK_QUEUE: 'example-fallback',
      CALLFLOW_RECORDING: 'none',
    });
  } catch (error) {
    deployedUnavailable = new Error(`the configured server needs Redis at ${REDIS_URL} (.ci/run starts one): ${(error as Error).message}`);
  }
  plain = await plainStarted;
  strict = await strictStarted;
}, 20_000);

afterAll(async () => {
  await Promise.all([stopServer(plain), stopServer(strict), stopServer(deployed)]);
  if (redis?.status === 'ready') await deletePrefix(redis, prefix);
  redis?.disconnect();
});

// ---- with every default ----

describe('the example server with its defaults', () => {
  const base = () => `${plain.local}/twilio`;
  const call = (from: string, to: string) => new TwilioCall({ publicBase: base(), local: plain.local, token: LOCAL_TEST_TOKEN, from, to, record });

  it('prints its configuration, the URLs for Twilio, the numbers and the stand-in rules, without the token', () => {
    const out = plain.stdout();
    expect(out).toMatch(/^ {2}PORT +0: any free port \(bound \d+\)$/m);
    expect(out).toMatch(/^ {2}TWILIO_AUTH_TOKEN +not set: the documented local test token/m);
    expect(out).toContain(`POST ${base()}/voice`);
    expect(out).toContain(`POST ${base()}/status`);
    expect(out).toContain(`POST ${base()}/fallback`);
    expect(out).toMatch(new RegExp(`^ {2}\\${LINES.billing} {2}billing-line`, 'm'));
    expect(out).toMatch(new RegExp(`^ {2}\\${LINES.partner} {2}masked-callback`, 'm'));
    expect(out).toMatch(/^ {2}card-payment +.*7 declined/m);
    // Each secure flow: how the card is keyed in, and the recording as declared.
    expect(out).toMatch(/^ {2}CALLFLOW_RECORDING +none: declared that no call is recorded/m);
    expect(out).toMatch(/^ {2}card-payment +gather: <Gather>, the digits reach this server in Twilio's requests \(PCI mode on the account\); calls declared not recorded \(CALLFLOW_RECORDING=none\)$/m);
    expect(out).toMatch(/^ {2}agent-card-payment +gather: .*calls declared not recorded/m);
    expect((out).includes(LOCAL_TEST_TOKEN), 'must not be there').toBe(false);
    // The README documents the token an outside client signs with.
    expect(README).toContain(LOCAL_TEST_TOKEN);
  });

  it('runs the billing line into the secure card payment (calls declared unrecorded): verbs and attributes at each step, the last four digits read back', async () => {
    const caller = call(BILLING_CALLER, LINES.billing);
    let doc = await caller.twiml(`${base()}/voice`, { CallStatus: 'ringing' });
    expect(verbs(doc)).toEqual(['Say', 'Gather']);
    expect(says(doc)).toEqual(['Welcome to Example Energy billing.']);
    let gather = only(doc, 'Gather');
    expect(gather.attrs).toMatchObject({ input: 'dtmf', numDigits: '10', timeout: '8', method: 'POST', actionOnEmptyResult: 'true' });
    expect(says(gather)).toEqual(['Please key in your ten-digit account number.']);
    const billing = actionParts(base(), gather.attrs.action!);
    expect(billing).toMatchObject({ turn: 1, recordingPaused: false });

    // Account number ending in 4: found, 64.50 due.
    doc = await caller.twiml(gather.attrs.action!, { Digits: '1234567894' });
    expect(verbs(doc)).toEqual(['Gather']);
    gather = only(doc, 'Gather');
    expect(gather.attrs).toMatchObject({ input: 'dtmf', numDigits: '1', timeout: '5', method: 'POST' });
    expect(says(gather)).toEqual(['You have 64.5 pounds to pay. To pay it now by card, press 1. To speak to our billing team, press 2.']);
    expect(actionParts(base(), gather.attrs.action!)).toEqual({ sessionId: billing.sessionId, turn: 2, recordingPaused: false });

    // 1: into the secure flow, a session of its own; no call is recorded, so nothing is paused.
    doc = await caller.twiml(gather.attrs.action!, { Digits: '1' });
    expect(verbs(doc)).toEqual(['Gather']);
    gather = only(doc, 'Gather');
    expect(gather.attrs).toMatchObject({ input: 'dtmf', numDigits: '19', finishOnKey: '#', timeout: '10', method: 'POST' });
    expect(says(gather)).toEqual(['Please key in your card number, then the hash key.']);
    const payment = actionParts(base(), gather.attrs.action!);
    expect(payment.sessionId).not.toBe(billing.sessionId);
    expect(payment).toMatchObject({ turn: 3, recordingPaused: true });
    expect(plain.stdout().includes('"rest":"pauseRecording"'), 'no pause asked for').toBe(false);
    expect(plain.stdout().includes('RECORDING_NOT_PAUSED'), 'not refused').toBe(false);

    doc = await caller.twiml(gather.attrs.action!, { Digits: CARD });
    gather = only(doc, 'Gather');
    expect(gather.attrs).toMatchObject({ numDigits: '4', timeout: '8' });
    expect(says(gather)).toEqual(['Please key in the expiry date as four digits, month then year.']);
    expect(actionParts(base(), gather.attrs.action!)).toEqual({ sessionId: payment.sessionId, turn: 4, recordingPaused: true });

    doc = await caller.twiml(gather.attrs.action!, { Digits: EXPIRY });
    gather = only(doc, 'Gather');
    expect(gather.attrs).toMatchObject({ numDigits: '4', timeout: '8' });
    expect(says(gather)).toEqual(['And the security code from the back of the card.']);

    // Security code ending in 4: approved. The read-back the flow asks for: the last four digits only.
    const lastUrl = gather.attrs.action!;
    const paid = await caller.post(lastUrl, { Digits: CVV });
    doc = parseTwiml(paid.body);
    expect(verbs(doc)).toEqual(['Say', 'Hangup']);
    expect(says(doc)).toEqual(['Thank you. The payment with the card ending 2832 was approved. Your reference is PAY-7004.']);
    // Twilio retrying the same callback gets the same answer (the card is not charged twice).
    expect((await caller.post(lastUrl, { Digits: CVV })).body).toBe(paid.body);

    const status = await caller.twiml(`${base()}/status`, { CallStatus: 'completed', CallDuration: '95' });
    expect(verbs(status)).toEqual([]);
    await logLine(plain, new RegExp(`"sessionId":"${payment.sessionId}".*"end":"disconnect".*"msg":"session ended"`));
  });

  it('runs the masked callback: the client dialled through the proxy number, a busy line tried again', async () => {
    const caller = call(PARTNER_CALLER, LINES.partner);
    let doc = await caller.twiml(`${base()}/voice`, { CallStatus: 'ringing' });
    expect(verbs(doc)).toEqual(['Say', 'Gather']);
    expect(says(doc)).toEqual(['Welcome to the partner line.']);
    let gather = only(doc, 'Gather');
    expect(gather.attrs).toMatchObject({ input: 'dtmf', numDigits: '8', finishOnKey: '#', timeout: '8' });
    expect(says(gather)).toEqual(['Please key in the eight-digit application number, then the hash key.']);

    // Application number ending in 8: open.
    doc = await caller.twiml(gather.attrs.action!, { Digits: '12345678' });
    expect(verbs(doc)).toEqual(['Say', 'Dial']);
    expect(says(doc)).toEqual(["Connecting you to the client now. Neither of you will see the other's number."]);
    let dial = only(doc, 'Dial');
    // The client sees the proxy number; the caller hears no number. The client's number is in
    // the one place Twilio must read it: the <Number> it dials.
    expect(dial.attrs).toMatchObject({ callerId: '+15555550100', timeout: '30', method: 'POST' });
    expect(dial.children.map((c) => [c.name, c.text])).toEqual([['Number', CLIENT_PHONE]]);
    const session = actionParts(base(), dial.attrs.action!).sessionId;

    doc = await caller.twiml(dial.attrs.action!, { DialCallStatus: 'busy', DialCallDuration: '0' });
    expect(verbs(doc)).toEqual(['Say', 'Gather']);
    expect(says(doc)).toEqual(["The client's line is busy."]);
    gather = only(doc, 'Gather');
    expect(gather.attrs).toMatchObject({ numDigits: '1' });
    expect(says(gather)).toEqual(['To try the client again, press 1. To speak to the partner desk, press 2.']);

    doc = await caller.twiml(gather.attrs.action!, { Digits: '1' });
    dial = only(doc, 'Dial');
    expect(dial.attrs).toMatchObject({ callerId: '+15555550100' });
    expect(actionParts(base(), dial.attrs.action!).sessionId).toBe(session);

    doc = await caller.twiml(dial.attrs.action!, { DialCallStatus: 'completed', DialCallDuration: '42' });
    expect(verbs(doc)).toEqual(['Hangup']);
    await caller.twiml(`${base()}/status`, { CallStatus: 'completed' });
  });

  it('refuses a forged, a missing or a mis-addressed signature with 403, and touches no session', async () => {
    const caller = call(BILLING_CALLER, LINES.billing);
    const refused = [
      await caller.post(`${base()}/voice`, {}, (u, p) => twilio.getExpectedTwilioSignature(`${LOCAL_TEST_TOKEN}-forged`, u, p)),
      await caller.post(`${base()}/voice`, {}, () => undefined),
      await caller.post(`${base()}/voice`, {}, (_u, p) => twilio.getExpectedTwilioSignature(LOCAL_TEST_TOKEN, 'https://elsewhere.example.test/twilio/voice', p)),
      // Signed, then a parameter changed on the way.
      await caller.post(`${base()}/voice`, { To: LINES.partner }, (u, p) => twilio.getExpectedTwilioSignature(LOCAL_TEST_TOKEN, u, { ...p, To: LINES.billing })),
    ];
    expect(refused.map((a) => a.status)).toEqual([403, 403, 403, 403]);
    for (const a of refused) expect(a.body).not.toMatch(/<Response|Say|Gather/);
    expect((plain.stdout()).includes(`"callSid":"${caller.callSid}"`), 'must not be there').toBe(false);
  });

  it('keeps the agent API off without AGENT_API_TOKEN: 404', async () => {
    const response = await fetch(`${plain.local}/agent/secure-call`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${AGENT_TOKEN}` },
      body: JSON.stringify({ callSid: `CA${'1'.repeat(32)}`, agentId: 'agent-42', conversationId: 'conv-1', flow: 'agent-card-payment', inputs: { amount: 10, invoiceId: 'INV-1' } }),
    });
    bodies.push(await response.text());
    expect(response.status).toBe(404);
  });
});

// ---- with every default: calls may be recorded, and there is no Twilio REST client to pause it ----

describe('the example server with every default', () => {
  const base = () => `${strict.local}/twilio`;

  it('says that its secure flows are refused, and why', () => {
    const out = strict.stdout();
    expect(out).toMatch(/^ {2}CALLFLOW_RECORDING +not set \(pause\): calls may be recorded; without the Twilio REST client the recording cannot be paused, so secure flows are refused/m);
    expect(out).toMatch(/^ {2}card-payment +gather: .*calls may be recorded and Twilio REST is not configured: refused \(the fail-safe answer\)$/m);
  });

  it('answers the secure card payment with the fail-safe, never a Gather for the card, and logs it at error', async () => {
    const caller = new TwilioCall({ publicBase: base(), local: strict.local, token: LOCAL_TEST_TOKEN, from: BILLING_CALLER, to: LINES.billing, record });
    let doc = await caller.twiml(`${base()}/voice`, { CallStatus: 'ringing' });
    doc = await caller.twiml(only(doc, 'Gather').attrs.action!, { Digits: '1234567894' });
    const refused = await caller.post(only(doc, 'Gather').attrs.action!, { Digits: '1' });
    expect(refused.status).toBe(200);
    doc = parseTwiml(refused.body);
    expect(verbs(doc)).toEqual(['Say', 'Enqueue']);
    expect(only(doc, 'Enqueue').text).toBe('advisors');
    expect(refused.body.includes('Gather'), 'no Gather may ask for the card').toBe(false);
    const line = await logLine(strict, /"code":"RECORDING_NOT_PAUSED"/);
    expect(line).toMatchObject({ level: 50, msg: expect.stringMatching(/^webhook: a secure flow was not entered: the call recording could not be paused \(Twilio REST is not configured/) });
    await logLine(strict, /"flow":"card-payment","end":"hangup","msg":"session ended"/);
    await caller.twiml(`${base()}/status`, { CallStatus: 'completed' });
  });

  it('logs refused requests at warn, with the URL the signature was checked against', async () => {
    const caller = new TwilioCall({ publicBase: base(), local: strict.local, token: `${LOCAL_TEST_TOKEN}-forged`, from: BILLING_CALLER, to: LINES.billing, record });
    expect((await caller.post(`${base()}/voice`)).status).toBe(403);
    const line = await logLine(strict, /"refused":"signature"/);
    expect(line).toMatchObject({ level: 40, status: 403, method: 'POST', path: '/twilio/voice', signedUrl: `${base()}/voice` });
    expect(JSON.stringify(line).includes(BILLING_CALLER), 'no parameter value').toBe(false);
  });
});

// ---- configured as behind a tunnel: its own token, a public URL, Redis, the agent API ----

describe('the example server configured for a real number behind a tunnel', () => {
  const call = (from: string, to: string, token = ENV_AUTH_TOKEN) => new TwilioCall({ publicBase: PUBLIC_BASE, local: deployed!.local, token, from, to, record });
  const agentApi = async (body: unknown, authorization?: string) => {
    const response = await fetch(`${deployed!.local}/agent/secure-call`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    bodies.push(text);
    return { status: response.status, text, json: () => JSON.parse(text) as Record<string, unknown> };
  };
  const handOver = (callSid: string) => ({ callSid, agentId: 'agent-42', conversationId: `conv-${callSid.slice(-6)}`, flow: 'agent-card-payment', inputs: { amount: 42.5, invoiceId: 'INV-2291' } });

  // Each test fails with the reason (none is skipped) when the server could not be started.
  beforeEach(() => {
    if (deployedUnavailable) throw deployedUnavailable;
  });

  it('says where its settings came from, and prints none of its secrets', () => {
    const out = deployed!.stdout();
    expect(out).toMatch(/^ {2}TWILIO_AUTH_TOKEN +set, from the environment$/m);
    expect(out).toMatch(/^ {2}CALLFLOW_KEY +set, from the environment/m);
    expect(out).toContain(`POST ${PUBLIC_BASE}/voice`);
    expect(out).toMatch(/^ {2}FALLBACK_QUEUE +example-fallback$/m);
    for (const secret of [ENV_AUTH_TOKEN, AGENT_TOKEN, KEY]) expect((out).includes(secret), 'must not be there').toBe(false);
  });

  it('refuses requests signed with the documented local test token, or for the address it listens on', async () => {
    const withLocalToken = call(BILLING_CALLER, LINES.billing, LOCAL_TEST_TOKEN);
    expect((await withLocalToken.post(`${PUBLIC_BASE}/voice`)).status).toBe(403);
    // Signed over the local address instead of the public URL Twilio calls.
    const misaddressed = call(BILLING_CALLER, LINES.billing);
    const answer = await misaddressed.post(`${PUBLIC_BASE}/voice`, {}, (_u, p) => twilio.getExpectedTwilioSignature(ENV_AUTH_TOKEN, `${deployed!.local}/twilio/voice`, p));
    expect(answer.status).toBe(403);
  });

  it('answers the agent API 401 without the bearer token or with a wrong one', async () => {
    const callSid = `CA${randomBytes(16).toString('hex')}`;
    const none = await agentApi(handOver(callSid));
    const wrong = await agentApi(handOver(callSid), `Bearer ${AGENT_TOKEN.slice(0, -1)}x`);
    const basic = await agentApi(handOver(callSid), `Basic ${Buffer.from(`agent:${AGENT_TOKEN}`).toString('base64')}`);
    expect([none.status, wrong.status, basic.status]).toEqual([401, 401, 401]);
    expect(await redis!.exists(`${prefix}:agent:{agent-42}`)).toBe(0);
  });

  it('hands a caller to the secure payment for the agent (200), and back to the agent with the last four digits only', async () => {
    const caller = call(AGENT_CALLER, LINES.partner);
    const started = await agentApi(handOver(caller.callSid), `Bearer ${AGENT_TOKEN}`);
    expect(started.status, started.text).toBe(200);
    const { sessionId, twiml } = started.json() as { sessionId: string; twiml: string };
    expect(await redis!.exists(`${prefix}:agent:{agent-42}`)).toBe(1);
    let doc = parseTwiml(twiml);
    expect(verbs(doc)).toEqual(['Say', 'Gather']);
    expect(says(doc)).toEqual(['You are paying invoice INV-2291. Your agent cannot hear the numbers you key in.']);
    let gather = only(doc, 'Gather');
    expect(gather.attrs).toMatchObject({ numDigits: '19', finishOnKey: '#', timeout: '10' });
    expect(actionParts(PUBLIC_BASE, gather.attrs.action!)).toMatchObject({ sessionId, recordingPaused: true });

    // The agent is busy with this caller: a second hand-over is refused, with a code and no stack.
    const busy = await agentApi(handOver(`CA${randomBytes(16).toString('hex')}`), `Bearer ${AGENT_TOKEN}`);
    expect(busy.status).toBe(409);
    expect(busy.json()).toEqual({ error: 'AGENT_RESERVED', message: "agent 'agent-42' is already reserved by another secure session" });
    const malformed = await agentApi('{"callSid":', `Bearer ${AGENT_TOKEN}`);
    expect([malformed.status, malformed.json().error]).toEqual([400, 'BAD_JSON']);
    const untyped = await agentApi({ ...handOver(`CA${randomBytes(16).toString('hex')}`), agentId: 'agent-7', inputs: { amount: '42.50', invoiceId: 'INV-1' } }, `Bearer ${AGENT_TOKEN}`);
    expect([untyped.status, untyped.json()]).toEqual([400, { error: 'FLOW_INPUT_INVALID', message: "agent-card-payment: the input 'amount' must be a number, not a string" }]);
    expect(await redis!.exists(`${prefix}:agent:{agent-7}`)).toBe(0);

    doc = await caller.twiml(gather.attrs.action!, { Digits: CARD });
    gather = only(doc, 'Gather');
    doc = await caller.twiml(gather.attrs.action!, { Digits: EXPIRY });
    gather = only(doc, 'Gather');
    expect(says(gather)).toEqual(['And the three or four digit security code from the back of the card.']);
    doc = await caller.twiml(gather.attrs.action!, { Digits: AGENT_CVV });
    expect(verbs(doc)).toEqual(['Say', 'Say', 'Dial']);
    expect(says(doc)).toEqual(['Thank you. The payment with the card ending 2832 was approved. Your reference is PAY-7002.', 'Putting you back through to your agent.']);
    const client = only(only(doc, 'Dial'), 'Client');
    expect(client.children.map((c) => [c.name, c.text || c.attrs])).toEqual([
      ['Identity', 'agent-42'],
      ['Parameter', { name: 'paymentRef', value: 'PAY-7002' }],
      ['Parameter', { name: 'maskedCard', value: '2832' }],
    ]);
    await logLine(deployed!, new RegExp(`"sessionId":"${sessionId}".*"agentId":"agent-42".*"reason":"returnToAgent"`));
    expect(await redis!.exists(`${prefix}:agent:{agent-42}`)).toBe(0);

    // What the run left in Redis: sealed, with no card, expiry, code or caller number in clear.
    const { keys, hits } = await findClearSecrets(redis!, prefix, [CARD, EXPIRY, AGENT_CVV, AGENT_CALLER]);
    expect(keys).toBeGreaterThan(0);
    expect(hits).toEqual([]);

    // Handed over again, then the server stops: the reservation is let go on the way out.
    const again = await agentApi(handOver(`CA${randomBytes(16).toString('hex')}`), `Bearer ${AGENT_TOKEN}`);
    expect(again.status).toBe(200);
  });
});

// ---- at the end: stopping, and what never left the servers ----

describe('after the calls', () => {
  it('stops on SIGTERM: exit code 0, agents still reserved released', async () => {
    expect(await stopServer(plain)).toBe(0);
    expect(await stopServer(strict)).toBe(0);
    expect(plain.stdout()).toMatch(/"msg":"stopped"/);
    if (deployedUnavailable) throw deployedUnavailable;
    expect(await stopServer(deployed)).toBe(0);
    expect(deployed!.stdout()).toMatch(/"agentId":"agent-42","reason":"shutdown","msg":"agent released"/);
    expect(await redis!.exists(`${prefix}:agent:{agent-42}`)).toBe(0);
  });

  it('put no card number, expiry, security code or caller number in any response body or in either log', () => {
    const logs = [plain.stdout(), plain.stderr(), strict.stdout(), strict.stderr(), deployed?.stdout() ?? '', deployed?.stderr() ?? ''].join('\n');
    expect(bodies.length).toBeGreaterThan(15);
    // A secret as a whole token, not digits inside a timestamp or a session id.
    const holds = (text: string, secret: string) => new RegExp(`(?<![0-9A-Za-z-])${secret.replace('+', '\\+')}(?![0-9A-Za-z-])`).test(text);
    for (const secret of [CARD, EXPIRY, CVV, AGENT_CVV, BILLING_CALLER, PARTNER_CALLER, AGENT_CALLER]) {
      expect(bodies.filter((b) => holds(b, secret)), secret).toEqual([]);
      expect(holds(logs, secret), `${secret} in the log`).toBe(false);
    }
    // The client's number: in the <Number> of the two Dials only, never in the log.
    expect(bodies.filter((b) => b.includes(CLIENT_PHONE)).map((b) => b.split(CLIENT_PHONE).length - 1)).toEqual([1, 1]);
    for (const b of bodies.filter((x) => x.includes(CLIENT_PHONE))) expect(b).toContain(`<Number>${CLIENT_PHONE}</Number>`);
    expect((logs).includes(CLIENT_PHONE), 'must not be there').toBe(false);
    // No card-like digit run, no stack trace.
    for (const b of bodies) {
      expect(b).not.toMatch(/\d{13,}/);
      expect(b).not.toMatch(/\n\s+at /);
    }
  });
});
