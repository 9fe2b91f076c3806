import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, MemoryLogger } from '@callflow/flow-core';
import { twilioRest } from '../src/index.js';
import { CallSimulator, parseTwiml } from './call-simulator.js';
import { exampleFlow, ScriptedActions, serveWebhook } from './fixtures.js';
import { ACCOUNT_SID, standInClient, startTwilioStandIn, type TwilioStandIn } from './twilio-standin.js';

const AUTH_TOKEN = 'webhook-auth-token';
const BANK_LINE = '+15555550123';
const CALLER = '+15555550177';
const MOBILE = '+15555550142';
const MESSAGES_PATH = new RegExp(`^/2010-04-01/Accounts/${ACCOUNT_SID}/Messages\\.json$`);
const FOUND = { findCaller: { found: true, customerId: 'C-1001', mobile: MOBILE }, getBalance: { balance: 12.5 } };

let standIn: TwilioStandIn | undefined;
let closeServer: (() => Promise<void>) | undefined;
afterEach(async () => {
  await closeServer?.();
  await standIn?.close();
  closeServer = undefined;
  standIn = undefined;
});

/** The sms-otp example behind the webhook, its REST calls going through the real twilio client to the stand-in. */
async function start() {
  standIn = await startTwilioStandIn();
  const { client, sent } = standInClient(standIn);
  const logger = new MemoryLogger();
  const runtime = createRuntime({ flows: [exampleFlow('sms-otp')], actions: new ScriptedActions(FOUND), logger });
  const events: string[] = [];
  for (const name of ['error', 'session.ended', 'reservation.released'] as const) runtime.events.on(name, (e) => events.push(JSON.stringify(e)));
  const served = await serveWebhook(runtime, {
    authToken: AUTH_TOKEN,
    flowByNumber: { [BANK_LINE]: 'sms-otp' },
    rest: twilioRest({ client, messagingFrom: '+15555550100', timeoutMs: 300 }),
  });
  const problems = served.problems;
  closeServer = served.close;
  const caller = new CallSimulator(served.baseUrl, AUTH_TOKEN, { from: CALLER, to: BANK_LINE });
  /** Everything the adapter and the runtime said outside the SMS itself. */
  const said = () => [logger.text(), JSON.stringify(problems), ...events].join('\n');
  return { standIn, sent, caller, problems, said };
}

const codeIn = (body: string) => /code is (\d{6})/.exec(body)?.[1];

describe('sendSms in a call', () => {
  it('sends the one-time code through Twilio Messaging; it reaches the stand-in and nothing else', async () => {
    const { standIn, sent, caller, problems, said } = await start();
    const first = await caller.post('/voice');
    const [sms] = standIn.requestsTo(MESSAGES_PATH);
    expect(sms).toMatchObject({ method: 'POST', host: 'api.twilio.com', account: ACCOUNT_SID });
    expect(sms!.params).toMatchObject({ To: MOBILE, From: '+15555550100' });
    const code = codeIn(sms!.params.Body!)!;
    expect(code).toMatch(/^\d{6}$/);

    const call = await caller.follow(first, [code, '1', '2']);
    expect(call.transcript).toContain('say: Your balance is 12.5 pounds.');
    expect(call.outcome).toBe('hangup');
    expect(problems).toEqual([]);
    for (const body of call.bodies) {
      expect((body).includes(code), 'must not be there').toBe(false);
      expect((body).includes(MOBILE), 'must not be there').toBe(false);
    }
    expect((said()).includes(code), 'must not be there').toBe(false);
    expect((said()).includes(MOBILE), 'must not be there').toBe(false);
    for (const uri of sent) expect(uri.startsWith(`${standIn.url}/`)).toBe(true);
  });

  it('takes the flow’s failed branch at once when Twilio refuses the message', async () => {
    const { standIn, caller, problems, said } = await start();
    standIn.failWith({ status: 400, code: 21211, message: `The 'To' number ${MOBILE} is not a valid phone number.` }, { path: MESSAGES_PATH });
    const first = await caller.post('/voice');
    const doc = parseTwiml(first.body);
    // What was said before the SMS stays; the prompt for a code that never came does not.
    expect(doc.children.map((c) => c.name)).toEqual(['Say', 'Say', 'Enqueue']);
    expect(doc.children[0]!.text).toBe('Welcome to Example Bank.');
    expect(doc.children[1]!.text).toBe('That code did not match. An advisor will help you.');
    expect(doc.children[2]!.text).toBe('customer-care');
    expect((first.body).includes('Gather'), 'must not be there').toBe(false);
    expect(problems).toEqual([
      expect.objectContaining({ code: 'REST_SENDSMS_FAILED', message: 'Twilio REST sendSms failed: HTTP 400, Twilio error 21211 (https://www.twilio.com/docs/errors/21211)' }),
    ]);
    const sentBody = standIn.requestsTo(MESSAGES_PATH)[0]!.params.Body!;
    const code = codeIn(sentBody)!;
    expect((said()).includes(code), 'must not be there').toBe(false);
    expect((said()).includes(MOBILE), 'must not be there').toBe(false);
    expect((first.body).includes(code), 'must not be there').toBe(false);

    // Twilio retrying the new-call webhook gets the same answer, and no second SMS is sent.
    const again = await caller.post('/voice');
    expect(again.body).toBe(first.body);
    expect(standIn.requestsTo(MESSAGES_PATH)).toHaveLength(1);
  });

  it('takes the failed branch when Messaging does not answer in time', async () => {
    const { standIn, caller, problems } = await start();
    standIn.hang({ path: MESSAGES_PATH });
    const first = await caller.post('/voice');
    expect(parseTwiml(first.body).children.map((c) => c.name)).toEqual(['Say', 'Say', 'Enqueue']);
    expect(problems.map((p) => p.code)).toEqual(['REST_SENDSMS_FAILED']);
    expect(problems[0]!.message).toBe('Twilio REST sendSms did not answer within 300 ms');
  });
});
