/**
 * The recording around a secure flow, over signed HTTP on loopback: a secure flow is entered
 * only once Twilio confirmed the recording paused (the real `twilio` client against the REST
 * stand-in), or when the deployment declares that its calls are not recorded. Otherwise the
 * caller gets the fail-safe answer, never a <Gather> for the card.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, MemoryLogger, type Runtime } from '@callflow/flow-core';
import { twilioRest, type TwilioWebhookOptions } from '../src/index.js';
import { CallSimulator, parseTwiml, type XmlNode } from './call-simulator.js';
import { AUTH_TOKEN, exampleFlow, ScriptedActions, serveWebhook } from './fixtures.js';
import { standInClient, startTwilioStandIn, type TwilioStandIn } from './twilio-standin.js';

const BILLING_LINE = '+15555550130';
const CALLER = '+15555550188';
const ACCOUNT = '1234567894';
const FOUND = {
  findAccount: { found: true, accountId: 'ACC-1004', balance: 64.5 },
  takePayment: { approved: true, reference: 'PAY-7004', maskedCard: '1111' },
};
const RECORDING = /\/Calls\/CA\w+\/Recordings\/Twilio\.CURRENT\.json$/;

let close: (() => Promise<void>) | undefined;
let standIn: TwilioStandIn | undefined;
afterEach(async () => {
  await close?.();
  await standIn?.close();
  close = undefined;
  standIn = undefined;
});

const verbs = (doc: XmlNode) => doc.children.map((c) => c.name);

/** The billing line (→ the secure card payment) behind the webhook. */
async function start(options: Partial<TwilioWebhookOptions>) {
  const logger = new MemoryLogger();
  const runtime: Runtime = createRuntime({
    flows: [exampleFlow('self-service-payment', 'billing-line'), exampleFlow('self-service-payment', 'card-payment')],
    actions: new ScriptedActions(FOUND),
  });
  const ended: string[] = [];
  runtime.events.on('session.ended', (e) => ended.push(`${e.flow}:${e.end.type}`));
  const served = await serveWebhook(runtime, { flowByNumber: { [BILLING_LINE]: 'billing-line' }, fallbackQueue: 'advisors', logger, ...options });
  close = served.close;
  const caller = new CallSimulator(served.baseUrl, AUTH_TOKEN, { from: CALLER, to: BILLING_LINE });
  /** Dial in, key in the account number, then press 1 for the card payment: the answer to that. */
  const pressOneForCard = async () => {
    const first = parseTwiml((await caller.post('/voice')).body);
    const menu = parseTwiml((await caller.post(first.children.find((c) => c.name === 'Gather')!.attrs.action!, { Digits: ACCOUNT })).body);
    const action = menu.children.find((c) => c.name === 'Gather')!.attrs.action!;
    return { action, answer: await caller.post(action, { Digits: '1' }) };
  };
  return { ...served, runtime, logger, caller, ended, pressOneForCard };
}

/** The fail-safe answer of these tests: the apology, then the fallback queue. */
function expectFailSafe(body: string) {
  const doc = parseTwiml(body);
  expect(verbs(doc)).toEqual(['Say', 'Enqueue']);
  expect(doc.children[1]!.text).toBe('advisors');
  expect(body.includes('Gather'), 'no Gather may ask for the card').toBe(false);
  expect(body.includes('card number'), 'no card prompt').toBe(false);
}

describe('a secure flow and the call recording', () => {
  it('is not entered without a REST port: the fail-safe, RECORDING_NOT_PAUSED reported and logged at error', async () => {
    const s = await start({});
    const { answer } = await s.pressOneForCard();
    expect(answer.status).toBe(200);
    expectFailSafe(answer.body);
    expect(s.problems.map((p) => p.code)).toEqual(['RECORDING_NOT_PAUSED']);
    expect(s.problems[0]!.message).toBe('a secure flow was not entered: the call recording could not be paused (no REST port configured)');
    const errors = s.logger.records.filter((r) => r.level === 'error');
    expect(errors).toEqual([{ level: 'error', msg: `webhook: ${s.problems[0]!.message}`, fields: { code: 'RECORDING_NOT_PAUSED', sessionId: s.problems[0]!.sessionId } }]);
    // The secure session was ended at once; the billing session had handed the call over.
    expect(s.ended).toEqual(['billing-line:enterSecureFlow', 'card-payment:hangup']);
  });

  it('does not ask for the card when Twilio repeats the request that was refused', async () => {
    const s = await start({});
    const { action } = await s.pressOneForCard();
    const again = await s.caller.post(action, { Digits: '1' });
    expect(again.status).toBe(200);
    expect(again.body.includes('Gather'), 'no Gather may ask for the card').toBe(false);
    expect(s.ended).toEqual(['billing-line:enterSecureFlow', 'card-payment:hangup']);
  });

  it("runs when the deployment declares that calls are not recorded (recording: 'none'), with no REST call and no report", async () => {
    const s = await start({ recording: 'none' });
    const { answer } = await s.pressOneForCard();
    const doc = parseTwiml(answer.body);
    expect(verbs(doc)).toEqual(['Gather']);
    expect(doc.children[0]!.children[0]!.text).toBe('Please key in your card number, then the hash key.');
    const call = await s.caller.follow(answer, ['4111111111111111', '1228', '123']);
    expect(call.transcript.some((l) => l.includes('card ending 1111'))).toBe(true);
    expect(s.problems).toEqual([]);
  });

  it('runs with the recording paused through Twilio REST first', async () => {
    standIn = await startTwilioStandIn();
    const { client } = standInClient(standIn);
    const s = await start({ rest: twilioRest({ client, timeoutMs: 300 }) });
    const { answer } = await s.pressOneForCard();
    expect(verbs(parseTwiml(answer.body))).toEqual(['Gather']);
    expect(standIn.requestsTo(RECORDING).map((r) => r.params)).toEqual([{ Status: 'paused', PauseBehavior: 'skip' }]);
    expect(s.problems).toEqual([]);
  });

  it('is not entered when Twilio refuses the pause: the fail-safe', async () => {
    standIn = await startTwilioStandIn();
    const { client } = standInClient(standIn);
    standIn.failWith({ status: 503, code: 20500, message: 'Service Unavailable' }, { path: RECORDING });
    const s = await start({ rest: twilioRest({ client, timeoutMs: 300 }) });
    const { answer } = await s.pressOneForCard();
    expectFailSafe(answer.body);
    expect(s.problems.map((p) => p.code)).toEqual(['RECORDING_NOT_PAUSED']);
    expect(s.problems[0]!.message).toBe(
      'a secure flow was not entered: the call recording could not be paused (Twilio REST pauseRecording failed: HTTP 503, Twilio error 20500 (https://www.twilio.com/docs/errors/20500))',
    );
    expect(s.ended).toContain('card-payment:hangup');
    // Only the failed pause: no resume for a pause that did not happen.
    expect(standIn.requestsTo(RECORDING)).toHaveLength(1);
  });

  it('is not entered when the pause times out, and the recording is resumed in case it took effect', async () => {
    standIn = await startTwilioStandIn();
    const { client } = standInClient(standIn);
    standIn.hang({ path: RECORDING, times: 1 });
    const s = await start({ rest: twilioRest({ client, timeoutMs: 200 }) });
    const { answer } = await s.pressOneForCard();
    expectFailSafe(answer.body);
    expect(s.problems.map((p) => p.code)).toEqual(['RECORDING_NOT_PAUSED']);
    expect(standIn.requestsTo(RECORDING).map((r) => r.params.Status)).toEqual(['paused', 'in-progress']);
  });

  it('throws RECORDING_NOT_PAUSED from startSecureCall and lets the agent go', async () => {
    const runtime = createRuntime({ flows: [exampleFlow('agent-card-payment')], actions: new ScriptedActions({}) });
    const served = await serveWebhook(runtime, {});
    close = served.close;
    await expect(
      served.webhook.startSecureCall({ callSid: 'CA00000000000000000000000000000042', conversationId: 'conv-1', agentId: 'agent-42', flow: 'agent-card-payment', inputs: { amount: 42.5, invoiceId: 'INV-1' } }),
    ).rejects.toMatchObject({ code: 'RECORDING_NOT_PAUSED' });
    expect(await runtime.isReserved('agent-42')).toBe(false);
  });

  it('refuses an unknown recording mode when the webhook is built', async () => {
    const runtime = createRuntime({ flows: [exampleFlow('agent-card-payment')] });
    await expect(serveWebhook(runtime, { recording: 'off' as never })).rejects.toThrow(/recording must be 'pause' or 'none'/);
  });
});
