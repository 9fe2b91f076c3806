/**
 * Stateless workers: real webhook worker processes (test/cluster/worker.mjs, running the built
 * packages) behind a round-robin proxy on loopback, sharing one real Redis through a cutter that
 * can make Redis unreachable for the workers alone. The call simulator plays Twilio against the
 * proxy's URL, which is the public URL the workers check signatures against. These tests never
 * skip: without Redis (or without a build) they fail, and say why.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Cluster, type WorkerReport } from './cluster/cluster.mjs';
import { CLIENT_PHONE, CUSTOMER_MOBILE, FALLBACK_QUEUE, LINES } from '../../../examples/twilio-server/lines.mjs';
import { deletePrefix, findClearSecrets } from './cluster/redis-scan.mjs';
import { CallSimulator, parseTwiml, type HttpAnswer, type XmlNode } from './call-simulator.js';

const REDIS_URL = process.env.CALLFLOW_REDIS_URL ?? 'redis://127.0.0.1:6379';
const AUTH_TOKEN = 'cluster-test-auth-token-0123456789';
const prefix = `callflow-cluster-${randomUUID().slice(0, 8)}`;
/** Long enough for one test, short enough to show that a lease runs out on its own. */
const LEASE_MS = 60_000;

// Luhn-valid test cards, and the other secure values the callers key in; none may reach Redis in clear.
const CARDS = ['4916338506082832', '4111111111111111', '5555555555554444', '4012888888881881'];
const EXPIRIES = ['0327', '1129', '0931', '0526'];
const CVVS = ['736', '5314', '462', '835'];
/** Caller numbers, and the personal and secure values the data actions hand out: sealed, or nowhere. */
const PERSONAL = ['+15555550188', '+15555550144', '+15555550186', '+15555550145', CLIENT_PHONE, CUSTOMER_MOBILE, 'Grace Hopper', 'Ada Lovelace'];
const typed = new Set<string>([...CARDS, ...EXPIRIES, ...CVVS, ...PERSONAL]);

let redis: Redis;
let cluster: Cluster;
/** Why the cluster could not be set up: every test then fails with it (none is skipped). */
let unavailable: Error | undefined;

beforeAll(async () => {
  redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2_000 });
  redis.on('error', () => undefined); // reported below, once, as the reason every test fails
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    unavailable = new Error(`these tests need Redis at ${REDIS_URL} (.ci/run starts one): ${(error as Error).message}`);
    return;
  }
  try {
    const upstream = new URL(REDIS_URL);
    cluster = await Cluster.start({
      workers: 3,
      prefix,
      authToken: AUTH_TOKEN,
      redis: { host: upstream.hostname, port: Number(upstream.port || 6379) },
      record: true,
      // Data actions slow enough for two webhooks of one call to overlap; a session lock that a
      // killed worker leaves behind lapses within a second.
      actionMs: 120,
      lockTtlMs: 1_000,
      leaseMs: LEASE_MS,
      recoveryMs: 200,
    });
  } catch (error) {
    unavailable = new Error(`the worker processes run the built packages (npm run build first): ${(error as Error).message}`);
  }
}, 30_000);

beforeEach(() => {
  if (unavailable) throw unavailable;
});

afterEach(async () => {
  if (unavailable) return;
  // Whatever the test did, no secure value sits in clear text in any key of the run.
  const { keys, hits } = await findClearSecrets(redis, prefix, typed);
  expect(keys).toBeGreaterThan(0);
  expect(hits.map((h) => h.key)).toEqual([]);
});

afterAll(async () => {
  await cluster?.stop();
  if (redis?.status === 'ready') await deletePrefix(redis, prefix);
  redis?.disconnect();
}, 30_000);

// ---- helpers ----

const isFailSafe = (body: string) => new RegExp(`<Enqueue action="[^"]+/fallback/result" method="POST">${FALLBACK_QUEUE}</Enqueue>`).test(body);
const verbs = (doc: XmlNode) => doc.children.map((c) => c.name);
const gatherOf = (doc: XmlNode) => {
  const gather = doc.children.find((c) => c.name === 'Gather');
  if (!gather) throw new Error(`no Gather in ${verbs(doc).join(', ')}`);
  return gather;
};
/** The Gather/Dial action URL of a document. */
const actionOf = (doc: XmlNode) => {
  const verb = doc.children.find((c) => c.name === 'Gather' || c.name === 'Dial');
  const url = verb?.attrs.action;
  if (!url) throw new Error(`no action in ${verbs(doc).join(', ')}`);
  return url;
};
const sessionOf = (url: string): string => /\/voice\/([\w-]+)\/\d+(?:\?recording=paused)?$/.exec(url)![1]!;
/** A webhook answer that must be a good one: 200, well-formed TwiML, not the fail-safe. */
function good(answer: HttpAnswer): XmlNode {
  expect(answer.status).toBe(200);
  expect(isFailSafe(answer.body), answer.body).toBe(false);
  return parseTwiml(answer.body);
}
/** The workers that answered requests of this call, in order. */
const workersOf = (callSid: string) => cluster.proxy.records.filter((r) => r.callSid === callSid).map((r) => r.target);
const reports = <T extends WorkerReport['type']>(type: T) => cluster.messages.filter((m): m is Extract<WorkerReport, { type: T }> => m.type === type);
const actionCount = (name: string, sessionId?: string) =>
  reports('action').filter((m) => m.name === name && (sessionId === undefined || m.sessionId === sessionId)).length;
const agentKey = (agentId: string) => `${prefix}:agent:{${agentId}}`;
/** The stored session: its version, and the record's own turn count and status. */
async function stored(sessionId: string): Promise<{ version: number; turns: number; status: string; end?: { type: string } }> {
  const [v, d] = await redis.hmget(`${prefix}:{${sessionId}}:session`, 'v', 'd');
  if (v == null || d == null) throw new Error(`session ${sessionId} is not stored`);
  const record = JSON.parse(d) as { turns: number; status: string; end?: { type: string } };
  return { version: Number(v), turns: record.turns, status: record.status, ...(record.end ? { end: record.end } : {}) };
}

describe('a call whose turns land on different workers', { timeout: 30_000 }, () => {
  it('runs the agent card payment to the end: the card charged once, the agent released by whichever worker ran the last turn', async () => {
    cluster.proxy.alternate();
    const agentId = `agent-${randomUUID().slice(0, 8)}`;
    const caller = new CallSimulator(cluster.publicBaseUrl, AUTH_TOKEN, { from: PERSONAL[0]!, to: LINES.partner });
    // The agent's application hands the caller over (on one worker); the caller's leg then runs
    // on the TwiML it was given, and every webhook after that goes through the proxy.
    const started = await cluster.ask(cluster.liveWorkers()[0]!, 'startSecureCall', {
      options: { callSid: caller.callSid, conversationId: `conv-${agentId}`, agentId, flow: 'agent-card-payment', inputs: { amount: 42.5, invoiceId: 'INV-1001' } },
    });
    expect(await redis.exists(agentKey(agentId))).toBe(1);
    const lease = await redis.pttl(agentKey(agentId));
    expect(lease).toBeGreaterThan(0);
    expect(lease).toBeLessThanOrEqual(LEASE_MS);

    const call = await caller.follow({ status: 200, body: started.twiml }, [{ secure: CARDS[0]! }, { secure: EXPIRIES[0]! }, { secure: CVVS[0]! }]);

    expect(call.outcome).toBe('bridged');
    expect(call.transcript).toContain('say: Thank you. The payment with the card ending 2832 was approved. Your reference is PAY-7006.');
    expect(call.transcript.at(-1)).toBe(`dial client ${agentId}`);
    for (const body of call.bodies) expect(isFailSafe(body)).toBe(false);
    // Three Gather callbacks and the status callback, each on the next worker in turn.
    const served = workersOf(caller.callSid);
    expect(served).toHaveLength(4);
    expect(new Set(served).size).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < served.length; i++) expect(served[i]).not.toBe(served[i - 1]);
    // The card was charged once; the agent is free again, released by the returnToAgent turn.
    expect(actionCount('chargeCard', started.sessionId)).toBe(1);
    expect(await redis.exists(agentKey(agentId))).toBe(0);
    const released = reports('released').filter((m) => m.agentId === agentId);
    expect(released.map((m) => [m.worker, m.reason])).toEqual([[served[2], 'returnToAgent']]);
    expect(await stored(started.sessionId)).toMatchObject({ status: 'ended', end: { type: 'returnToAgent' } });
  });

  it('follows the billing line into the secure card payment (a new session) across workers', async () => {
    cluster.proxy.alternate();
    const caller = new CallSimulator(cluster.publicBaseUrl, AUTH_TOKEN, { from: PERSONAL[1]!, to: LINES.billing });
    const call = await caller.dialIn(['1234567895', '1', { secure: CARDS[1]! }, { secure: EXPIRIES[1]! }, { secure: CVVS[1]! }]);
    expect(call.outcome).toBe('hangup');
    expect(call.transcript).toContain('say: Thank you. The payment with the card ending 1111 was approved. Your reference is PAY-7004.');
    const served = workersOf(caller.callSid);
    expect(served).toHaveLength(7); // new call, five callbacks, status
    for (let i = 1; i < served.length; i++) expect(served[i]).not.toBe(served[i - 1]);
    const secureSession = sessionOf(actionOf(call.documents[2]!));
    expect(actionCount('takePayment', secureSession)).toBe(1);
    expect(await stored(secureSession)).toMatchObject({ status: 'ended', end: { type: 'disconnect' } });
  });
});

describe('a worker killed mid-call', { timeout: 30_000 }, () => {
  it('loses nothing: the proxy skips the dead worker and the call goes on through the others', async () => {
    cluster.proxy.alternate();
    const caller = new CallSimulator(cluster.publicBaseUrl, AUTH_TOKEN, { from: PERSONAL[2]!, to: LINES.billing });
    const welcome = good(await caller.post('/voice'));
    const billing = sessionOf(actionOf(welcome));
    const menu = good(await caller.post(actionOf(welcome), { Digits: '1234567896' }));
    expect(gatherOf(menu).children[0]!.text).toMatch(/^You have 66.5 pounds to pay\./);

    // SIGKILL the worker that answered the last turn: no shutdown, its pooled connections die with it.
    const victim = cluster.proxy.records.at(-1)!.target!;
    await cluster.kill(victim);
    const before = cluster.proxy.records.length;

    const askCard = good(await caller.post(actionOf(menu), { Digits: '1' }));
    const card = sessionOf(actionOf(askCard));
    const askExpiry = good(await caller.post(actionOf(askCard), { Digits: CARDS[2]! }));
    const askCvv = good(await caller.post(actionOf(askExpiry), { Digits: EXPIRIES[2]! }));
    const done = good(await caller.post(actionOf(askCvv), { Digits: CVVS[2]! }));
    expect(verbs(done)).toEqual(['Say', 'Hangup']);
    expect(done.children[0]!.text).toBe('Thank you. The payment with the card ending 4444 was approved. Your reference is PAY-7002.');
    expect((await caller.status('completed')).status).toBe(200);

    // Every request after the kill was answered by a live worker; at least one was first sent
    // to the dead one (round robin comes back to it) and went on to the next.
    const after = cluster.proxy.records.slice(before);
    expect(after).toHaveLength(5);
    for (const r of after) {
      expect(r.status).toBe(200);
      expect(r.target).not.toBe(victim);
    }
    expect(after.some((r) => r.attempts > 1)).toBe(true);
    // Nothing lost, nothing run twice: each lookup once, both sessions ended as the flow says.
    expect(actionCount('findAccount', billing)).toBe(1);
    expect(actionCount('takePayment', card)).toBe(1);
    expect(await stored(billing)).toMatchObject({ status: 'ended', end: { type: 'enterSecureFlow' } });
    expect(await stored(card)).toMatchObject({ status: 'ended', end: { type: 'disconnect' } });

    // A new worker takes the dead one's place behind the proxy.
    cluster.proxy.removeTarget(victim);
    await cluster.startWorker(`${victim}-replacement`);
  });

  it('goes on when the worker dies in the middle of a turn: another one runs the turn once the dead one’s lock lapses', async () => {
    cluster.proxy.alternate();
    const caller = new CallSimulator(cluster.publicBaseUrl, AUTH_TOKEN, { from: PERSONAL[3]!, to: LINES.billing });
    let doc = good(await caller.post('/voice'));
    for (const digits of ['1234567898', '1', CARDS[3]!, EXPIRIES[3]!]) doc = good(await caller.post(actionOf(doc), { Digits: digits }));
    const card = sessionOf(actionOf(doc));
    const before = await stored(card);

    // The payment hangs on whichever worker gets the security code; that worker is then killed
    // with the turn half done (the session lock taken, nothing written back).
    const workers = cluster.liveWorkers();
    await Promise.all(workers.map((w) => cluster.ask(w, 'hold', { action: 'takePayment' })));
    const answer = caller.post(actionOf(doc), { Digits: CVVS[3]! });
    const started = await cluster.waitFor('the payment starting', (m) => m.type === 'action' && m.name === 'takePayment' && m.sessionId === card);
    await Promise.all(workers.filter((w) => w !== started.worker).map((w) => cluster.ask(w, 'unhold')));
    await cluster.kill(started.worker);

    // The proxy sends the request on; the next worker waits out the dead one's lock and runs the turn.
    const done = good(await answer);
    expect(verbs(done)).toEqual(['Say', 'Hangup']);
    expect(done.children[0]!.text).toBe('Thank you. The payment with the card ending 1881 was approved. Your reference is PAY-7005.');
    const retried = cluster.proxy.records.at(-1)!;
    expect(retried.attempts).toBeGreaterThan(1);
    expect(retried.target).not.toBe(started.worker);
    // One turn written, not two, and none lost. The payment action was called again: the first
    // call died with its worker before its outcome was known (at least once, never silently never).
    expect(await stored(card)).toMatchObject({ version: before.version + 1, turns: before.turns + 1, status: 'ended', end: { type: 'disconnect' } });
    expect(actionCount('takePayment', card)).toBe(2);
    // ...with the same idempotency key both times: a gateway that dedupes charges once.
    const keys = reports('action').filter((m) => m.name === 'takePayment' && m.sessionId === card).map((m) => m.idempotencyKey);
    expect(keys[0]).toMatch(new RegExp(`^${card}:`));
    expect(keys[1]).toBe(keys[0]);
    expect((await caller.status('completed')).status).toBe(200);
    cluster.proxy.removeTarget(started.worker);
    await cluster.startWorker(`${started.worker}-replacement`);
  });
});

describe('two webhooks of one call at once', { timeout: 30_000 }, () => {
  /** A masked-callback call up to its first Gather: the session and that Gather's action URL. */
  async function atApplicationPrompt(from: string) {
    const caller = new CallSimulator(cluster.publicBaseUrl, AUTH_TOKEN, { from, to: LINES.partner });
    const first = good(await caller.post('/voice'));
    const action = actionOf(first);
    return { caller, action, sessionId: sessionOf(action) };
  }

  it('answers the same Gather callback sent to two workers at once with the same TwiML, and runs the turn once', async () => {
    cluster.proxy.alternate();
    const { caller, action, sessionId } = await atApplicationPrompt(PERSONAL[0]!);
    const before = await stored(sessionId);
    const mark = cluster.proxy.records.length;
    // Twilio retrying while the first try is still running, the two landing on two workers.
    const [a, b] = await Promise.all([caller.post(action, { Digits: '12345674' }), caller.post(action, { Digits: '12345674' })]);
    const docA = good(a);
    good(b);
    expect(b.body).toBe(a.body);
    expect(verbs(docA)).toEqual(['Say', 'Dial']);
    const pair = cluster.proxy.records.slice(mark);
    expect(new Set(pair.map((r) => r.target)).size).toBe(2);
    // One lookup, one write: the version and the turn count moved by exactly one.
    expect(actionCount('lookupApplication', sessionId)).toBe(1);
    const after = await stored(sessionId);
    expect(after.version).toBe(before.version + 1);
    expect(after.turns).toBe(before.turns + 1);
    expect(after.version).toBe(after.turns);
    await caller.post(actionOf(docA), { DialCallStatus: 'completed', DialCallSid: `CA${'d'.repeat(32)}` });
    await caller.status('completed');
  });

  it('does the same when both copies reach one worker (the proxy pinned to it)', async () => {
    const { caller, action, sessionId } = await atApplicationPrompt(PERSONAL[3]!);
    const worker = cluster.liveWorkers()[0]!;
    cluster.proxy.pin(worker);
    try {
      const mark = cluster.proxy.records.length;
      const [a, b] = await Promise.all([caller.post(action, { Digits: '45678904' }), caller.post(action, { Digits: '45678904' })]);
      good(a);
      expect(b.body).toBe(a.body);
      expect(cluster.proxy.records.slice(mark).map((r) => r.target)).toEqual([worker, worker]);
      expect(actionCount('lookupApplication', sessionId)).toBe(1);
      expect(await stored(sessionId)).toMatchObject({ version: 2, turns: 2 });
    } finally {
      cluster.proxy.alternate();
    }
    await caller.status('completed');
  });

  it('serializes many copies of one callback over every worker: one turn, one lookup, one answer', async () => {
    cluster.proxy.alternate();
    const { caller, action, sessionId } = await atApplicationPrompt(PERSONAL[1]!);
    const answers = await Promise.all(Array.from({ length: 6 }, () => caller.post(action, { Digits: '23456785' })));
    for (const answer of answers) {
      good(answer);
      expect(answer.body).toBe(answers[0]!.body);
    }
    expect(actionCount('lookupApplication', sessionId)).toBe(1);
    const after = await stored(sessionId);
    expect(after.turns).toBe(2);
    expect(after.version).toBe(2);
    await caller.status('completed');
  });

  it('applies a Gather callback and the status callback that race each other, both, in one order', async () => {
    cluster.proxy.alternate();
    const { caller, action, sessionId } = await atApplicationPrompt(PERSONAL[2]!);
    const [gathered, status] = await Promise.all([caller.post(action, { Digits: '34567896' }), caller.status('completed')]);
    expect(gathered.status).toBe(200);
    parseTwiml(gathered.body);
    expect(status.status).toBe(200);
    parseTwiml(status.body);
    // The hang-up was not lost to the concurrent turn: the session ended with it, whichever ran first.
    await cluster.waitFor('the session ending', (m) => m.type === 'ended' && m.sessionId === sessionId);
    const after = await stored(sessionId);
    expect(after).toMatchObject({ status: 'ended', end: { type: 'hangup' } });
    expect(after.version).toBe(after.turns);
    // The lookup ran at most once (not at all when the hang-up came first).
    expect(actionCount('lookupApplication', sessionId)).toBeLessThanOrEqual(1);
    expect(reports('problem').filter((p) => p.sessionId === sessionId)).toEqual([]);
  });
});

describe('the Redis scan these tests end with', { timeout: 30_000 }, () => {
  it('finds a secure value written in clear text, and not one sealed', async () => {
    // A control for the afterEach check: a leak it must catch, beside ciphertext it must not flag.
    const leaked = `${prefix}:{control}:session`;
    await redis.hset(leaked, 'v', '1', 'd', JSON.stringify({ vars: { cvv: CVVS[0], card: CARDS[0]!.replace(/(\d{4})(?=\d)/g, '$1 ') } }));
    const sealed = `${prefix}:{control-sealed}:session`;
    await redis.hset(sealed, 'v', '1', 'd', JSON.stringify({ sealed: { kid: 'k1', iv: 'DAGUw/0MJbO9TDG4', ct: `zau${CVVS[0]}INcT1KH1+Sv+${EXPIRIES[0]}kV/RlWf72kd7qJ6Tk`, tag: 'x' } }));
    try {
      const { hits } = await findClearSecrets(redis, prefix, typed);
      expect(hits.filter((h) => h.key === leaked).map((h) => h.secret).sort()).toEqual([CARDS[0], CVVS[0]].sort());
      expect(hits.filter((h) => h.key === sealed)).toEqual([]);
    } finally {
      await redis.del(leaked, sealed);
    }
  });
});

describe('Redis unreachable', { timeout: 30_000 }, () => {
  it('answers the fail-safe, reports STORE_UNAVAILABLE, and releases the agent once Redis is back', async () => {
    cluster.proxy.alternate();
    const agentId = `agent-${randomUUID().slice(0, 8)}`;
    const caller = new CallSimulator(cluster.publicBaseUrl, AUTH_TOKEN, { from: PERSONAL[0]!, to: LINES.partner });
    const started = await cluster.ask(cluster.liveWorkers()[0]!, 'startSecureCall', {
      options: { callSid: caller.callSid, conversationId: `conv-${agentId}`, agentId, flow: 'agent-card-payment', inputs: { amount: 19.99, invoiceId: 'INV-2002' } },
    });
    const askCard = parseTwiml(started.twiml);
    const askExpiry = good(await caller.post(actionOf(askCard), { Digits: CARDS[3]! }));
    expect(await redis.exists(agentKey(agentId))).toBe(1);

    cluster.cutter.cut();
    try {
      // The caller keys in the expiry: the turn cannot read its session. The answer is the
      // configured fail-safe — an apology and the fallback queue — never an error page.
      const failed = await caller.post(actionOf(askExpiry), { Digits: EXPIRIES[3]! });
      expect(failed.status).toBe(200);
      const doc = parseTwiml(failed.body);
      expect(verbs(doc)).toEqual(['Say', 'Enqueue']);
      expect(doc.children[0]!.text).toMatch(/^Sorry, something went wrong\./);
      expect(doc.children[1]!.text).toBe(FALLBACK_QUEUE);
      // Nothing of the store's failure: the only address in it is the fail-safe's own result URL.
      expect(doc.children[1]!.attrs.action).toMatch(/\/fallback\/result$/);
      expect(failed.body.replace(doc.children[1]!.attrs.action!, '')).not.toMatch(/ECONN|127\.0\.0\.1|Redis/);
      // A new call during the outage gets the same answer.
      const other = new CallSimulator(cluster.publicBaseUrl, AUTH_TOKEN, { from: PERSONAL[1]!, to: LINES.protectedIdentity });
      const refused = await other.post('/voice');
      expect(refused.status).toBe(200);
      expect(isFailSafe(refused.body)).toBe(true);
      // The worker that answered reported the outage, and its runtime emitted the error event.
      await cluster.waitFor('a STORE_UNAVAILABLE problem', (m) => m.type === 'problem' && m.code === 'STORE_UNAVAILABLE' && m.sessionId === started.sessionId);
      await cluster.waitFor('a STORE_UNAVAILABLE error event', (m) => m.type === 'error' && m.code === 'STORE_UNAVAILABLE' && m.sessionId === started.sessionId);
      // The agent is still held in Redis: nothing could release it while Redis was away.
      expect(await redis.exists(agentKey(agentId))).toBe(1);
    } finally {
      cluster.cutter.restore();
    }

    // Redis answers again: the worker's recovery ends the session and releases the agent,
    // long before the lease would have run out.
    const released = await cluster.waitFor('the agent released', (m): m is Extract<WorkerReport, { type: 'released' }> => m.type === 'released' && m.agentId === agentId);
    expect(released.sessionId).toBe(started.sessionId);
    expect(await redis.exists(agentKey(agentId))).toBe(0);
    // The agent first, then the session, ended and written back.
    await cluster.waitFor('the session ended', (m) => m.type === 'ended' && m.sessionId === started.sessionId);
    const session = await stored(started.sessionId);
    expect(session.status).toBe('ended');
    expect(actionCount('chargeCard', started.sessionId)).toBe(0);
    await caller.status('completed');

    // And calls run normally again.
    const next = new CallSimulator(cluster.publicBaseUrl, AUTH_TOKEN, { from: PERSONAL[1]!, to: LINES.protectedIdentity });
    const call = await next.dialIn([]);
    expect(call.outcome).toBe('enqueued');
    expect(isFailSafe(call.bodies[0]!)).toBe(false);
  });
});
