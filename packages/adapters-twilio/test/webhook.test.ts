import { afterEach, describe, expect, it } from 'vitest';
import { CallSimulator, parseTwiml, postForm, type XmlNode } from './call-simulator.js';
import { AUTH_TOKEN, CLIENT_PHONE, MANAGER, PARTNER_LINE, PROXY_NUMBER, startServer, withoutIds } from './fixtures.js';

const CARD = '4111111111111111';
const OPEN = { lookupApplication: { status: 'open', clientPhone: CLIENT_PHONE } };
const APPROVED = { chargeCard: { approved: true, reference: 'PAY-7001', maskedCard: '1111' } };

type Server = Awaited<ReturnType<typeof startServer>>;
let server: Server | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const verbs = (doc: XmlNode) => doc.children.map((c) => c.name);
const find = (doc: XmlNode, name: string) => doc.children.find((c) => c.name === name);
// Long digit runs (a card number, spaced or dashed) — session ids in the action URLs are not one.
const digitsLike = (body: string) =>
  body.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<id>').match(/\d[\d\s-]{11,}\d/g) ?? [];

describe('masked-callback over Twilio webhooks', () => {
  it('connects the manager to the client through the proxy number, the number only in the Dial', async () => {
    server = await startServer(OPEN);
    const caller = new CallSimulator(server.baseUrl, AUTH_TOKEN, { from: MANAGER, to: PARTNER_LINE });
    const call = await caller.dialIn(['12345678', { dial: 'completed' }]);

    const first = call.documents[0]!;
    expect(verbs(first)).toEqual(['Say', 'Gather']);
    const gather = find(first, 'Gather')!;
    expect(gather.attrs).toMatchObject({ input: 'dtmf', numDigits: '8', finishOnKey: '#', timeout: '8', actionOnEmptyResult: 'true', method: 'POST' });
    expect(gather.attrs.action).toMatch(new RegExp(`^${server.baseUrl}/voice/[\\w-]+/1$`));
    expect(gather.children.map((c) => c.name)).toEqual(['Say']);

    const dialDoc = call.documents[1]!;
    const dial = find(dialDoc, 'Dial')!;
    expect(dial.attrs).toMatchObject({ callerId: PROXY_NUMBER, timeout: '30' });
    expect(dial.attrs.action).toMatch(/\/voice\/[\w-]+\/2$/);
    expect(dial.children).toEqual([{ name: 'Number', attrs: {}, children: [], text: CLIENT_PHONE }]);

    expect(call.transcript).toContain(`dial number ${CLIENT_PHONE} from ${PROXY_NUMBER}`);
    expect(call.outcome).toBe('hangup');
    // The client's number is dialled, never said: no Say (inside a Gather or not) carries it.
    const said = call.transcript.filter((l) => l.startsWith('say:'));
    expect(said.length).toBeGreaterThan(2);
    for (const line of said) expect((line).includes('5555550142'), 'must not be there').toBe(false);
    for (const body of call.bodies) expect(body.split(CLIENT_PHONE).length - 1).toBeLessThanOrEqual(1);
    expect(server.actions.count('lookupApplication')).toBe(1);
    expect(server.calls.size).toBe(0);
  });

  it('dials again after a busy client when the manager presses 1', async () => {
    server = await startServer(OPEN);
    const caller = new CallSimulator(server.baseUrl, AUTH_TOKEN, { from: MANAGER, to: PARTNER_LINE });
    const call = await caller.dialIn(['12345678', { dial: 'busy' }, '1', { dial: 'completed' }]);
    expect(call.transcript).toContain("say: The client's line is busy.");
    expect(call.transcript.filter((l) => l.startsWith('dial number'))).toHaveLength(2);
    expect(call.outcome).toBe('hangup');
  });

  it('re-prompts after a Gather that heard nothing (actionOnEmptyResult posts back)', async () => {
    server = await startServer(OPEN);
    const caller = new CallSimulator(server.baseUrl, AUTH_TOKEN, { from: MANAGER, to: PARTNER_LINE });
    const call = await caller.dialIn([{ noInput: true }, '12345678', { dial: 'completed' }]);
    expect(call.transcript.filter((l) => l.startsWith('say: Please key in the eight-digit'))).toHaveLength(2);
    expect(call.outcome).toBe('hangup');
  });

  it('sends a caller with no valid number to the partner desk through the TaskRouter workflow', async () => {
    server = await startServer(OPEN);
    const caller = new CallSimulator(server.baseUrl, AUTH_TOKEN, { from: MANAGER, to: PARTNER_LINE });
    const call = await caller.dialIn(['1234', { noInput: true }, '99']);
    expect(call.outcome).toBe('enqueued');
    const enqueue = find(call.documents.at(-1)!, 'Enqueue')!;
    expect(enqueue.attrs.workflowSid).toBe('WW00000000000000000000000000000001');
    expect(JSON.parse(enqueue.children[0]!.text)).toEqual({ queue: 'partner-desk' });
    expect(server.calls.size).toBe(0);
  });

  it('asks how the transfer went; one that did not connect gets the fail-safe, once', async () => {
    server = await startServer(OPEN);
    const caller = new CallSimulator(server.baseUrl, AUTH_TOKEN, { from: MANAGER, to: PARTNER_LINE });
    const call = await caller.dialIn(['1234', { noInput: true }, '99']);
    const enqueue = find(call.documents.at(-1)!, 'Enqueue')!;
    expect(enqueue.attrs.action).toMatch(/\/voice\/[0-9a-f-]{36}\/\d+\/transfer$/);
    expect(enqueue.attrs.method).toBe('POST');
    // The queue was full: the runtime's apology and hang-up, with no further result URL.
    const full = parseTwiml((await caller.post(enqueue.attrs.action!, { QueueResult: 'queue-full', QueueTime: '0' })).body);
    expect(verbs(full)).toEqual(['Say', 'Hangup']);
    expect(find(full, 'Say')!.text).toMatch(/Sorry/);
    // Bridged to an agent and over (or the caller hung up in the queue): just hang up.
    for (const result of ['bridged', 'hangup']) {
      expect(verbs(parseTwiml((await caller.post(enqueue.attrs.action!, { QueueResult: result, QueueTime: '12' })).body))).toEqual(['Hangup']);
    }
    // The simulator posts a scripted queue result the same way.
    const again = await new CallSimulator(server.baseUrl, AUTH_TOKEN, { from: MANAGER, to: PARTNER_LINE }).dialIn(['1234', { noInput: true }, '99', { queue: 'queue-full' }]);
    expect(again.transcript).toContain('queue result: queue-full');
    expect(verbs(again.documents.at(-1)!)).toEqual(['Say', 'Hangup']);
    // A Dial transfer that was busy: the same fail-safe.
    const busy = parseTwiml((await caller.post(enqueue.attrs.action!, { DialCallStatus: 'busy' })).body);
    expect(verbs(busy)).toEqual(['Say', 'Hangup']);
    expect(server.problems.map((p) => p.code)).toContain('TRANSFER_NOT_CONNECTED');
  });
});

describe('agent-card-payment over Twilio webhooks', () => {
  const startPayment = async (s: Server, caller: CallSimulator) =>
    s.webhook.startSecureCall({
      callSid: caller.callSid,
      conversationId: 'conv-1',
      agentId: 'agent-42',
      flow: 'agent-card-payment',
      inputs: { amount: 42.5, invoiceId: 'INV-1001' },
    });

  it('takes the payment with the recording paused and returns the caller to the agent', async () => {
    server = await startServer(APPROVED);
    const caller = new CallSimulator(server.baseUrl, AUTH_TOKEN, { from: MANAGER, to: PARTNER_LINE });
    const started = await startPayment(server, caller);
    expect(await server.runtime.isReserved('agent-42')).toBe(true);
    // The recording is paused before the first TwiML that asks for card digits is served.
    expect(server.rest.performed).toEqual([{ type: 'pauseRecording', callSid: caller.callSid }]);

    const call = await caller.follow({ status: 200, body: started.twiml }, [CARD, '1228', '123']);
    expect(call.transcript).toContain('say: Thank you. The payment with the card ending 1111 was approved. Your reference is PAY-7001.');
    const last = call.documents.at(-1)!;
    const dial = find(last, 'Dial')!;
    const client = dial.children[0]!;
    expect(client.name).toBe('Client');
    expect(client.children.find((c) => c.name === 'Identity')!.text).toBe('agent-42');
    const parameters = Object.fromEntries(client.children.filter((c) => c.name === 'Parameter').map((c) => [c.attrs.name, c.attrs.value]));
    expect(parameters).toEqual({ paymentRef: 'PAY-7001', maskedCard: '1111' });
    expect(call.outcome).toBe('bridged');
    expect(server.rest.performed.map((p) => p.type)).toEqual(['pauseRecording', 'resumeRecording']);
    expect(await server.runtime.isReserved('agent-42')).toBe(false);
    expect(server.actions.count('chargeCard')).toBe(1);
    // No card data in any answer: the only read-back the flow asks for is the last four digits.
    for (const body of [started.twiml, ...call.bodies]) {
      expect((body).includes(CARD), 'must not be there').toBe(false);
      expect(withoutIds(body).includes('1228'), 'must not be there').toBe(false);
      expect(digitsLike(body)).toEqual([]);
    }
  });

  it('asks how the return to the agent went: an agent who does not pick up leaves the caller with the fail-safe', async () => {
    server = await startServer(APPROVED);
    const caller = new CallSimulator(server.baseUrl, AUTH_TOKEN, { from: MANAGER, to: PARTNER_LINE });
    const started = await startPayment(server, caller);
    const call = await caller.follow({ status: 200, body: started.twiml }, [CARD, '1228', '123', { dial: 'no-answer' }]);
    const back = find(call.documents.at(-2)!, 'Dial')!;
    expect(back.attrs.action).toMatch(/\/voice\/[0-9a-f-]{36}\/\d+\/transfer$/);
    expect(back.attrs.method).toBe('POST');
    // The recording was resumed before the return: the action URL no longer says it is paused.
    expect((back.attrs.action ?? '').includes('recording='), 'must not be there').toBe(false);
    expect(verbs(call.documents.at(-1)!)).toEqual(['Say', 'Hangup']);
    expect(server.problems.map((p) => p.code)).toContain('TRANSFER_NOT_CONNECTED');
    expect(await server.runtime.isReserved('agent-42')).toBe(false);
    for (const body of call.bodies) expect((body).includes(CARD), 'must not be there').toBe(false);
  });

  it('releases the agent when the caller hangs up inside the secure flow', async () => {
    server = await startServer(APPROVED);
    const caller = new CallSimulator(server.baseUrl, AUTH_TOKEN, { from: MANAGER, to: PARTNER_LINE });
    const started = await startPayment(server, caller);
    const call = await caller.follow({ status: 200, body: started.twiml }, [CARD], { hangUpWhenOutOfInput: true });
    expect(call.outcome).toBe('caller-hung-up');
    expect(await server.runtime.isReserved('agent-42')).toBe(false);
    expect(server.actions.count('chargeCard')).toBe(0);
    expect(server.calls.size).toBe(0);
    const view = await server.runtime.inspect(started.sessionId);
    expect(view?.status).toBe('ended');
  });
});

describe('signatures', () => {
  it('answers 403 to a forged signature and starts no session', async () => {
    server = await startServer(OPEN);
    const caller = new CallSimulator(server.baseUrl, AUTH_TOKEN, { from: MANAGER, to: PARTNER_LINE });
    const answer = await caller.post('/voice', {}, 'forged');
    expect(answer.status).toBe(403);
    expect((answer.body).includes('<Response'), 'must not be there').toBe(false);
    expect(server.sessionsStarted()).toBe(0);
    expect(server.calls.size).toBe(0);
  });

  it('answers 403 to an unsigned request and starts no session', async () => {
    server = await startServer(OPEN);
    const caller = new CallSimulator(server.baseUrl, AUTH_TOKEN, { from: MANAGER, to: PARTNER_LINE });
    expect((await caller.post('/voice', {}, 'none')).status).toBe(403);
    expect(server.sessionsStarted()).toBe(0);
  });

  it('answers 403 to a callback signed for another URL and leaves the session as it was', async () => {
    server = await startServer(OPEN);
    const caller = new CallSimulator(server.baseUrl, AUTH_TOKEN, { from: MANAGER, to: PARTNER_LINE });
    const first = parseTwiml((await caller.post('/voice')).body);
    const action = find(first, 'Gather')!.attrs.action!;
    const sessionId = action.split('/').at(-2)!;
    const before = await server.runtime.inspect(sessionId);
    // Signed for the right params but another URL (a replay of one call's request onto another session).
    const params = { CallSid: caller.callSid, Digits: '12345678' };
    const signature = (await import('twilio')).default.getExpectedTwilioSignature(AUTH_TOKEN, `${server.baseUrl}/voice/other/1`, params);
    const response = await fetch(action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
      body: new URLSearchParams(params).toString(),
    });
    expect(response.status).toBe(403);
    expect(await server.runtime.inspect(sessionId)).toEqual(before);
    expect(server.actions.count('lookupApplication')).toBe(0);
  });
});

describe('repeated, late and stray callbacks', () => {
  it('answers a repeated callback with the same TwiML and runs the data action once', async () => {
    server = await startServer(OPEN);
    const caller = new CallSimulator(server.baseUrl, AUTH_TOKEN, { from: MANAGER, to: PARTNER_LINE });
    const first = parseTwiml((await caller.post('/voice')).body);
    const action = find(first, 'Gather')!.attrs.action!;
    const one = await caller.post(action, { Digits: '12345678' });
    const two = await caller.post(action, { Digits: '12345678' });
    expect(one.status).toBe(200);
    expect(two).toEqual(one);
    expect(verbs(parseTwiml(one.body))).toEqual(['Say', 'Dial']);
    expect(server.actions.count('lookupApplication')).toBe(1);
  });

  it('answers a retried new-call webhook with the same TwiML and starts one session', async () => {
    server = await startServer(OPEN);
    const caller = new CallSimulator(server.baseUrl, AUTH_TOKEN, { from: MANAGER, to: PARTNER_LINE });
    const one = await caller.post('/voice');
    const two = await caller.post('/voice');
    expect(two).toEqual(one);
    expect(server.sessionsStarted()).toBe(1);
  });

  it('writes the CallSid entry at the start and at the end, not on every turn', async () => {
    server = await startServer(OPEN);
    const writes: string[] = [];
    const { calls } = server;
    const claim = calls.claim.bind(calls);
    const update = calls.update.bind(calls);
    calls.claim = async (sid, entry, when) => {
      writes.push(`claim ${when}`);
      return claim(sid, entry, when);
    };
    calls.update = async (sid, change, ifSession) => {
      writes.push(change.startTwiml !== undefined ? 'update+first' : change.callEnded ? 'update call ended' : change.sessionEnded ? 'update session ended' : 'update');
      return update(sid, change, ifSession);
    };
    const caller = new CallSimulator(server.baseUrl, AUTH_TOKEN, { from: MANAGER, to: PARTNER_LINE });
    // Three no-inputs and a busy client, then the call ends: seven callbacks, and the status callback.
    const call = await caller.dialIn([{ noInput: true }, { noInput: true }, '12345678', { dial: 'busy' }, '1', { dial: 'completed' }]);
    expect(call.outcome).toBe('hangup');
    expect(writes).toEqual(['claim new', 'update+first', 'update session ended', 'update call ended']);
  });

  it('answers a new-call webhook retried after the first callback with its first answer, starting nothing', async () => {
    server = await startServer(OPEN);
    const caller = new CallSimulator(server.baseUrl, AUTH_TOKEN, { from: MANAGER, to: PARTNER_LINE });
    const firstAnswer = await caller.post('/voice');
    const first = parseTwiml(firstAnswer.body);
    const second = await caller.post(find(first, 'Gather')!.attrs.action!, { Digits: '', FinishedOnKey: '' });
    const retried = await caller.post('/voice');
    expect(retried.body).toBe(firstAnswer.body);
    // Its Gather's action is then a late callback: the current wait again, nothing run.
    const late = await caller.post(find(parseTwiml(retried.body), 'Gather')!.attrs.action!, { Digits: '', FinishedOnKey: '' });
    expect(late.body).toBe(second.body);
    expect(server.sessionsStarted()).toBe(1);
  });

  it('answers a late callback for an earlier turn with the current wait, running nothing', async () => {
    server = await startServer(OPEN);
    const caller = new CallSimulator(server.baseUrl, AUTH_TOKEN, { from: MANAGER, to: PARTNER_LINE });
    const first = parseTwiml((await caller.post('/voice')).body);
    const turn1 = find(first, 'Gather')!.attrs.action!;
    const second = parseTwiml((await caller.post(turn1, { Digits: '1234' })).body); // wrong length: asked again
    const turn2 = find(second, 'Gather')!.attrs.action!;
    expect(turn2).toMatch(/\/2$/);
    const current = await caller.post(turn2, { Digits: '12345678' }); // → Dial (turn 3 waits on it)
    const late = await caller.post(turn1, { Digits: '87654321' });
    expect(late.status).toBe(200);
    expect(late.body).toBe(current.body);
    expect(verbs(parseTwiml(late.body))).toEqual(['Say', 'Dial']);
    expect(server.actions.count('lookupApplication')).toBe(1);
  });

  it('answers a callback for an unknown session with an apology and a hang-up', async () => {
    server = await startServer(OPEN);
    const caller = new CallSimulator(server.baseUrl, AUTH_TOKEN, { from: MANAGER, to: PARTNER_LINE });
    const answer = await caller.post('/voice/no-such-session/3', { Digits: '1' });
    expect(answer.status).toBe(200);
    expect(verbs(parseTwiml(answer.body))).toEqual(['Say', 'Hangup']);
    expect(server.problems.map((p) => p.code)).toEqual(['SESSION_NOT_FOUND']);
  });

  it('answers a call to a number with no flow with an apology and a hang-up', async () => {
    server = await startServer(OPEN);
    const caller = new CallSimulator(server.baseUrl, AUTH_TOKEN, { from: MANAGER, to: '+15555550000' });
    const answer = await caller.post('/voice');
    expect(verbs(parseTwiml(answer.body))).toEqual(['Say', 'Hangup']);
    expect(server.sessionsStarted()).toBe(0);
  });

  it('answers an empty document to a status callback for a call it does not know', async () => {
    server = await startServer(OPEN);
    const caller = new CallSimulator(server.baseUrl, AUTH_TOKEN, { from: MANAGER, to: PARTNER_LINE });
    const answer = await caller.status('completed');
    expect(answer.status).toBe(200);
    expect(parseTwiml(answer.body).children).toEqual([]);
  });

  it('never leaks a stack trace when the runtime fails', async () => {
    server = await startServer(OPEN, { resolveFlow: () => 'no-such-flow' });
    const caller = new CallSimulator(server.baseUrl, AUTH_TOKEN, { from: MANAGER, to: PARTNER_LINE });
    const answer = await caller.post('/voice');
    expect(answer.status).toBe(200);
    expect(verbs(parseTwiml(answer.body))).toEqual(['Say', 'Hangup']);
    expect(answer.body).not.toMatch(/at \w+ \(|\.ts:\d+|no-such-flow/);
    expect(server.problems[0]?.code).toBe('FLOW_INVALID');
  });
});

describe('HTTP edge', () => {
  it('refuses a body over the limit with 413', async () => {
    server = await startServer(OPEN, { maxBodyBytes: 1024 });
    const answer = await postForm(`${server.baseUrl}/voice`, { CallSid: 'CA1', To: PARTNER_LINE, Padding: 'x'.repeat(4096) }, AUTH_TOKEN);
    expect(answer.status).toBe(413);
    expect(server.sessionsStarted()).toBe(0);
  });

  it('answers 405 to a GET and 404 to an unknown path (after the signature check)', async () => {
    server = await startServer(OPEN);
    expect((await fetch(`${server.baseUrl}/voice`)).status).toBe(405);
    expect((await postForm(`${server.baseUrl}/nowhere`, { CallSid: 'CA1' }, AUTH_TOKEN)).status).toBe(404);
    expect((await postForm(`${server.baseUrl}/nowhere`, { CallSid: 'CA1' }, AUTH_TOKEN, 'none')).status).toBe(403);
  });

  it('serves the same call through handleFetch', async () => {
    server = await startServer(OPEN);
    const url = `${server.baseUrl}/voice`;
    const params = { CallSid: 'CAfetch', From: MANAGER, To: PARTNER_LINE };
    const signature = (await import('twilio')).default.getExpectedTwilioSignature(AUTH_TOKEN, url, params);
    const request = (sig?: string) =>
      new Request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...(sig ? { 'x-twilio-signature': sig } : {}) },
        body: new URLSearchParams(params).toString(),
      });
    expect((await server.webhook.handleFetch(request())).status).toBe(403);
    const response = await server.webhook.handleFetch(request(signature));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/xml/);
    expect(verbs(parseTwiml(await response.text()))).toEqual(['Say', 'Gather']);
  });
});
