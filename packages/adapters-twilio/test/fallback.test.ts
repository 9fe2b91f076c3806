/**
 * When things break: Twilio's Voice Fallback URL (`POST /fallback`, requested when the primary
 * webhook failed or timed out — 11200, 11205, …) and a session store that cannot be reached
 * (`StoreUnavailableError`), or a stored session the runtime refuses (`SessionRecordError`: damaged,
 * altered, or holding another session's sealed slot). All are answered with the fail-safe document: an apology, then the
 * fallback transfer (a queue or a number) when configured, else a hang-up — a 200 with TwiML,
 * never a 500, a stack trace or the store's error text.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  createRuntime,
  MemorySessionStore,
  StoreUnavailableError,
  type PutOptions,
  type PutResult,
  type SessionStore,
  type StoredSession,
} from '@callflow/flow-core';
import { createTwilioWebhook, DEFAULT_APOLOGY, DEFAULT_FALLBACK_APOLOGY, MemoryCallRegistry, type TwilioWebhookOptions } from '../src/index.js';
import twilio from 'twilio';
import { CallSimulator, parseTwiml, type XmlNode } from './call-simulator.js';
import { AUTH_TOKEN, CLIENT_PHONE, exampleFlow, MANAGER, PARTNER_LINE, RecordingRest, ScriptedActions, serveWebhook } from './fixtures.js';

const WORKFLOW = 'WW00000000000000000000000000000003';
const FALLBACK_NUMBER = '+15555550160';
const TRANSFER_CALLER_ID = '+15555550100';
/** What a Redis-backed store says when Redis is gone: it names the host, so it must not reach Twilio. */
const STORE_MESSAGE = 'Redis could not get: connect ECONNREFUSED 10.9.8.7:6379';

/** A session store that can be taken down: every operation then throws StoreUnavailableError. */
class SwitchableStore implements SessionStore {
  down = false;
  operations = 0;
  readonly inner = new MemorySessionStore();
  private check(): void {
    this.operations++;
    if (this.down) throw new StoreUnavailableError(STORE_MESSAGE, { cause: new Error('ECONNREFUSED') });
  }
  async get(sessionId: string): Promise<StoredSession | undefined> {
    this.check();
    return this.inner.get(sessionId);
  }
  async put(sessionId: string, value: string, options: PutOptions): Promise<PutResult> {
    this.check();
    return this.inner.put(sessionId, value, options);
  }
  async delete(sessionId: string): Promise<void> {
    this.check();
    return this.inner.delete(sessionId);
  }
}

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

async function start(extra: Partial<TwilioWebhookOptions> = {}) {
  const store = new SwitchableStore();
  const actions = new ScriptedActions({ lookupApplication: { status: 'open', clientPhone: CLIENT_PHONE } });
  const runtime = createRuntime({ flows: [exampleFlow('masked-callback')], actions, store });
  const events: string[] = [];
  runtime.events.on('session.started', (e) => events.push(`started ${e.sessionId}`));
  const calls = new MemoryCallRegistry();
  const served = await serveWebhook(runtime, { flowByNumber: { [PARTNER_LINE]: 'masked-callback' }, calls, ...extra });
  const problems = served.problems;
  close = served.close;
  const caller = new CallSimulator(served.baseUrl, AUTH_TOKEN, { from: MANAGER, to: PARTNER_LINE });
  return { ...served, runtime, store, actions, events, problems, calls, caller };
}

const verbs = (doc: XmlNode) => doc.children.map((c) => c.name);
/** Nothing of the failure in what Twilio gets. */
function expectNoLeak(body: string): void {
  for (const leak of ['Redis', 'ECONNREFUSED', '10.9.8.7', 'STORE_UNAVAILABLE', 'Error', 'Unavailable']) expect((body).includes(leak), 'must not be there').toBe(false);
  expect(body).not.toMatch(/ at \S+ \(|\.ts:\d+|\.js:\d+/);
}

describe('the fallback URL (POST /fallback)', () => {
  it('transfers to the fallback queue through the TaskRouter workflow, touching no session or store', async () => {
    const s = await start({ fallbackQueue: 'customer-care', taskRouter: { workflowSid: WORKFLOW } });
    // A live call whose next turn failed at Twilio's end (the primary timed out: 11205).
    const first = parseTwiml((await s.caller.post('/voice')).body);
    const action = first.children.find((c) => c.name === 'Gather')!.attrs.action!;
    const sessionId = action.split('/').at(-2)!;
    const before = await s.runtime.inspect(sessionId);
    const operations = s.store.operations;

    const answer = await s.caller.post('/fallback', { ErrorCode: '11205', ErrorUrl: action });
    expect(answer.status).toBe(200);
    const doc = parseTwiml(answer.body);
    expect(verbs(doc)).toEqual(['Say', 'Enqueue']);
    expect(doc.children[0]!.text).toBe(DEFAULT_FALLBACK_APOLOGY);
    const enqueue = doc.children[1]!;
    // Its own outcome goes to the fail-safe's result route (configuration only, never a second fail-safe).
    expect(enqueue.attrs).toEqual({ workflowSid: WORKFLOW, action: `${s.baseUrl}/fallback/result`, method: 'POST' });
    expect(JSON.parse(enqueue.children[0]!.text)).toEqual({ queue: 'customer-care', fallback: true });
    // Configuration only: not the caller's number, not the failed URL.
    expect((answer.body).includes(MANAGER), 'must not be there').toBe(false);
    expect((answer.body).includes(sessionId), 'must not be there').toBe(false);

    expect(s.store.operations).toBe(operations);
    expect(await s.runtime.inspect(sessionId)).toEqual(before);
    expect(s.actions.calls).toEqual([]);
    expect(s.problems).toEqual([{ code: 'TWILIO_FALLBACK', message: 'Twilio requested the fallback URL (Twilio error 11205)', sessionId }]);
  });

  it('dials the fallback number with the transfer caller id', async () => {
    const s = await start({ fallbackNumber: FALLBACK_NUMBER, transferCallerId: TRANSFER_CALLER_ID, fallbackApology: 'One moment, please.' });
    const doc = parseTwiml((await s.caller.post('/fallback', { ErrorCode: '11200', ErrorUrl: `${s.baseUrl}/voice` })).body);
    expect(verbs(doc)).toEqual(['Say', 'Dial']);
    expect(doc.children[0]!.text).toBe('One moment, please.');
    const dial = doc.children[1]!;
    expect(dial.attrs).toEqual({ callerId: TRANSFER_CALLER_ID, action: `${s.baseUrl}/fallback/result`, method: 'POST' });
    expect(dial.children).toEqual([{ name: 'Number', attrs: {}, children: [], text: FALLBACK_NUMBER }]);
    expect(s.problems).toEqual([{ code: 'TWILIO_FALLBACK', message: 'Twilio requested the fallback URL (Twilio error 11200)' }]);
  });

  it('enqueues into a plain Twilio queue without TaskRouter, and apologises and hangs up with no fallback configured', async () => {
    const queued = await start({ fallbackQueue: 'support' });
    const doc = parseTwiml((await queued.caller.post('/fallback')).body);
    expect(verbs(doc)).toEqual(['Say', 'Enqueue']);
    expect(doc.children[1]!.text).toBe('support');
    await close?.();

    const bare = await start();
    const hangup = parseTwiml((await bare.caller.post('/fallback', { ErrorCode: '11205' })).body);
    expect(verbs(hangup)).toEqual(['Say', 'Hangup']);
    expect(hangup.children[0]!.text).toBe(DEFAULT_APOLOGY);
    expect(bare.events).toEqual([]);
  });

  it('answers 403 to a forged or unsigned fallback request, reporting nothing', async () => {
    const s = await start({ fallbackQueue: 'customer-care' });
    const forged = await s.caller.post('/fallback', { ErrorCode: '11205' }, 'forged');
    expect(forged.status).toBe(403);
    expect((forged.body).includes('<Response'), 'must not be there').toBe(false);
    expect((await s.caller.post('/fallback', { ErrorCode: '11205' }, 'none')).status).toBe(403);
    expect(s.problems).toEqual([]);
    expect(s.store.operations).toBe(0);
  });

  it('refuses a fallback configuration that cannot work', () => {
    const runtime = createRuntime({ flows: [exampleFlow('masked-callback')] });
    const base = { runtime, authToken: AUTH_TOKEN, publicBaseUrl: 'https://ivr.example.com/twilio' };
    expect(() => createTwilioWebhook({ ...base, fallbackQueue: 'q', fallbackNumber: FALLBACK_NUMBER })).toThrow(/not both/);
    expect(() => createTwilioWebhook({ ...base, fallbackNumber: '5550160' })).toThrow(/E\.164/);
    expect(() => createTwilioWebhook({ ...base, fallbackQueue: ' ' })).toThrow(/empty/);
  });
});

describe('a session store that cannot be reached', () => {
  it('answers a new call with the fail-safe transfer, a 200 that leaks nothing, and reports STORE_UNAVAILABLE', async () => {
    const s = await start({ fallbackQueue: 'customer-care', taskRouter: { workflowSid: WORKFLOW } });
    s.store.down = true;
    const answer = await s.caller.post('/voice');
    expect(answer.status).toBe(200);
    const doc = parseTwiml(answer.body);
    expect(verbs(doc)).toEqual(['Say', 'Enqueue']);
    expect(JSON.parse(doc.children[1]!.children[0]!.text)).toEqual({ queue: 'customer-care', fallback: true });
    expectNoLeak(answer.body);
    expect(s.problems).toEqual([{ code: 'STORE_UNAVAILABLE', message: STORE_MESSAGE }]);
    expect(s.calls.size).toBe(0);
  });

  it('answers a callback with the fail-safe answer, runs no data action, and reports the session', async () => {
    const s = await start({ fallbackNumber: FALLBACK_NUMBER });
    const first = parseTwiml((await s.caller.post('/voice')).body);
    const action = first.children.find((c) => c.name === 'Gather')!.attrs.action!;
    const sessionId = action.split('/').at(-2)!;
    s.store.down = true;

    const answer = await s.caller.post(action, { Digits: '12345678' });
    expect(answer.status).toBe(200);
    expect(verbs(parseTwiml(answer.body))).toEqual(['Say', 'Dial']);
    expectNoLeak(answer.body);
    expect(s.actions.calls).toEqual([]);
    expect(s.problems).toEqual([{ code: 'STORE_UNAVAILABLE', message: STORE_MESSAGE, sessionId }]);

    // Twilio retrying the same callback gets the same safe answer; the wait route too.
    expect((await s.caller.post(action, { Digits: '12345678' })).body).toBe(answer.body);
    const wait = await s.caller.post(`${action}/wait`);
    expect(wait.status).toBe(200);
    expect(wait.body).toBe(answer.body);

    // The status callback when the call ends: an empty document, the failure reported.
    s.problems.length = 0;
    const status = await s.caller.status('completed');
    expect(status.status).toBe(200);
    expect(parseTwiml(status.body).children).toEqual([]);
    expectNoLeak(status.body);
    expect(s.problems).toEqual([{ code: 'STORE_UNAVAILABLE', message: STORE_MESSAGE, sessionId }]);
  });

  it('apologises and hangs up when no fallback transfer is configured (also through handleFetch)', async () => {
    const s = await start({ apology: 'Sorry, we cannot take your call right now.' });
    s.store.down = true;
    const answer = await s.caller.post('/voice');
    expect(answer.status).toBe(200);
    const doc = parseTwiml(answer.body);
    expect(verbs(doc)).toEqual(['Say', 'Hangup']);
    expect(doc.children[0]!.text).toBe('Sorry, we cannot take your call right now.');
    expectNoLeak(answer.body);

    const { default: twilio } = await import('twilio');
    const url = `${s.baseUrl}/voice`;
    const params = { CallSid: 'CAfetch', From: MANAGER, To: PARTNER_LINE };
    const response = await s.webhook.handleFetch(
      new Request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilio.getExpectedTwilioSignature(AUTH_TOKEN, url, params) },
        body: new URLSearchParams(params).toString(),
      }),
    );
    expect(response.status).toBe(200);
    expect(await response.text()).toBe(answer.body);
    expect(s.problems.map((p) => p.code)).toEqual(['STORE_UNAVAILABLE', 'STORE_UNAVAILABLE']);
  });

  it('carries on once the store is back', async () => {
    const s = await start({ fallbackQueue: 'customer-care' });
    s.store.down = true;
    expect(verbs(parseTwiml((await s.caller.post('/voice')).body))).toEqual(['Say', 'Enqueue']);
    s.store.down = false;
    const other = new CallSimulator(s.baseUrl, AUTH_TOKEN, { from: MANAGER, to: PARTNER_LINE });
    const call = await other.dialIn(['12345678', { dial: 'completed' }]);
    expect(call.outcome).toBe('hangup');
    expect(call.transcript).toContain(`dial number ${CLIENT_PHONE} from +15555550100`);
  });
});

/** An agent hands a caller to the card payment (the recording paused), on a store that can be taken down. */
async function secureCall(extra: Partial<TwilioWebhookOptions> = {}) {
  const store = new SwitchableStore();
  const runtime = createRuntime({ flows: [exampleFlow('agent-card-payment')], actions: new ScriptedActions({}), store });
  const rest = new RecordingRest();
  const served = await serveWebhook(runtime, { rest, calls: new MemoryCallRegistry(), ...extra });
  close = served.close;
  const caller = new CallSimulator(served.baseUrl, AUTH_TOKEN, { from: MANAGER, to: PARTNER_LINE });
  const { twiml } = await served.webhook.startSecureCall({
    callSid: caller.callSid,
    conversationId: 'conv-7',
    agentId: 'agent-7',
    flow: 'agent-card-payment',
    inputs: { amount: 12.5, invoiceId: 'INV-7' },
  });
  const action = parseTwiml(twiml).children.find((c) => c.name === 'Gather')!.attrs.action!;
  return { ...served, runtime, store, rest, caller, action };
}

describe('a fail-safe while the recording is paused (inside a secure flow)', () => {
  it('marks the action URLs while the recording is paused (Twilio signs them as written)', async () => {
    const s = await secureCall({ fallbackQueue: 'customer-care' });
    expect(s.rest.performed.map((p) => p.type)).toEqual(['pauseRecording']);
    expect(s.action).toMatch(/\/voice\/[0-9a-f-]{36}\/1\?recording=paused$/);
    // The marker is part of what Twilio signs: a signature of the marked URL does not fit it taken off.
    const params = { CallSid: s.caller.callSid, Digits: '1' };
    const forged = await fetch(s.action.replace('?recording=paused', ''), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilio.getExpectedTwilioSignature(AUTH_TOKEN, s.action, params) },
      body: new URLSearchParams(params).toString(),
    });
    expect(forged.status).toBe(403);
  });

  it('resumes the recording through the REST API before putting the caller through, when the store is down', async () => {
    const s = await secureCall({ fallbackQueue: 'customer-care' });
    s.store.down = true;
    const answer = await s.caller.post(s.action, { Digits: '4111111111111111', FinishedOnKey: '#' });
    expect(verbs(parseTwiml(answer.body))).toEqual(['Say', 'Enqueue']);
    expect(s.rest.performed).toEqual([
      { type: 'pauseRecording', callSid: s.caller.callSid },
      { type: 'resumeRecording', callSid: s.caller.callSid },
    ]);
    expect(s.problems.map((p) => p.code)).toEqual(['STORE_UNAVAILABLE']);
  });

  it('resumes it for the fallback URL too, from the failed URL Twilio reports', async () => {
    const s = await secureCall({ fallbackNumber: FALLBACK_NUMBER });
    const answer = await s.caller.post('/fallback', { ErrorCode: '11205', ErrorUrl: s.action });
    expect(verbs(parseTwiml(answer.body))).toEqual(['Say', 'Dial']);
    expect(s.rest.performed.map((p) => p.type)).toEqual(['pauseRecording', 'resumeRecording']);
  });

  it('leaves the recording alone when the fail-safe hangs up, or the call was not in a secure flow', async () => {
    const hangsUp = await secureCall();
    hangsUp.store.down = true;
    expect(verbs(parseTwiml((await hangsUp.caller.post(hangsUp.action, { Digits: '4111111111111111' })).body))).toEqual(['Say', 'Hangup']);
    expect(hangsUp.rest.performed.map((p) => p.type)).toEqual(['pauseRecording']);
    await close?.();

    const rest = new RecordingRest();
    const plain = await start({ fallbackQueue: 'customer-care', rest });
    const first = parseTwiml((await plain.caller.post('/voice')).body);
    const action = first.children.find((c) => c.name === 'Gather')!.attrs.action!;
    expect((action).includes('recording='), 'must not be there').toBe(false);
    plain.store.down = true;
    expect(verbs(parseTwiml((await plain.caller.post(action, { Digits: '12345678' })).body))).toEqual(['Say', 'Enqueue']);
    expect(rest.performed).toEqual([]);
  });
});

describe('a stored session the runtime refuses', () => {
  /** The session an action URL names. */
  const sessionOf = (action: string) => new URL(action).pathname.split('/').at(-2)!;

  it("answers the fail-safe for a session holding another call's sealed slot, resumes the recording, frees the agent", async () => {
    const s = await secureCall({ fallbackQueue: 'customer-care' });
    // A second call an agent hands over: its caller's card goes into its own secure slot.
    const other = await s.webhook.startSecureCall({
      callSid: 'CA00000000000000000000000000000042',
      conversationId: 'conv-8',
      agentId: 'agent-8',
      flow: 'agent-card-payment',
      inputs: { amount: 99, invoiceId: 'INV-8' },
      call: { caller: CLIENT_PHONE },
    });
    const otherId = sessionOf(parseTwiml(other.twiml).children.find((c) => c.name === 'Gather')!.attrs.action!);
    const id = sessionOf(s.action);
    const mine = JSON.parse((await s.store.inner.get(id))!.value) as Record<string, unknown>;
    mine.sealed = (JSON.parse((await s.store.inner.get(otherId))!.value) as Record<string, unknown>).sealed;
    const version = (await s.store.inner.get(id))!.version;
    await s.store.inner.put(id, JSON.stringify(mine), { expectedVersion: version });

    const answer = await s.caller.post(s.action, { Digits: '4111111111111111', FinishedOnKey: '#' });
    expect(answer.status).toBe(200);
    expect(verbs(parseTwiml(answer.body))).toEqual(['Say', 'Enqueue']);
    expect(s.rest.performed.map((p) => p.type)).toEqual(['pauseRecording', 'pauseRecording', 'resumeRecording']);
    expect(s.problems).toEqual([{ code: 'SESSION_SLOT_MISMATCH', message: expect.stringContaining('does not open for this session'), sessionId: id }]);
    expect(await s.runtime.isReserved('agent-7')).toBe(false);
    expect(await s.runtime.isReserved('agent-8')).toBe(true);
    for (const text of [answer.body, JSON.stringify(s.problems)]) {
      expect((text).includes('4111111111111111'), 'must not be there').toBe(false);
      expect((text).includes(CLIENT_PHONE), 'must not be there').toBe(false);
      expect((text).includes(MANAGER), 'must not be there').toBe(false);
    }
  });

  it('answers the fail-safe for a damaged record, reporting SESSION_RECORD_INVALID', async () => {
    const s = await secureCall();
    const id = sessionOf(s.action);
    const stored = (await s.store.inner.get(id))!;
    await s.store.inner.put(id, stored.value.replace('"status":"active"', '"status":"paused"'), { expectedVersion: stored.version });
    const answer = await s.caller.post(s.action, { Digits: '4111111111111111', FinishedOnKey: '#' });
    expect(verbs(parseTwiml(answer.body))).toEqual(['Say', 'Hangup']);
    expect(s.problems).toEqual([{ code: 'SESSION_RECORD_INVALID', message: expect.stringContaining('status'), sessionId: id }]);
    expect(await s.runtime.isReserved('agent-7')).toBe(false);
  });
});
