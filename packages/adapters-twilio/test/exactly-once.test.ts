/**
 * Exactly once under Twilio's retries, one live session per call, and only the current turn:
 * signed requests over loopback HTTP against the example flows, with a manual clock for the
 * registry's retention.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, ManualClock, type Runtime } from '@callflow/flow-core';
import { CallEndedError, CallInSessionError, MemoryCallRegistry, type TwilioWebhook } from '../src/index.js';
import { CallSimulator, parseTwiml, type XmlNode } from './call-simulator.js';
import { ScriptedExampleActions } from './example-actions.js';
import { AUTH_TOKEN, exampleFlow, RecordingRest, serveWebhook } from './fixtures.js';

const BILLING_LINE = '+15555550130';
const PROTECTED_LINE = '+15555550131';
const CALLER = '+15555550111';
const OTHER_CALLER = '+15555550112';
const RETENTION_MS = 60 * 60_000;
const CARD = '4916338506082832';

interface Served {
  baseUrl: string;
  webhook: TwilioWebhook;
  runtime: Runtime;
  actions: ScriptedExampleActions;
  clock: ManualClock;
  started: string[];
  problems: { code: string }[];
  close(): Promise<void>;
}

let served: Served | undefined;
afterEach(async () => {
  await served?.close();
  served = undefined;
});

async function serve(): Promise<Served> {
  const actions = new ScriptedExampleActions();
  actions.script = {
    findAccount: { found: true, accountId: 'ACC-1001', balance: 64.2 },
    takePayment: { approved: true, reference: 'PAY-9002', maskedCard: '2832' },
    lookupCaller: { found: true, protectedIdentity: true, name: 'Ada Lovelace' },
  };
  const runtime = createRuntime({
    flows: [
      exampleFlow('self-service-payment', 'billing-line'),
      exampleFlow('self-service-payment', 'card-payment'),
      exampleFlow('protected-identity'),
      exampleFlow('agent-card-payment'),
    ],
    actions,
  });
  const started: string[] = [];
  runtime.events.on('session.started', (e) => started.push(e.flow));
  const clock = new ManualClock(0);
  const server = await serveWebhook(runtime, {
    flowByNumber: { [BILLING_LINE]: 'billing-line', [PROTECTED_LINE]: 'protected-identity' },
    rest: new RecordingRest(),
    calls: new MemoryCallRegistry({ clock, retentionMs: RETENTION_MS }),
    taskRouter: { workflowSid: 'WW00000000000000000000000000000001' },
  });
  served = { ...server, runtime, actions, clock, started };
  return served;
}

const find = (doc: XmlNode, name: string) => doc.children.find((c) => c.name === name);
const actionOf = (body: string) => find(parseTwiml(body), 'Gather')!.attrs.action!;
const sessionOf = (url: string) => /\/voice\/([\w-]+)\/\d+/.exec(url)![1]!;

/** A billing-line call up to the pay menu: the account number keyed in. */
async function toPayMenu(s: Served, caller: CallSimulator) {
  const welcome = await caller.post('/voice');
  const menu = await caller.post(actionOf(welcome.body), { Digits: '1234567890' });
  return { welcome, menuAction: actionOf(menu.body) };
}

describe('a retried turn', () => {
  it('that hands the caller on to the card payment gets the card prompt again, and runs nothing again', async () => {
    const s = await serve();
    const caller = new CallSimulator(s.baseUrl, AUTH_TOKEN, { from: CALLER, to: BILLING_LINE });
    const { menuAction } = await toPayMenu(s, caller);
    const first = await caller.post(menuAction, { Digits: '1' });
    expect(parseTwiml(first.body).children.map((c) => c.name)).toContain('Gather');
    const again = await caller.post(menuAction, { Digits: '1' });
    expect(again.body).toBe(first.body);
    expect(s.started.filter((f) => f === 'card-payment')).toHaveLength(1);
    // The card session goes on from the retried answer's action URL.
    const expiry = await caller.post(actionOf(again.body), { Digits: CARD });
    expect(expiry.status).toBe(200);
    expect(expiry.body.includes(CARD)).toBe(false);
    expect(actionOf(expiry.body)).not.toBe(actionOf(again.body));
  });

  it('sent eight times at once gets one answer eight times', async () => {
    const s = await serve();
    const caller = new CallSimulator(s.baseUrl, AUTH_TOKEN, { from: CALLER, to: BILLING_LINE });
    const { menuAction } = await toPayMenu(s, caller);
    const answers = await Promise.all(Array.from({ length: 8 }, () => caller.post(menuAction, { Digits: '1' })));
    expect(new Set(answers.map((a) => a.body)).size).toBe(1);
    expect(answers[0]!.body).toContain('<Gather');
    expect(s.started.filter((f) => f === 'card-payment')).toHaveLength(1);
    expect(s.actions.count('findAccount')).toBe(1);
  });
});

describe('a retried new-call webhook', () => {
  it('after a call whose first turn ended it gets the first answer, and the caller lookup runs once', async () => {
    const s = await serve();
    const caller = new CallSimulator(s.baseUrl, AUTH_TOKEN, { from: CALLER, to: PROTECTED_LINE });
    const first = await caller.post('/voice');
    expect(first.body).toContain('<Enqueue');
    const again = await caller.post('/voice');
    expect(again.body).toBe(first.body);
    expect(s.actions.count('lookupCaller')).toBe(1);
    expect(s.started).toEqual(['protected-identity']);
  });

  it('after the call ended it starts nothing for as long as the call is remembered', async () => {
    const s = await serve();
    const caller = new CallSimulator(s.baseUrl, AUTH_TOKEN, { from: CALLER, to: BILLING_LINE });
    const { welcome } = await toPayMenu(s, caller);
    await caller.post('/status', { CallStatus: 'completed' });
    s.clock.advance(RETENTION_MS - 1);
    const late = await caller.post('/voice');
    expect(late.body).toBe(welcome.body);
    // Its Gather's action is for an ended session: nothing runs there either.
    const stray = await caller.post(actionOf(late.body), { Digits: '1234567890' });
    expect(stray.status).toBe(200);
    expect(s.started).toEqual(['billing-line']);
    expect(s.actions.count('findAccount')).toBe(1);
  });

  it('sent eight times at once starts one session: the copies get the first answer or a hold that asks again', async () => {
    const s = await serve();
    const caller = new CallSimulator(s.baseUrl, AUTH_TOKEN, { from: CALLER, to: PROTECTED_LINE });
    const answers = await Promise.all(Array.from({ length: 8 }, () => caller.post('/voice')));
    expect(s.started).toEqual(['protected-identity']);
    expect(s.actions.count('lookupCaller')).toBe(1);
    const first = answers.find((a) => a.body.includes('<Enqueue'))!;
    for (const a of answers) {
      if (a.body === first.body) continue;
      const hold = parseTwiml(a.body);
      expect(hold.children.map((c) => c.name)).toEqual(['Pause', 'Redirect']);
      expect(find(hold, 'Redirect')!.text).toBe(`${s.baseUrl}/voice?hold=1`);
      // Followed, the hold gets the first answer.
      expect((await caller.post(find(hold, 'Redirect')!.text, {})).body).toBe(first.body);
    }
  });
});

describe('one live session per call', () => {
  const handOver = (s: Served, callSid: string, agentId: string) =>
    s.webhook.startSecureCall({ callSid, conversationId: 'conv-1', agentId, flow: 'agent-card-payment', inputs: { amount: 42.5, invoiceId: 'INV-1001' } });

  it('refuses a second hand-over on a call with a live secure session (CALL_IN_SESSION); the status callback frees the agent', async () => {
    const s = await serve();
    const caller = new CallSimulator(s.baseUrl, AUTH_TOKEN, { from: CALLER, to: BILLING_LINE });
    await handOver(s, caller.callSid, 'agent-1');
    const second = handOver(s, caller.callSid, 'agent-2');
    await expect(second).rejects.toBeInstanceOf(CallInSessionError);
    await expect(second).rejects.toMatchObject({ code: 'CALL_IN_SESSION' });
    expect(await s.runtime.isReserved('agent-2')).toBe(false);
    await caller.post('/status', { CallStatus: 'completed' });
    expect(await s.runtime.isReserved('agent-1')).toBe(false);
    // The agent takes new work.
    const other = new CallSimulator(s.baseUrl, AUTH_TOKEN, { from: OTHER_CALLER, to: BILLING_LINE });
    await expect(handOver(s, other.callSid, 'agent-1')).resolves.toMatchObject({ twiml: expect.stringContaining('<Gather') });
  });

  it('refuses a hand-over on a call the new-call webhook runs a live session for', async () => {
    const s = await serve();
    const caller = new CallSimulator(s.baseUrl, AUTH_TOKEN, { from: CALLER, to: BILLING_LINE });
    await caller.post('/voice');
    await expect(handOver(s, caller.callSid, 'agent-1')).rejects.toMatchObject({ code: 'CALL_IN_SESSION' });
    expect(await s.runtime.isReserved('agent-1')).toBe(false);
  });

  it('takes a hand-over once the session has ended (the caller is with an agent), and refuses one after the call ended (CALL_ENDED)', async () => {
    const s = await serve();
    const caller = new CallSimulator(s.baseUrl, AUTH_TOKEN, { from: CALLER, to: PROTECTED_LINE });
    await caller.post('/voice'); // routed to a queue: the session has ended, the call has not
    await handOver(s, caller.callSid, 'agent-1');
    expect(await s.runtime.isReserved('agent-1')).toBe(true);
    await caller.post('/status', { CallStatus: 'completed' });
    expect(await s.runtime.isReserved('agent-1')).toBe(false);
    const late = handOver(s, caller.callSid, 'agent-2');
    await expect(late).rejects.toBeInstanceOf(CallEndedError);
    await expect(late).rejects.toMatchObject({ code: 'CALL_ENDED' });
    expect(await s.runtime.isReserved('agent-2')).toBe(false);
  });
});

describe('only the current turn', () => {
  /** A card session waiting for the expiry (its next turn is 4), and the billing call's caller. */
  async function cardSession(s: Served) {
    const caller = new CallSimulator(s.baseUrl, AUTH_TOKEN, { from: CALLER, to: BILLING_LINE });
    const { menuAction } = await toPayMenu(s, caller);
    const askCard = await caller.post(menuAction, { Digits: '1' });
    const askExpiry = await caller.post(actionOf(askCard.body), { Digits: CARD });
    const current = actionOf(askExpiry.body);
    expect(current).toMatch(/\/4(\?|$)/);
    const sessionId = sessionOf(current);
    return { caller, askExpiry, current, sessionId, before: await s.runtime.inspect(sessionId) };
  }

  it('answers a turn ahead of the current one with the current turn again, and changes nothing', async () => {
    const s = await serve();
    const { caller, askExpiry, current, sessionId, before } = await cardSession(s);
    const ahead = await caller.post(current.replace(/\/4(\?|$)/, '/9$1'), { Digits: '0327' });
    expect(ahead.body).toBe(askExpiry.body);
    expect(await s.runtime.inspect(sessionId)).toEqual(before);
    expect(s.problems.map((p) => p.code)).toContain('REQUEST_OUT_OF_ORDER');
    // The current turn is still taken.
    const next = await caller.post(current, { Digits: '0327' });
    expect(actionOf(next.body)).toMatch(/\/5(\?|$)/);
  });

  it('answers a request without a CallSid, or with another call\'s, with the fail-safe, and changes nothing', async () => {
    const s = await serve();
    const { caller, current, sessionId, before } = await cardSession(s);
    const stranger = new CallSimulator(s.baseUrl, AUTH_TOKEN, { from: OTHER_CALLER, to: BILLING_LINE });
    const foreign = await stranger.post(current, { Digits: '0327' });
    const none = await caller.post(current, { Digits: '0327', CallSid: '' });
    for (const answer of [foreign, none]) {
      expect(answer.status).toBe(200);
      const doc = parseTwiml(answer.body);
      expect(doc.children.map((c) => c.name)).toEqual(['Say', 'Hangup']);
      expect(answer.body.includes(sessionId)).toBe(false);
    }
    expect(await s.runtime.inspect(sessionId)).toEqual(before);
    expect(s.problems.filter((p) => p.code === 'CALL_MISMATCH')).toHaveLength(2);
    expect(actionOf((await caller.post(current, { Digits: '0327' })).body)).toMatch(/\/5(\?|$)/);
  });
});
