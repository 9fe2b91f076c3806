/**
 * Every example flow driven end to end through the Twilio webhook over real HTTP on loopback:
 * the call simulator posts signed, form-encoded requests as Twilio does and follows the TwiML;
 * the data actions are registered with zod schemas matching each example's callflow.config.yaml;
 * the REST side effects (recording pause/resume, SMS) go through the real `twilio` client to the
 * local stand-in. The scripts and the expected paths and ends are the examples' own *.test.yaml.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createRuntime, MemoryLogger, type SessionEnd } from '@callflow/flow-core';
import { loadConfigText, parseYaml } from '@callflow/flow-dsl';
import { MemoryCallRegistry, twilioRest, type TwilioWebhook, type WebhookProblem } from '../src/index.js';
import { CallSimulator, parseTwiml, type CallRecord, type CallerInput, type XmlNode } from './call-simulator.js';
import { EXAMPLE_ACTIONS, ScriptedExampleActions, type ActionMock } from './example-actions.js';
import { exampleFlow, serveWebhook, withoutIds } from './fixtures.js';
import { ACCOUNT_SID, standInClient, startTwilioStandIn, type TwilioStandIn } from './twilio-standin.js';

const EXAMPLES = join(import.meta.dirname, '..', '..', '..', 'examples');
const AUTH_TOKEN = 'examples-e2e-auth-token';
const WORKFLOW = 'WW00000000000000000000000000000002';
const BILLING_LINE = '+15555550130';
const PROTECTED_LINE = '+15555550131';
const PARTNER_LINE = '+15555550199';
const BANK_LINE = '+15555550123';
const DEFAULT_CALLER = '+15555550188';
const RECORDING_PATH = new RegExp(`^/2010-04-01/Accounts/${ACCOUNT_SID}/Calls/(CA\\w+)/Recordings/Twilio\\.CURRENT\\.json$`);
const MESSAGES_PATH = new RegExp(`^/2010-04-01/Accounts/${ACCOUNT_SID}/Messages\\.json$`);

// ---- the server: every example flow behind one webhook ----

interface Served {
  webhook: TwilioWebhook;
  baseUrl: string;
  actions: ScriptedExampleActions;
  standIn: TwilioStandIn;
  sent: string[];
  calls: MemoryCallRegistry;
  problems: WebhookProblem[];
  logger: MemoryLogger;
  /** Runtime events of the current call, in order. */
  states: Array<{ sessionId: string; state: string }>;
  ended: Array<{ sessionId: string; end: SessionEnd }>;
  started: Array<{ sessionId: string; flow: string; parentSessionId?: string }>;
  isReserved(agentId: string): Promise<boolean>;
  close(): Promise<void>;
}

async function serve(): Promise<Served> {
  const standIn = await startTwilioStandIn();
  const { client, sent } = standInClient(standIn);
  const actions = new ScriptedExampleActions();
  const logger = new MemoryLogger();
  const runtime = createRuntime({
    flows: [
      exampleFlow('self-service-payment', 'billing-line'),
      exampleFlow('self-service-payment', 'card-payment'),
      exampleFlow('protected-identity'),
      exampleFlow('masked-callback'),
      exampleFlow('agent-card-payment'),
      exampleFlow('sms-otp'),
    ],
    actions,
    logger,
  });
  const states: Served['states'] = [];
  const ended: Served['ended'] = [];
  const started: Served['started'] = [];
  runtime.events.on('state.entered', (e) => states.push({ sessionId: e.sessionId, state: e.state }));
  runtime.events.on('session.ended', (e) => ended.push({ sessionId: e.sessionId, end: e.end }));
  runtime.events.on('session.started', (e) => started.push({ sessionId: e.sessionId, flow: e.flow, ...(e.parentSessionId ? { parentSessionId: e.parentSessionId } : {}) }));
  const calls = new MemoryCallRegistry();
  const served = await serveWebhook(runtime, {
    authToken: AUTH_TOKEN,
    flowByNumber: { [BILLING_LINE]: 'billing-line', [PROTECTED_LINE]: 'protected-identity', [PARTNER_LINE]: 'masked-callback', [BANK_LINE]: 'sms-otp' },
    rest: twilioRest({ client, messagingFrom: '+15555550100', timeoutMs: 2_000 }),
    calls,
    taskRouter: { workflowSid: WORKFLOW },
  });
  const problems = served.problems;
  return {
    webhook: served.webhook,
    baseUrl: served.baseUrl,
    actions,
    standIn,
    sent,
    calls,
    problems,
    logger,
    states,
    ended,
    started,
    isReserved: (agentId) => runtime.isReserved(agentId),
    close: async () => {
      await served.close();
      await standIn.close();
    },
  };
}

let server: Served;
beforeAll(async () => {
  server = await serve();
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => {
  server.actions.script = {};
  server.actions.received.length = 0;
  server.standIn.requests.length = 0;
  server.problems.length = 0;
  server.states.length = 0;
  server.ended.length = 0;
  server.started.length = 0;
});

// ---- reading TwiML ----

const verbs = (doc: XmlNode) => doc.children.map((c) => c.name);
const find = (doc: XmlNode, name: string) => doc.children.find((c) => c.name === name);
/** Long digit runs (a card number, spaced or dashed). */
const digitsLike = (body: string) => withoutIds(body).match(/\d[\d\s-]{11,}\d/g) ?? [];
/** The session id and turn of a Gather/Dial action URL. */
const actionOf = (url: string | undefined) => {
  const m = /\/voice\/([\w-]+)\/(\d+)(?:\?recording=paused)?$/.exec(url ?? '');
  if (!m) throw new Error(`not an action URL: ${url}`);
  return { sessionId: m[1]!, turn: Number(m[2]) };
};
const taskOf = (doc: XmlNode) => {
  const enqueue = find(doc, 'Enqueue')!;
  expect(enqueue.attrs.workflowSid).toBe(WORKFLOW);
  expect(enqueue.children.map((c) => c.name)).toEqual(['Task']);
  return JSON.parse(enqueue.children[0]!.text) as Record<string, unknown>;
};
const recordingUpdates = (callSid: string) =>
  server.standIn.requestsTo(RECORDING_PATH).filter((r) => r.path.includes(`/Calls/${callSid}/`)).map((r) => r.params.Status);

/** What holds for every answer of every call: 555 numbers only, no card number, no stack trace. */
function expectCleanBodies(bodies: string[], secrets: string[] = []): void {
  for (const body of bodies) {
    for (const number of body.match(/\+\d{7,15}/g) ?? []) expect(number).toMatch(/^\+1555555\d{4}$/);
    expect(digitsLike(body)).toEqual([]);
    for (const secret of secrets) expect((withoutIds(body)).includes(secret), 'must not be there').toBe(false);
    expect(body).not.toMatch(/ at \S+ \(|\.ts:\d+|Error:/);
  }
}

// ---- the examples' own flow tests, over Twilio webhooks ----

interface YamlCase {
  name: string;
  inputs?: string[];
  call?: { caller?: string };
  flowInputs?: Record<string, unknown>;
  actions?: Record<string, ActionMock>;
  expect: {
    path?: string[];
    end?: { type: string; queue?: string; reason?: string; data?: Record<string, unknown>; outputs?: Record<string, unknown> };
    transcript?: string[];
    notVisits?: string[];
  };
}

function yamlCases(project: string, file: string): YamlCase[] {
  const path = join(EXAMPLES, project, `${file}.test.yaml`);
  const parsed = parseYaml(readFileSync(path, 'utf8'), path);
  return (parsed.data as { tests: YamlCase[] }).tests;
}

const DIAL: Record<string, 'completed' | 'busy' | 'no-answer' | 'failed'> = { completed: 'completed', busy: 'busy', noAnswer: 'no-answer', failed: 'failed' };

/** A test's inputs as the simulated caller keys them; `hangup` hangs up at the next Gather. */
function callerScript(inputs: readonly string[]): { inputs: CallerInput[]; hangUp: boolean } {
  const out: CallerInput[] = [];
  for (const input of inputs) {
    if (input === 'hangup') return { inputs: out, hangUp: true };
    if (input === 'noinput') out.push({ noInput: true });
    else if (DIAL[input]) out.push({ dial: DIAL[input] });
    else out.push(input);
  }
  return { inputs: out, hangUp: false };
}

/** The path, the end and the transcript a *.test.yaml case expects, checked against what the call did. */
async function expectAsTested(c: YamlCase, call: CallRecord, callSid: string, options: { pathPrefix?: string[]; agentId?: string } = {}): Promise<void> {
  const path = server.states.map((s) => s.state);
  if (c.expect.path) expect(path).toEqual([...(options.pathPrefix ?? []), ...c.expect.path]);
  for (const state of c.expect.notVisits ?? []) expect((path).includes(state), 'must not be there').toBe(false);
  const last = call.documents.at(-1)!;
  const end = c.expect.end;
  if (end) {
    expect(server.ended.at(-1)!.end).toMatchObject({ type: end.type, ...(end.queue ? { queue: end.queue } : {}), ...(end.reason ? { reason: end.reason } : {}) });
    switch (end.type) {
      case 'transfer':
        expect(call.outcome).toBe('enqueued');
        expect(taskOf(last)).toMatchObject({ queue: end.queue, ...(end.data ?? {}) });
        break;
      case 'disconnect':
        expect(call.outcome).toBe('hangup');
        expect(verbs(last).at(-1)).toBe('Hangup');
        break;
      case 'returnToAgent': {
        expect(call.outcome).toBe('bridged');
        const client = find(last, 'Dial')!.children[0]!;
        expect(client.children.find((x) => x.name === 'Identity')!.text).toBe(options.agentId);
        const parameters = Object.fromEntries(client.children.filter((x) => x.name === 'Parameter').map((x) => [x.attrs.name, x.attrs.value]));
        expect(parameters).toEqual(end.outputs);
        break;
      }
      case 'hangup':
        expect(call.outcome).toBe('caller-hung-up');
        break;
      default:
        throw new Error(`end ${end.type} is not checked here`);
    }
  }
  const said = call.transcript.filter((l) => l.startsWith('say: ')).join('\n');
  for (const line of c.expect.transcript ?? []) {
    if (line === '[secure]' || /^\d+$/.test(line) || /^(agent |connect |sendSms )/.test(line)) continue;
    if (line === 'pauseRecording') expect(recordingUpdates(callSid)[0]).toBe('paused');
    else if (line === 'resumeRecording') expect(recordingUpdates(callSid)).toContain('in-progress');
    else if (line.startsWith('transfer to queue ')) expect(taskOf(last).queue).toBe(line.slice('transfer to queue '.length));
    else expect(said).toContain(line);
  }
  // The call is over on both sides: no CallSid entry left, nothing reported.
  expect(server.calls.size).toBe(0);
  expect(server.problems).toEqual([]);
  for (const uri of server.sent) expect(uri.startsWith(`${server.standIn.url}/`)).toBe(true);
}

/** Card numbers and other long secrets keyed in on this call. */
const longInputs = (inputs: readonly string[] = []) => inputs.filter((i) => /^\d{13,19}$/.test(i));

describe('self-service-payment over Twilio webhooks (billing-line.test.yaml)', () => {
  for (const c of yamlCases('self-service-payment', 'billing-line')) {
    it(c.name, async () => {
      server.actions.script = { ...c.actions };
      const script = callerScript(c.inputs ?? []);
      const caller = new CallSimulator(server.baseUrl, AUTH_TOKEN, { from: c.call?.caller ?? DEFAULT_CALLER, to: BILLING_LINE });
      const call = await caller.dialIn(script.inputs, { hangUpWhenOutOfInput: script.hangUp });
      await expectAsTested(c, call, caller.callSid);
      expectCleanBodies(call.bodies, longInputs(c.inputs));
    });
  }
});

describe('self-service-payment: card-payment.test.yaml, entered from the billing line', () => {
  const PREFIX_INPUTS = ['1234567890', '1'];
  const PREFIX_PATH = ['welcome', 'askAccount', 'findAccount', 'checkAccount', 'payMenu', 'toCardPayment'];
  for (const c of yamlCases('self-service-payment', 'card-payment')) {
    it(c.name, async () => {
      // Every case pays ACC-1001's 64.2: the billing line passes exactly those inputs.
      expect(c.flowInputs).toEqual({ accountId: 'ACC-1001', amount: 64.2 });
      server.actions.script = { findAccount: { found: true, accountId: 'ACC-1001', balance: 64.2 }, ...c.actions };
      const script = callerScript([...PREFIX_INPUTS, ...(c.inputs ?? [])]);
      const caller = new CallSimulator(server.baseUrl, AUTH_TOKEN, { from: DEFAULT_CALLER, to: BILLING_LINE });
      const call = await caller.dialIn(script.inputs, { hangUpWhenOutOfInput: script.hangUp });
      await expectAsTested(c, call, caller.callSid, { pathPrefix: PREFIX_PATH });
      // The secure flow was entered: the recording paused (through Twilio's REST API) before it
      // asked for the card, and resumed before any transfer (not on a disconnect: the call ends).
      const updates = recordingUpdates(caller.callSid);
      expect(updates[0]).toBe('paused');
      if (c.expect.end?.type === 'transfer') expect(updates).toEqual(['paused', 'in-progress']);
      else expect(updates).toEqual(['paused']);
      expectCleanBodies(call.bodies, longInputs(c.inputs));
    });
  }
});

describe('protected-identity over Twilio webhooks (protected-identity.test.yaml)', () => {
  for (const c of yamlCases('protected-identity', 'protected-identity')) {
    it(c.name, async () => {
      server.actions.script = { ...c.actions };
      const from = c.call?.caller ?? DEFAULT_CALLER;
      const caller = new CallSimulator(server.baseUrl, AUTH_TOKEN, { from, to: PROTECTED_LINE });
      const call = await caller.dialIn([]);
      await expectAsTested(c, call, caller.callSid);
      // The caller's number reached the lookup, and no TwiML.
      expect(server.actions.received.map((r) => r.input)).toEqual([{ phone: from }]);
      for (const body of call.bodies) expect((body).includes(from), 'must not be there').toBe(false);
      expectCleanBodies(call.bodies);
    });
  }
});

describe('masked-callback over Twilio webhooks (masked-callback.test.yaml)', () => {
  for (const c of yamlCases('masked-callback', 'masked-callback')) {
    it(c.name, async () => {
      server.actions.script = { ...c.actions };
      const script = callerScript(c.inputs ?? []);
      const caller = new CallSimulator(server.baseUrl, AUTH_TOKEN, { from: DEFAULT_CALLER, to: PARTNER_LINE });
      const call = await caller.dialIn(script.inputs, { hangUpWhenOutOfInput: script.hangUp });
      await expectAsTested(c, call, caller.callSid);
      // The client's number is dialled (with the proxy number as caller id), never said.
      for (const line of call.transcript.filter((l) => l.startsWith('say: '))) expect(line).not.toMatch(/\+?1?5555550142/);
      expectCleanBodies(call.bodies);
    });
  }
});

describe('agent-card-payment over Twilio webhooks (agent-card-payment.test.yaml)', () => {
  const cases = yamlCases('agent-card-payment', 'agent-card-payment');
  cases.forEach((c, i) => {
    it(c.name, async () => {
      server.actions.script = { ...c.actions };
      const agentId = `agent-${i + 1}`;
      const script = callerScript(c.inputs ?? []);
      const caller = new CallSimulator(server.baseUrl, AUTH_TOKEN, { from: DEFAULT_CALLER, to: PARTNER_LINE });
      const started = await server.webhook.startSecureCall({
        callSid: caller.callSid,
        conversationId: `conv-${i + 1}`,
        agentId,
        flow: 'agent-card-payment',
        inputs: c.flowInputs ?? {},
      });
      expect(await server.isReserved(agentId)).toBe(true);
      expect(recordingUpdates(caller.callSid)).toEqual(['paused']);
      const call = await caller.follow({ status: 200, body: started.twiml }, script.inputs, { hangUpWhenOutOfInput: script.hangUp });
      await expectAsTested(c, call, caller.callSid, { agentId });
      // The agent is free again whatever the end, and the recording runs again if the caller is still there.
      expect(await server.isReserved(agentId)).toBe(false);
      expect(recordingUpdates(caller.callSid)).toEqual(c.expect.end?.type === 'hangup' ? ['paused'] : ['paused', 'in-progress']);
      expectCleanBodies([started.twiml, ...call.bodies], longInputs(c.inputs));
    });
  });
});

// ---- step by step: the verbs and attributes of each answer ----

describe('self-service-payment step by step', () => {
  const CARD = '4916338506082832';
  const EXPIRY = '0327';
  const CVV = '737';

  it('hands the caller to the secure card payment, follows the new session, and takes the payment', async () => {
    server.actions.script = {
      findAccount: { found: true, accountId: 'ACC-1001', balance: 64.2 },
      takePayment: { approved: true, reference: 'PAY-9002', maskedCard: '2832' },
    };
    const caller = new CallSimulator(server.baseUrl, AUTH_TOKEN, { from: DEFAULT_CALLER, to: BILLING_LINE });
    const bodies: string[] = [];
    const step = async (url: string, digits?: string) => {
      const answer = await caller.post(url, digits !== undefined ? { Digits: digits } : {});
      expect(answer.status).toBe(200);
      bodies.push(answer.body);
      return parseTwiml(answer.body);
    };

    // 1. The new call: a welcome, then a Gather for ten digits.
    const welcome = await step('/voice');
    expect(verbs(welcome)).toEqual(['Say', 'Gather']);
    expect(welcome.children[0]!.text).toBe('Welcome to Example Energy billing.');
    const askAccount = find(welcome, 'Gather')!;
    expect(askAccount.attrs).toMatchObject({ input: 'dtmf', numDigits: '10', timeout: '8', method: 'POST', actionOnEmptyResult: 'true' });
    expect(askAccount.children.map((c) => c.text)).toEqual(['Please key in your ten-digit account number.']);
    const billing = actionOf(askAccount.attrs.action);
    expect(askAccount.attrs.action).toBe(`${server.baseUrl}/voice/${billing.sessionId}/1`);

    // 2. The account number: the lookup runs, the pay menu asks for one key.
    const payMenu = await step(askAccount.attrs.action!, '1234567890');
    expect(verbs(payMenu)).toEqual(['Gather']);
    const menu = find(payMenu, 'Gather')!;
    expect(menu.attrs).toMatchObject({ input: 'dtmf', numDigits: '1', method: 'POST' });
    expect(menu.children[0]!.text).toMatch(/^You have 64.2 pounds to pay\. To pay it now by card, press 1\./);
    expect(actionOf(menu.attrs.action)).toEqual({ sessionId: billing.sessionId, turn: 2 });
    expect(server.actions.received).toEqual([{ name: 'findAccount', input: { accountNumber: '1234567890' } }]);
    expect(recordingUpdates(caller.callSid)).toEqual([]);

    // 3. Press 1: enterSecureFlow. The billing session ends, card-payment starts with the
    //    recording paused (done at the stand-in before this answer came), and the next action
    //    URL names the new session.
    const askCard = await step(menu.attrs.action!, '1');
    expect(recordingUpdates(caller.callSid)).toEqual(['paused']);
    expect(server.standIn.requestsTo(RECORDING_PATH)[0]!.params).toMatchObject({ Status: 'paused', PauseBehavior: 'skip' });
    const secure = server.started.find((s) => s.flow === 'card-payment')!;
    expect(secure.parentSessionId).toBe(billing.sessionId);
    expect(server.ended[0]).toMatchObject({ sessionId: billing.sessionId, end: { type: 'enterSecureFlow', flow: 'card-payment', sessionId: secure.sessionId } });
    expect(verbs(askCard)).toEqual(['Gather']);
    const cardGather = find(askCard, 'Gather')!;
    expect(cardGather.attrs).toMatchObject({ input: 'dtmf', numDigits: '19', finishOnKey: '#', timeout: '10' });
    expect(cardGather.children[0]!.text).toBe('Please key in your card number, then the hash key.');
    const card = actionOf(cardGather.attrs.action);
    expect(card.sessionId).toBe(secure.sessionId);
    expect(card.sessionId).not.toBe(billing.sessionId);
    expect(card.turn).toBe(3);
    expect((await server.calls.get(caller.callSid))?.sessionId).toBe(secure.sessionId);

    // 4.–5. Card, expiry: each a Gather on the secure session.
    const askExpiry = await step(cardGather.attrs.action!, CARD);
    const expiryGather = find(askExpiry, 'Gather')!;
    expect(expiryGather.attrs).toMatchObject({ numDigits: '4', timeout: '8' });
    expect(actionOf(expiryGather.attrs.action)).toEqual({ sessionId: secure.sessionId, turn: 4 });
    const askCvv = await step(expiryGather.attrs.action!, EXPIRY);
    const cvvGather = find(askCvv, 'Gather')!;
    expect(cvvGather.attrs).toMatchObject({ numDigits: '4' });
    expect(cvvGather.children[0]!.text).toBe('And the security code from the back of the card.');

    // 6. The security code: the payment is taken; the read-back is the masked card and the reference; hang up.
    const done = await step(cvvGather.attrs.action!, CVV);
    expect(verbs(done)).toEqual(['Say', 'Hangup']);
    expect(done.children[0]!.text).toBe('Thank you. The payment with the card ending 2832 was approved. Your reference is PAY-9002.');
    expect(server.actions.received.at(-1)).toEqual({
      name: 'takePayment',
      input: { cardNumber: CARD, expiry: EXPIRY, cvv: CVV, amount: 64.2, accountId: 'ACC-1001' },
    });
    expect(server.ended.at(-1)).toMatchObject({ sessionId: secure.sessionId, end: { type: 'disconnect', reason: 'paid' } });
    expect(server.calls.size).toBe(0);
    // The session already ended: the status callback finds nothing to do.
    expect((await caller.status('completed')).status).toBe(200);

    // No card data anywhere but the read-back the flow asks for (the last four digits), not in the log either.
    for (const body of bodies) {
      expect((withoutIds(body)).includes(CARD), 'must not be there').toBe(false);
      expect((withoutIds(body)).includes(EXPIRY), 'must not be there').toBe(false);
      expect((withoutIds(body)).includes(CVV), 'must not be there').toBe(false);
    }
    expect(bodies.filter((b) => b.includes('2832'))).toEqual([bodies.at(-1)]);
    expectCleanBodies(bodies);
    for (const secret of [CARD, EXPIRY, `"${CVV}"`]) expect((server.logger.text()).includes(secret), 'must not be there').toBe(false);
    expect(server.problems).toEqual([]);
  });

  it('resumes the recording before it answers the transfer of a declined card', async () => {
    server.actions.script = {
      findAccount: { found: true, accountId: 'ACC-1001', balance: 64.2 },
      takePayment: { approved: false, reference: '', maskedCard: '1111' },
    };
    const caller = new CallSimulator(server.baseUrl, AUTH_TOKEN, { from: DEFAULT_CALLER, to: BILLING_LINE });
    let doc = parseTwiml((await caller.post('/voice')).body);
    for (const digits of ['1234567890', '1', '4111111111111111', '1228']) {
      doc = parseTwiml((await caller.post(find(doc, 'Gather')!.attrs.action!, { Digits: digits })).body);
    }
    expect(recordingUpdates(caller.callSid)).toEqual(['paused']);
    const last = await caller.post(find(doc, 'Gather')!.attrs.action!, { Digits: '123' });
    // The answer came after the resume was done at Twilio.
    expect(recordingUpdates(caller.callSid)).toEqual(['paused', 'in-progress']);
    const transfer = parseTwiml(last.body);
    expect(verbs(transfer)).toEqual(['Say', 'Enqueue']);
    expect(transfer.children[0]!.text).toMatch(/^Sorry, the payment was declined\./);
    expect(taskOf(transfer)).toEqual({ queue: 'billing' });
    expect((last.body).includes('4111111111111111'), 'must not be there').toBe(false);
    await caller.status('completed');
    expect(server.calls.size).toBe(0);
  });
});

describe('protected-identity: the transfer’s task attributes', () => {
  it('carries no personal data for a protected caller, and the name for an ordinary one', async () => {
    server.actions.script = { lookupCaller: { found: true, protectedIdentity: true, name: 'Ada Lovelace' } };
    const protectedCaller = new CallSimulator(server.baseUrl, AUTH_TOKEN, { from: '+15555550123', to: PROTECTED_LINE });
    const guarded = await protectedCaller.post('/voice');
    const doc = parseTwiml(guarded.body);
    expect(verbs(doc)).toEqual(['Say', 'Enqueue']);
    expect(doc.children[0]!.text).toBe('Thank you for calling Example Bank.');
    expect(taskOf(doc)).toEqual({ queue: 'vetted-care', protectedIdentity: true });
    expect((guarded.body).includes('Ada'), 'must not be there').toBe(false);
    expect((guarded.body).includes('Lovelace'), 'must not be there').toBe(false);
    expect((guarded.body).includes('customerName'), 'must not be there').toBe(false);
    expect((guarded.body).includes('5555550123'), 'must not be there').toBe(false);
    expect((server.logger.text()).includes('Lovelace'), 'must not be there').toBe(false);

    server.actions.script = { lookupCaller: { found: true, protectedIdentity: false, name: 'Grace Hopper' } };
    const ordinary = new CallSimulator(server.baseUrl, AUTH_TOKEN, { from: '+15555550124', to: PROTECTED_LINE });
    const open = parseTwiml((await ordinary.post('/voice')).body);
    expect(taskOf(open)).toEqual({ queue: 'customer-care', customerName: 'Grace Hopper' });
    expect(server.calls.size).toBe(0);
  });
});

describe('sms-otp: one more path', () => {
  it('sends a caller from an unknown number to an advisor without an SMS', async () => {
    server.actions.script = { findCaller: { found: false, customerId: '', mobile: '' } };
    const caller = new CallSimulator(server.baseUrl, AUTH_TOKEN, { from: '+15555550112', to: BANK_LINE });
    const call = await caller.dialIn([]);
    const doc = call.documents[0]!;
    expect(verbs(doc)).toEqual(['Say', 'Say', 'Enqueue']);
    expect(doc.children[1]!.text).toMatch(/^We could not match the number you are calling from to an account\./);
    expect(taskOf(doc)).toEqual({ queue: 'customer-care' });
    expect(server.standIn.requestsTo(MESSAGES_PATH)).toEqual([]);
    expect(server.calls.size).toBe(0);
  });
});

// ---- the schemas registered above are the ones the examples declare ----

describe('the registered data actions', () => {
  const TYPE: Record<string, string> = { string: 'string', number: 'number', int: 'number', bool: 'boolean' };
  const typeOf = (schema: unknown) => (schema as { def: { type: string } }).def.type;

  it('match every example’s callflow.config.yaml: names, fields, types, required, secure', () => {
    for (const [project, actions] of Object.entries(EXAMPLE_ACTIONS)) {
      const file = join(EXAMPLES, project, 'callflow.config.yaml');
      const { config, valid } = loadConfigText(readFileSync(file, 'utf8'), file);
      expect(valid).toBe(true);
      expect(Object.keys(actions).sort(), project).toEqual(Object.keys(config.actions ?? {}).sort());
      for (const [name, declared] of Object.entries(config.actions ?? {})) {
        const schema = actions[name as keyof typeof actions] as { secure?: boolean; input: { shape: Record<string, unknown> }; output: { shape: Record<string, unknown> } };
        expect(schema.secure === true, `${project}.${name}.secure`).toBe(declared.secure === true);
        for (const side of ['input', 'output'] as const) {
          const fields = declared[side] ?? {};
          expect(Object.keys(schema[side].shape).sort(), `${project}.${name}.${side}`).toEqual(Object.keys(fields).sort());
          for (const [field, spec] of Object.entries(fields)) {
            const type = typeof spec === 'string' ? spec : spec.type;
            const optional = side === 'input' && typeof spec !== 'string' && spec.required !== true;
            const zod = schema[side].shape[field];
            expect(typeOf(zod), `${project}.${name}.${side}.${field}`).toBe(optional ? 'optional' : TYPE[type]);
          }
        }
      }
    }
  });
});
