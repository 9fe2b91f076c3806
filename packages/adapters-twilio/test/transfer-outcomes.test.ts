/**
 * Every outcome Twilio documents for a hand-on has a defined answer, over signed HTTP:
 * `<Enqueue>`'s QueueResult and `<Dial>`'s DialCallStatus. The caller still on the line and
 * nobody took the call: the fail-safe (the apology, then the fallback queue), once. Connected
 * and over, or the caller gone: `<Hangup/>`. The fail-safe's own outcome never leads to another
 * fail-safe, and a transfer into the fallback queue itself is not followed by the same queue.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime } from '@callflow/flow-core';
import { DEFAULT_APOLOGY, DEFAULT_FALLBACK_APOLOGY, type TwilioWebhookOptions } from '../src/index.js';
import { CallSimulator, parseTwiml, type XmlNode } from './call-simulator.js';
import { AUTH_TOKEN, CLIENT_PHONE, exampleFlow, MANAGER, PARTNER_LINE, ScriptedActions, serveWebhook, startServer } from './fixtures.js';

const OPEN = { lookupApplication: { status: 'open', clientPhone: CLIENT_PHONE } };
const APPROVED = { chargeCard: { approved: true, reference: 'PAY-7001', maskedCard: '1111' } };
const CARD = '4111111111111111';
const WORKFLOW = 'WW00000000000000000000000000000001';
const FALLBACK = 'customer-care';

/** QueueResult values: the call was taken (or moved on, or the caller left it): over. */
const QUEUE_OVER = ['bridged', 'bridging-in-process', 'redirected', 'redirected-from-bridged', 'hangup'] as const;
/** QueueResult values: nobody took the call and the caller is still there. */
const QUEUE_NOT_TAKEN = ['queue-full', 'leave', 'error', 'system-error'] as const;
/** DialCallStatus values: connected, and over. */
const DIAL_OVER = ['completed', 'answered'] as const;
/** DialCallStatus values: the leg did not connect. */
const DIAL_NOT_CONNECTED = ['busy', 'no-answer', 'failed', 'canceled'] as const;

type Served = { close(): Promise<void> };
let served: Served | undefined;
afterEach(async () => {
  await served?.close();
  served = undefined;
});

const verbs = (doc: XmlNode) => doc.children.map((c) => c.name);
const find = (doc: XmlNode, name: string) => doc.children.find((c) => c.name === name);

/** The masked-callback flow, driven to its transfer to the partner desk (an `<Enqueue>` with an action). */
async function toPartnerDesk(extra: Partial<TwilioWebhookOptions> = {}) {
  const s = await startServer(OPEN, extra);
  served = s;
  const caller = new CallSimulator(s.baseUrl, AUTH_TOKEN, { from: MANAGER, to: PARTNER_LINE });
  const call = await caller.dialIn(['1234', { noInput: true }, '99']);
  const enqueue = find(call.documents.at(-1)!, 'Enqueue')!;
  expect(JSON.parse(enqueue.children[0]!.text)).toEqual({ queue: 'partner-desk' });
  return { s, caller, action: enqueue.attrs.action! };
}

/** The agent-card-payment flow, paid and returned to the agent: the `<Dial><Client>`, posting `dial` if given. */
async function backToAgent(dial?: (typeof DIAL_NOT_CONNECTED)[number]) {
  const s = await startServer(APPROVED, { fallbackQueue: FALLBACK });
  served = s;
  const caller = new CallSimulator(s.baseUrl, AUTH_TOKEN, { from: MANAGER, to: PARTNER_LINE });
  const started = await s.webhook.startSecureCall({
    callSid: caller.callSid, conversationId: 'conv-1', agentId: 'agent-42', flow: 'agent-card-payment', inputs: { amount: 42.5, invoiceId: 'INV-1001' },
  });
  const call = await caller.follow({ status: 200, body: started.twiml }, [CARD, '1228', '123', ...(dial !== undefined ? [{ dial }] : [])]);
  const dialDoc = call.documents.at(dial !== undefined ? -2 : -1)!;
  const agentDial = find(dialDoc, 'Dial')!;
  expect(agentDial.children[0]!.name).toBe('Client');
  return { s, caller, call, action: agentDial.attrs.action! };
}

/** The fail-safe: the fallback apology, then the fallback queue through TaskRouter, reporting to `/fallback/result`. */
function expectFailSafe(doc: XmlNode, baseUrl: string): string {
  expect(verbs(doc)).toEqual(['Say', 'Enqueue']);
  expect(doc.children[0]!.text).toBe(DEFAULT_FALLBACK_APOLOGY);
  const enqueue = doc.children[1]!;
  expect(enqueue.attrs).toEqual({ workflowSid: WORKFLOW, action: `${baseUrl}/fallback/result`, method: 'POST' });
  expect(JSON.parse(enqueue.children[0]!.text)).toEqual({ queue: FALLBACK, fallback: true });
  return enqueue.attrs.action!;
}

/** The last word: the apology and `<Hangup/>`, no further transfer. */
function expectLastWord(doc: XmlNode): void {
  expect(verbs(doc)).toEqual(['Say', 'Hangup']);
  expect(doc.children[0]!.text).toBe(DEFAULT_APOLOGY);
}

describe('a queue transfer (<Enqueue action>)', () => {
  it.each(QUEUE_NOT_TAKEN)('QueueResult=%s, the caller waiting: the fail-safe into the fallback queue, once', async (result) => {
    const { s, caller, action } = await toPartnerDesk({ fallbackQueue: FALLBACK });
    const failSafe = parseTwiml((await caller.post(action, { QueueResult: result, QueueTime: '7' })).body);
    const again = expectFailSafe(failSafe, s.baseUrl);
    expect(s.problems).toContainEqual({ code: 'TRANSFER_NOT_CONNECTED', message: `the transfer did not connect (${result})`, sessionId: action.split('/').at(-3) });
    // The fallback queue did not take the call either: the apology and a hang-up, never a second fail-safe.
    expectLastWord(parseTwiml((await caller.post(again, { QueueResult: result, QueueTime: '3' })).body));
    expect(s.problems).toContainEqual({ code: 'FALLBACK_NOT_CONNECTED', message: `the fail-safe transfer did not connect (${result})` });
  });

  it.each(QUEUE_OVER)('QueueResult=%s: over, <Hangup/>', async (result) => {
    const { s, caller, action } = await toPartnerDesk({ fallbackQueue: FALLBACK });
    expect(verbs(parseTwiml((await caller.post(action, { QueueResult: result, QueueTime: '12' })).body))).toEqual(['Hangup']);
    expect(s.problems).toEqual([]);
  });

  it.each(QUEUE_NOT_TAKEN)('QueueResult=%s after the caller hung up (CallStatus=completed): <Hangup/>', async (result) => {
    const { caller, action } = await toPartnerDesk({ fallbackQueue: FALLBACK });
    expect(verbs(parseTwiml((await caller.post(action, { QueueResult: result, CallStatus: 'completed' })).body))).toEqual(['Hangup']);
  });

  it('a QueueResult Twilio does not document, or none, counts as not taken: the fail-safe', async () => {
    const { s, caller, action } = await toPartnerDesk({ fallbackQueue: FALLBACK });
    expectFailSafe(parseTwiml((await caller.post(action, { QueueResult: 'constructor' })).body), s.baseUrl);
    expectFailSafe(parseTwiml((await caller.post(action, {})).body), s.baseUrl);
    // Never Twilio's value echoed in a report unless it is one Twilio documents.
    expect(s.problems.filter((p) => p.code === 'TRANSFER_NOT_CONNECTED').map((p) => p.message)).toEqual([
      'the transfer did not connect (unknown)',
      'the transfer did not connect (unknown)',
    ]);
  });

  it('a transfer into the fallback queue itself that is not taken gets the last word, not the same queue again', async () => {
    const { s, caller, action } = await toPartnerDesk({ fallbackQueue: 'partner-desk' });
    expect(action).toBe(`${s.baseUrl}/fallback/result`);
    for (const result of QUEUE_NOT_TAKEN) expectLastWord(parseTwiml((await caller.post(action, { QueueResult: result })).body));
    for (const result of QUEUE_OVER) expect(verbs(parseTwiml((await caller.post(action, { QueueResult: result })).body))).toEqual(['Hangup']);
  });

  it('without a fallback target here, the runtime\'s fail-safe queue, once; without either, the apology and <Hangup/>', async () => {
    const runtime = createRuntime({
      flows: [exampleFlow('masked-callback')],
      actions: new ScriptedActions(OPEN),
      failSafe: { say: 'Sorry, please hold.', transferQueue: 'overflow' },
    });
    const s = await serveWebhook(runtime, { flowByNumber: { [PARTNER_LINE]: 'masked-callback' }, taskRouter: { workflowSid: WORKFLOW } });
    served = s;
    const caller = new CallSimulator(s.baseUrl, AUTH_TOKEN, { from: MANAGER, to: PARTNER_LINE });
    const call = await caller.dialIn(['1234', { noInput: true }, '99']);
    const action = find(call.documents.at(-1)!, 'Enqueue')!.attrs.action!;
    const failSafe = parseTwiml((await caller.post(action, { QueueResult: 'queue-full' })).body);
    expect(verbs(failSafe)).toEqual(['Say', 'Enqueue']);
    expect(failSafe.children[0]!.text).toBe('Sorry, please hold.');
    const enqueue = failSafe.children[1]!;
    expect(JSON.parse(enqueue.children[0]!.text)).toEqual({ queue: 'overflow' });
    expect(enqueue.attrs.action).toBe(`${s.baseUrl}/fallback/result`);
    expectLastWord(parseTwiml((await caller.post(enqueue.attrs.action!, { QueueResult: 'queue-full' })).body));
  });
});

describe('the return to the agent (<Dial><Client action>)', () => {
  it.each(DIAL_NOT_CONNECTED)('DialCallStatus=%s, the caller waiting: the fail-safe into the fallback queue, once', async (status) => {
    const { s, caller, call } = await backToAgent(status);
    const again = expectFailSafe(call.documents.at(-1)!, s.baseUrl);
    expect(s.problems.map((p) => p.message)).toContain(`the transfer did not connect (${status})`);
    // The recording was resumed before the return to the agent, once; the fail-safe needs no second resume.
    expect(s.rest.performed.map((p) => p.type)).toEqual(['pauseRecording', 'resumeRecording']);
    expect(await s.runtime.isReserved('agent-42')).toBe(false);
    // The fallback queue does not take the call either: the last word.
    expectLastWord(parseTwiml((await caller.post(again, { QueueResult: 'queue-full' })).body));
    for (const body of call.bodies) expect(body.includes(CARD), 'must not be there').toBe(false);
  });

  it.each(DIAL_OVER)('DialCallStatus=%s: over, <Hangup/>', async (status) => {
    const { s, caller, action } = await backToAgent();
    expect(verbs(parseTwiml((await caller.post(action, { DialCallStatus: status, DialCallDuration: '30' })).body))).toEqual(['Hangup']);
    expect(s.problems).toEqual([]);
  });

  it.each(DIAL_NOT_CONNECTED)('DialCallStatus=%s after the caller hung up (CallStatus=completed): <Hangup/>', async (status) => {
    const { caller, action } = await backToAgent();
    expect(verbs(parseTwiml((await caller.post(action, { DialCallStatus: status, CallStatus: 'completed' })).body))).toEqual(['Hangup']);
  });
});

describe('the fail-safe\'s own outcome (POST /fallback/result)', () => {
  it('a fallback number: not connected → the last word; connected or the caller gone → <Hangup/>', async () => {
    const { s, caller } = await toPartnerDesk({ fallbackNumber: '+15555550160' });
    const failSafe = parseTwiml((await caller.post('/fallback', { ErrorCode: '11205' })).body);
    const dial = find(failSafe, 'Dial')!;
    expect(dial.attrs.action).toBe(`${s.baseUrl}/fallback/result`);
    for (const status of DIAL_NOT_CONNECTED) expectLastWord(parseTwiml((await caller.post(dial.attrs.action!, { DialCallStatus: status })).body));
    for (const status of DIAL_OVER) expect(verbs(parseTwiml((await caller.post(dial.attrs.action!, { DialCallStatus: status })).body))).toEqual(['Hangup']);
    for (const status of DIAL_NOT_CONNECTED) {
      expect(verbs(parseTwiml((await caller.post(dial.attrs.action!, { DialCallStatus: status, CallStatus: 'completed' })).body))).toEqual(['Hangup']);
    }
  });

  it('the fallback URL called because the result route failed answers the last word, not the fail-safe again', async () => {
    const { s, caller } = await toPartnerDesk({ fallbackQueue: FALLBACK });
    expectLastWord(parseTwiml((await caller.post('/fallback', { ErrorCode: '11200', ErrorUrl: `${s.baseUrl}/fallback/result` })).body));
    expectFailSafe(parseTwiml((await caller.post('/fallback', { ErrorCode: '11200', ErrorUrl: `${s.baseUrl}/voice` })).body), s.baseUrl);
  });

  it('answers 403 to an unsigned result', async () => {
    const { caller } = await toPartnerDesk({ fallbackQueue: FALLBACK });
    expect((await caller.post('/fallback/result', { QueueResult: 'queue-full' }, 'forged')).status).toBe(403);
  });
});
