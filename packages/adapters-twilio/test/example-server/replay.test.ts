/**
 * The acceptance check of the example server (examples/twilio-server/server.mjs), as an outside
 * client meets it: the server in its own process on loopback (calls declared unrecorded, the
 * agent API on), every example flow it serves walked along its main path by signed requests,
 * and at every step what Twilio and the rest of the world may send besides the real turn:
 *
 * - every request twice (the hand-over turn three times at once): the same bytes, and each
 *   data action run once (the stand-ins write one log line per call);
 * - a turn ahead of the current one, another call's CallSid and no CallSid: a safe answer, and
 *   the real turn after them answered as if they had never come;
 * - the caller hanging up at each step, in a call of its own: no agent left reserved, and a
 *   late copy of the new-call webhook starting nothing;
 * - two agents handing over one call; every transfer outcome; the refused requests' log lines.
 *
 * The server's log reaches this process through a pipe, after the answers: `settled()` waits
 * for a line the server writes on demand, so that every line written before it has arrived
 * (no wait on the clock).
 */
import { randomBytes } from 'node:crypto';
import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LINES } from '../../../../examples/twilio-server/lines.mjs';
import { DEFAULT_FALLBACK_APOLOGY } from '../../src/index.js';
import { parseTwiml, type XmlNode } from '../call-simulator.js';
import { withoutIds } from '../fixtures.js';
import { TwilioCall, startServer, stopServer, verbs, type RunningServer } from './outside-client.js';

/** The token the example server's README documents for local use. */
const LOCAL_TEST_TOKEN = 'callflow-local-test-token-not-a-secret';
const AGENT_TOKEN = randomBytes(24).toString('base64url');

// What callers key in or call from (the stand-ins' script: the last digit picks the path).
const CARD = '4916338506082832';
const EXPIRY = '0931';
const CVV = '5314'; // approved, PAY-7004
const AGENT_CVV = '462'; // approved, PAY-7002
const SECRETS = [CARD, EXPIRY, CVV, AGENT_CVV];

let server: RunningServer;
const base = () => `${server.local}/twilio`;

beforeAll(async () => {
  server = await startServer({ CALLFLOW_RECORDING: 'none', AGENT_API_TOKEN: AGENT_TOKEN });
}, 20_000);

afterAll(async () => {
  await stopServer(server);
});

// ---- the server's log ----

interface LogRecord {
  msg?: string;
  sessionId?: string;
  [field: string]: unknown;
}

let parsedUpTo = 0;
const records: LogRecord[] = [];
/** The log's JSON lines so far. */
function log(): LogRecord[] {
  const out = server.stdout();
  const end = out.lastIndexOf('\n') + 1;
  for (const line of out.slice(parsedUpTo, end).split('\n')) if (line.startsWith('{')) records.push(JSON.parse(line) as LogRecord);
  parsedUpTo = end;
  return records;
}

const BARRIER_MSG = 'agent API: refused a request without the right bearer token';
let barriers = 0;
/**
 * Every log line the server wrote before this call returned has reached this process. The
 * barrier is a request the server logs each time (the agent API without a token: 401); once
 * as many of its lines arrived as barrier answers came back, everything written before them did.
 */
async function settled(): Promise<void> {
  const response = await fetch(`${server.local}/agent/secure-call`);
  await response.text();
  expect(response.status).toBe(401);
  const answered = ++barriers;
  while (log().filter((r) => r.msg === BARRIER_MSG).length < answered) await new Promise((resolve) => setTimeout(resolve, 5));
}

/** The stand-in data actions called for these sessions, in order. */
const actionsRun = (sessions: Set<string>) => log().filter((r) => r.msg === 'stand-in data action called' && sessions.has(r.sessionId!)).map((r) => r.action as string);

// ---- TwiML ----

/** Every `<Say>` text of a document, those inside a Gather included. */
const allSays = (node: XmlNode): string[] => node.children.flatMap((c) => (c.name === 'Say' ? [c.text] : allSays(c)));
/** The action URL the caller's next request goes to, if the document has one. */
const nextAction = (doc: XmlNode) => doc.children.find((c) => ['Gather', 'Dial', 'Enqueue'].includes(c.name) && c.attrs.action)?.attrs.action;
const SESSION_IN_URL = /\/voice\/([0-9a-f-]{36})\//g;
const sessionsIn = (body: string) => [...body.matchAll(SESSION_IN_URL)].map((m) => m[1]!);

/** The fail-safe document of this server: the apology, then the fallback queue (FALLBACK_QUEUE, default advisors). */
function expectFailSafe(body: string, label: string) {
  const doc = parseTwiml(body);
  expect(verbs(doc), label).toEqual(['Say', 'Enqueue']);
  expect(allSays(doc), label).toEqual([DEFAULT_FALLBACK_APOLOGY]);
  const enqueue = doc.children[1]!;
  expect([enqueue.text, enqueue.attrs.action], label).toEqual(['advisors', `${base()}/fallback/result`]);
}
/** The fallback's own outcome: the apology and the end of the call, never a second fail-safe. */
function expectApologyAndHangup(body: string, label: string) {
  const doc = parseTwiml(body);
  expect(verbs(doc), label).toEqual(['Say', 'Hangup']);
}

// ---- the main paths ----

/** One step of a call: what the caller sends, and what the answer must be. */
interface Step {
  send: Record<string, string>;
  verbs: string[];
  /** A phrase the answer says. */
  says?: string;
  /** The data actions this step runs. */
  actions?: string[];
}

/** A flow's main path: started by the new-call webhook (`to`) or by an agent's hand-over. */
interface MainPath {
  flow: string;
  from: string;
  to: string;
  handOver?: boolean;
  start: Step;
  turns: Step[];
  /** The index in `turns` of the turn that hands the call on to another session. */
  handOverTurn?: number;
}

const PATHS: MainPath[] = [
  {
    flow: 'billing-line → card-payment',
    from: '+15555550188',
    to: LINES.billing,
    start: { send: {}, verbs: ['Say', 'Gather'], says: 'ten-digit account number' },
    turns: [
      { send: { Digits: '1234567894' }, verbs: ['Gather'], says: 'You have 64.5 pounds to pay', actions: ['findAccount'] },
      { send: { Digits: '1' }, verbs: ['Gather'], says: 'Please key in your card number' },
      { send: { Digits: CARD }, verbs: ['Gather'], says: 'expiry date' },
      { send: { Digits: EXPIRY }, verbs: ['Gather'], says: 'security code' },
      { send: { Digits: CVV }, verbs: ['Say', 'Hangup'], says: 'card ending 2832 was approved. Your reference is PAY-7004', actions: ['takePayment'] },
    ],
    handOverTurn: 1,
  },
  {
    flow: 'protected-identity',
    from: '+15555550144',
    to: LINES.protectedIdentity,
    start: { send: {}, verbs: ['Say', 'Enqueue'], says: 'Thank you for calling Example Bank.', actions: ['lookupCaller'] },
    turns: [{ send: { QueueResult: 'bridged', QueueTime: '30' }, verbs: ['Hangup'] }],
  },
  {
    flow: 'masked-callback',
    from: '+15555550145',
    to: LINES.partner,
    start: { send: {}, verbs: ['Say', 'Gather'], says: 'eight-digit application number' },
    turns: [
      { send: { Digits: '12345678' }, verbs: ['Say', 'Dial'], says: 'Connecting you to the client now.', actions: ['lookupApplication'] },
      { send: { DialCallStatus: 'completed', DialCallDuration: '42' }, verbs: ['Hangup'] },
    ],
  },
  {
    flow: 'sms-otp',
    from: '+15555550164',
    to: LINES.bank,
    start: { send: {}, verbs: ['Say', 'Gather'], says: 'six-digit code', actions: ['findCaller'] },
    // The code is sent nowhere without Twilio credentials, so the caller keys none: a wrong code
    // would count towards the lock-out of the one customer mobile every call here shares, and
    // calls running side by side would lock each other out.
    turns: [
      { send: { Digits: '' }, verbs: ['Gather'], says: 'six-digit code' },
      { send: { Digits: '' }, verbs: ['Gather'], says: 'six-digit code' },
      { send: { Digits: '' }, verbs: ['Say', 'Enqueue'], says: 'That code did not match.' },
      { send: { QueueResult: 'bridged', QueueTime: '12' }, verbs: ['Hangup'] },
    ],
  },
  {
    flow: 'agent-card-payment',
    from: '+15555550186',
    to: LINES.partner,
    handOver: true,
    start: { send: {}, verbs: ['Say', 'Gather'], says: 'You are paying invoice INV-2291.' },
    turns: [
      { send: { Digits: CARD }, verbs: ['Gather'], says: 'expiry date' },
      { send: { Digits: EXPIRY }, verbs: ['Gather'], says: 'three or four digit security code' },
      { send: { Digits: AGENT_CVV }, verbs: ['Say', 'Say', 'Dial'], says: 'Putting you back through to your agent.', actions: ['chargeCard'] },
      { send: { DialCallStatus: 'completed', DialCallDuration: '120' }, verbs: ['Hangup'] },
    ],
  },
];

it('serves every number of its banner, and the agent hand-over: each has a main path here', () => {
  const banner = server.stdout().slice(0, server.stdout().indexOf('\nlistening '));
  const numbers = [...banner.matchAll(/^ {2}(\+\d+) {2}([a-z-]+)/gm)].map((m) => m[1]!);
  expect(numbers.sort()).toEqual(PATHS.filter((p) => !p.handOver).map((p) => p.to).sort());
  expect(banner).toMatch(/an agent's hand-over +agent-card-payment: POST .* \(on\)/);
  expect(PATHS.some((p) => p.handOver)).toBe(true);
});

// ---- a call, as the client drives it ----

let agents = 0;
/** One call of a main path; it keeps what it saw (its sessions, its first answer). */
class Walk {
  readonly caller: TwilioCall;
  readonly sessions = new Set<string>();
  readonly agentId = `agent-${++agents}`;
  first = '';
  last = '';
  next: string | undefined;
  constructor(readonly path: MainPath) {
    this.caller = callFor(path.from, path.to);
  }
  get callSid() {
    return this.caller.callSid;
  }
  /** Notes an answer: the sessions in its URLs, and the next request's URL. */
  private saw(body: string, step: Step, label: string): string {
    const doc = parseTwiml(body);
    expect(verbs(doc), label).toEqual(step.verbs);
    if (step.says) expect(allSays(doc).join(' '), label).toContain(step.says);
    for (const id of sessionsIn(body)) this.sessions.add(id);
    this.last = body;
    this.next = nextAction(doc);
    return body;
  }
  /** The call starts: the new-call webhook, or the agent's hand-over. */
  async start(copies = 1): Promise<string> {
    const label = `${this.path.flow}: start`;
    if (this.path.handOver) {
      const answer = await handOver(this.callSid, this.agentId);
      expect(answer.status, `${label}: ${answer.text}`).toBe(200);
      const { sessionId, twiml } = answer.json() as { sessionId: string; twiml: string };
      this.sessions.add(sessionId);
      this.first = this.saw(twiml, this.path.start, label);
      return this.first;
    }
    const answers: string[] = [];
    for (let i = 0; i < copies; i++) {
      const answer = await this.caller.post(`${base()}/voice`, { CallStatus: 'ringing' });
      expect(answer.status, label).toBe(200);
      answers.push(answer.body);
    }
    for (const copy of answers.slice(1)) expect(copy === answers[0], `${label}: a copy answered the same bytes`).toBe(true);
    this.first = this.saw(answers[0]!, this.path.start, label);
    return this.first;
  }
  /** Turn `i` of the path: `copies` requests one after the other, or `atOnce` together; all must answer the same bytes. */
  async turn(i: number, { copies = 1, atOnce = false } = {}): Promise<string> {
    const step = this.path.turns[i]!;
    const url = this.next;
    const label = `${this.path.flow}: turn ${i + 1}`;
    expect(url, `${label}: an action URL to post to`).toBeDefined();
    const send = () => this.caller.post(url!, step.send);
    const answers = atOnce ? await Promise.all(Array.from({ length: copies }, send)) : [];
    if (!atOnce) for (let c = 0; c < copies; c++) answers.push(await send());
    for (const a of answers) expect(a.status, label).toBe(200);
    for (const copy of answers.slice(1)) expect(copy.body === answers[0]!.body, `${label}: a copy answered the same bytes`).toBe(true);
    return this.saw(answers[0]!.body, step, label);
  }
  /** The call's final status, as Twilio reports it. */
  async hangUp(): Promise<void> {
    const answer = await this.caller.post(`${base()}/status`, { CallStatus: 'completed', CallDuration: '61' });
    expect(answer.status).toBe(200);
    expect(verbs(parseTwiml(answer.body))).toEqual([]);
  }
}

/** Every response body the client got, for the leak check at the end. */
const bodies: string[] = [];
const callFor = (from: string, to: string) => new TwilioCall({ publicBase: base(), local: server.local, token: LOCAL_TEST_TOKEN, from, to, record: (b) => void bodies.push(b) });

async function handOver(callSid: string, agentId: string) {
  const response = await fetch(`${server.local}/agent/secure-call`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${AGENT_TOKEN}` },
    body: JSON.stringify({ callSid, agentId, conversationId: `conv-${callSid.slice(-6)}`, flow: 'agent-card-payment', inputs: { amount: 42.5, invoiceId: 'INV-2291' } }),
  });
  const text = await response.text();
  bodies.push(text);
  return { status: response.status, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

/** Agents reserved for these sessions and not released since. */
function stillReserved(sessions: Set<string>): string[] {
  const held = new Map<string, string>();
  for (const r of log()) {
    if (!sessions.has(r.sessionId!)) continue;
    if (r.msg === 'agent reserved') held.set(r.sessionId!, r.agentId as string);
    if (r.msg === 'agent released') held.delete(r.sessionId!);
  }
  return [...held.values()];
}

// ---- 1 and 2: the main path, every request twice, and the requests that must change nothing ----

describe.concurrent('every example flow along its main path', () => {
  for (const path of PATHS) {
    it(`${path.flow}: each request twice answers the same bytes and runs its data actions once; a turn ahead, another call's CallSid and none change nothing`, async () => {
      const walk = new Walk(path);
      const expected: string[] = [];
      await walk.start(path.handOver ? 1 : 2);
      expected.push(...(path.start.actions ?? []));
      await settled();
      expect(actionsRun(walk.sessions), `${path.flow}: start`).toEqual(expected);
      if (path.flow === 'sms-otp') expect(log().filter((r) => r.rest === 'sendSms' && r.callSid === walk.callSid)).toHaveLength(1);

      const stranger = callFor('+15555550139', path.to);
      for (let i = 0; i < path.turns.length; i++) {
        const label = `${path.flow}: turn ${i + 1}`;
        const current = walk.next!;
        const before = walk.last;
        const step = path.turns[i]!;
        const ahead = await walk.caller.post(current.replace(/\/(\d+)(\/transfer)?(\?|$)/, (_m, n: string, t = '', q: string) => `/${Number(n) + 5}${t}${q}`), step.send);
        const foreign = await stranger.post(current, step.send);
        const none = await walk.caller.post(current, { ...step.send, CallSid: undefined });
        for (const answer of [ahead, foreign, none]) expect(answer.status, label).toBe(200);
        if (/\/transfer(\?|$)/.test(current)) {
          // A transfer's outcome for a session that ended with the transfer: the outcome table's
          // answer to the values sent (here the leg is over: <Hangup/>), from configuration alone;
          // the ended session no longer holds the call, and nothing runs.
          for (const [answer, what] of [[ahead, 'ahead'], [foreign, "with another call's CallSid"], [none, 'without a CallSid']] as const) {
            expect(verbs(parseTwiml(answer.body)), `${label} ${what}: the outcome table's answer`).toEqual(step.verbs);
          }
        } else {
          // Ahead of the current turn: the current question again (the last answer); ahead of a
          // session that has answered no turn yet (the call's first callback), the fail-safe.
          if (i === 0) expectFailSafe(ahead.body, `${label} ahead of a session's first turn`);
          else expect(ahead.body === before, `${label} ahead: the current turn again`).toBe(true);
          // Another call's CallSid, and none: the fail-safe, which reads no session.
          expectFailSafe(foreign.body, `${label} with another call's CallSid`);
          expectFailSafe(none.body, `${label} without a CallSid`);
        }
        for (const id of walk.sessions) expect(foreign.body.includes(id) || none.body.includes(id), `${label}: no session id in the answer to another call`).toBe(false);

        await walk.turn(i, i === path.handOverTurn ? { copies: 3, atOnce: true } : { copies: 2 });
        expected.push(...(path.turns[i]!.actions ?? []));
        await settled();
        expect(actionsRun(walk.sessions), label).toEqual(expected);
      }
      expect(walk.next, `${path.flow}: the path ends the call`).toBeUndefined();
      await walk.hangUp();
      await settled();
      expect(stillReserved(walk.sessions), path.flow).toEqual([]);
    });
  }
});

// ---- 3: the caller hangs up at each step ----

describe.concurrent('the caller hanging up at each step', () => {
  for (const path of PATHS) {
    it(`${path.flow}: no agent left reserved, and a late copy of the new-call webhook starts nothing`, async () => {
      await Promise.all(
        Array.from({ length: path.turns.length + 1 }, async (_, steps) => {
          const label = `${path.flow}: hung up after ${steps + 1} step(s)`;
          const walk = new Walk(path);
          await walk.start();
          for (let i = 0; i < steps; i++) await walk.turn(i);
          await walk.hangUp();
          await walk.hangUp(); // a repeat changes nothing
          if (path.handOver) {
            const late = await handOver(walk.callSid, walk.agentId);
            expect([late.status, late.json().error], label).toEqual([409, 'CALL_ENDED']);
          }
          const late = await walk.caller.post(`${base()}/voice`, { CallStatus: 'ringing' });
          expect(late.status, label).toBe(200);
          // A call the new-call webhook started gets its first answer again; one an agent handed
          // over never had one, and gets the fail-safe.
          if (path.handOver) expectFailSafe(late.body, `${label}: the late new-call webhook`);
          else expect(late.body === walk.first, `${label}: the late new-call webhook gets the first answer`).toBe(true);
          for (const id of sessionsIn(late.body)) expect(walk.sessions.has(id), `${label}: no new session in the late answer`).toBe(true);
          // The caller gone, the session's next turn runs nothing.
          if (walk.next) {
            const stray = await walk.caller.post(walk.next, path.turns[steps]!.send);
            expect(stray.status, label).toBe(200);
          }
          await settled();
          expect(stillReserved(walk.sessions), label).toEqual([]);
          const ran = actionsRun(walk.sessions);
          const expected = [path.start, ...path.turns.slice(0, steps)].flatMap((s) => s.actions ?? []);
          expect(ran, label).toEqual(expected);
          if (path.handOver && steps < 3) expect(log().some((r) => r.msg === 'agent released' && walk.sessions.has(r.sessionId!) && r.reason === 'hangup'), label).toBe(true);
        }),
      );
    });
  }
});

// ---- 4: two agents, one call ----

describe('two agents handing over one call', () => {
  it('takes one hand-over and refuses the other (CALL_IN_SESSION); after the final status no agent is reserved, and a late hand-over is refused (CALL_ENDED)', async () => {
    const caller = callFor('+15555550186', LINES.partner);
    const [a, b] = ['agent-double-a', 'agent-double-b'];
    const answers = await Promise.all([handOver(caller.callSid, a), handOver(caller.callSid, b)]);
    const taken = answers.filter((x) => x.status === 200);
    const refused = answers.filter((x) => x.status !== 200);
    expect(taken).toHaveLength(1);
    expect(refused.map((x) => [x.status, x.json().error])).toEqual([[409, 'CALL_IN_SESSION']]);
    const sessionId = taken[0]!.json().sessionId as string;
    const winner = answers[0]!.status === 200 ? a : b;
    const loser = winner === a ? b : a;

    await settled();
    expect(log().filter((r) => r.msg === 'agent reserved' && r.agentId === loser)).toEqual([]);
    expect(stillReserved(new Set([sessionId]))).toEqual([winner]);
    // The one who lost is free: another call takes them.
    const other = callFor('+15555550187', LINES.partner);
    const elsewhere = await handOver(other.callSid, loser);
    expect(elsewhere.status, elsewhere.text).toBe(200);

    for (const c of [caller, other]) expect((await c.post(`${base()}/status`, { CallStatus: 'completed' })).status).toBe(200);
    const late = await handOver(caller.callSid, loser);
    expect([late.status, late.json().error]).toEqual([409, 'CALL_ENDED']);
    await settled();
    expect(stillReserved(new Set([sessionId, elsewhere.json().sessionId as string]))).toEqual([]);
    // Both agents take new work.
    for (const agent of [winner, loser]) {
      const next = callFor('+15555550188', LINES.partner);
      expect((await handOver(next.callSid, agent)).status).toBe(200);
      await next.post(`${base()}/status`, { CallStatus: 'completed' });
    }
  });
});

// ---- 5: transfer outcomes ----

const OVER = 'over';
const FAIL_SAFE = 'the fail-safe';
const QUEUE_RESULTS: Array<[string | undefined, string]> = [
  ['bridged', OVER],
  ['bridging-in-process', OVER],
  ['redirected', OVER],
  ['redirected-from-bridged', OVER],
  ['hangup', OVER],
  ['queue-full', FAIL_SAFE],
  ['leave', FAIL_SAFE],
  ['error', FAIL_SAFE],
  ['system-error', FAIL_SAFE],
  ['not-a-documented-value', FAIL_SAFE],
  [undefined, FAIL_SAFE],
];
const DIAL_STATUSES: Array<[string | undefined, string]> = [
  ['completed', OVER],
  ['answered', OVER],
  ['busy', FAIL_SAFE],
  ['no-answer', FAIL_SAFE],
  ['failed', FAIL_SAFE],
  ['canceled', FAIL_SAFE],
  ['not-a-documented-value', FAIL_SAFE],
  [undefined, FAIL_SAFE],
];

/** The answer to an outcome on `…/transfer`, then (for the fail-safe) to the fallback's own outcome. */
async function expectOutcome(caller: TwilioCall, url: string, params: Record<string, string | undefined>, expected: string, label: string) {
  const answer = await caller.post(url, params);
  expect(answer.status, label).toBe(200);
  if (expected === OVER) {
    expect(verbs(parseTwiml(answer.body)), label).toEqual(['Hangup']);
    return;
  }
  expectFailSafe(answer.body, label);
  // The fallback queue itself full: the apology and the end, never the fail-safe again.
  expectApologyAndHangup((await caller.post(`${base()}/fallback/result`, { QueueResult: 'queue-full' })).body, `${label}, then the fallback full`);
  expect(verbs(parseTwiml((await caller.post(`${base()}/fallback/result`, { QueueResult: 'bridged' })).body)), `${label}, then the fallback bridged`).toEqual(['Hangup']);
}

describe.concurrent('the outcome of a transfer', () => {
  const queuePath = PATHS.find((p) => p.flow === 'protected-identity')!;
  const agentPath = PATHS.find((p) => p.handOver)!;

  it('on the queue of protected-identity: each QueueResult gets the documented answer; the caller gone, <Hangup/>', async () => {
    await Promise.all(
      [...QUEUE_RESULTS, ['queue-full', 'gone'] as [string, string]].map(async ([value, expected]) => {
        const walk = new Walk(queuePath);
        await walk.start();
        const gone = expected === 'gone';
        await expectOutcome(walk.caller, walk.next!, { QueueResult: value, QueueTime: '5', ...(gone ? { CallStatus: 'completed' } : {}) }, gone ? OVER : expected, `QueueResult=${value}${gone ? ', the caller gone' : ''}`);
        await walk.hangUp();
      }),
    );
  });

  it('on the return to the agent of agent-card-payment: each DialCallStatus gets the documented answer; the caller gone, <Hangup/>', async () => {
    await Promise.all(
      [...DIAL_STATUSES, ['no-answer', 'gone'] as [string, string]].map(async ([value, expected]) => {
        const walk = new Walk(agentPath);
        await walk.start();
        for (let i = 0; i < 3; i++) await walk.turn(i);
        const gone = expected === 'gone';
        await expectOutcome(walk.caller, walk.next!, { DialCallStatus: value, ...(gone ? { CallStatus: 'completed' } : {}) }, gone ? OVER : expected, `DialCallStatus=${value}${gone ? ', the caller gone' : ''}`);
        await walk.hangUp();
        await settled();
        expect(stillReserved(walk.sessions)).toEqual([]);
      }),
    );
  });
});

// ---- 6: refused requests ----

describe('refused requests', () => {
  it('each leave a warn line with the method and the path, and for a bad signature the signed URL; never the signature', async () => {
    const caller = callFor('+15555550188', LINES.billing);
    let forged = '';
    const sign = (u: string, p: Record<string, string>) => (forged = twilio.getExpectedTwilioSignature(`${LOCAL_TEST_TOKEN}-forged`, u, p));
    expect((await caller.post(`${base()}/voice`, {}, sign)).status).toBe(403);
    expect((await fetch(`${base()}/voice`)).status).toBe(405);
    const oversize = await fetch(`${base()}/voice`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': 'x' },
      body: `CallSid=${caller.callSid}&Padding=${'a'.repeat(70 * 1024)}`,
    });
    await oversize.text().catch(() => undefined);
    expect(oversize.status).toBe(413);
    await settled();
    const refusals = log().filter((r) => typeof r.refused === 'string');
    const line = (kind: string) => refusals.find((r) => r.refused === kind);
    expect(line('signature')).toMatchObject({ level: 40, status: 403, method: 'POST', path: '/twilio/voice', signedUrl: `${base()}/voice` });
    expect(line('method')).toMatchObject({ level: 40, status: 405, method: 'GET', path: '/twilio/voice' });
    expect(line('bodyTooLarge')).toMatchObject({ level: 40, status: 413, method: 'POST', path: '/twilio/voice' });
    const text = JSON.stringify(refusals);
    expect(forged.length).toBeGreaterThan(10);
    expect(text.includes(forged), 'the signature in the log').toBe(false);
    expect(text.includes(caller.callSid), 'a parameter in the log').toBe(false);
  });
});

// ---- at the end ----

describe('after every call', () => {
  it('left no agent reserved, started no session the client did not see, and put no card value in a body or the log', async () => {
    await settled();
    const reserved = log().filter((r) => r.msg === 'agent reserved');
    expect(reserved.length).toBeGreaterThan(10);
    expect(stillReserved(new Set(reserved.map((r) => r.sessionId!)))).toEqual([]);
    const seen = new Set(bodies.flatMap((b) => [...sessionsIn(b), ...(/"sessionId":"([0-9a-f-]{36})"/.exec(b)?.slice(1) ?? [])]));
    const started = log().filter((r) => r.msg === 'session started').map((r) => r.sessionId!);
    expect(started.filter((id) => !seen.has(id)), 'sessions started that no answer named').toEqual([]);
    // A secret as a whole token, once the random ids and the server's port are out of the way
    // (a time stamp or a port may hold any digit run).
    const clean = (text: string) => withoutIds(text).replaceAll(server.local, '<server>');
    const holds = (text: string, secret: string) => new RegExp(`(?<![0-9A-Za-z-])${secret}(?![0-9A-Za-z-])`).test(clean(text));
    const logs = server.stdout() + server.stderr();
    for (const secret of SECRETS) {
      expect(bodies.some((b) => holds(b, secret)), 'a card value in a body').toBe(false);
      expect(holds(logs, secret), 'a card value in the log').toBe(false);
    }
  });
});
