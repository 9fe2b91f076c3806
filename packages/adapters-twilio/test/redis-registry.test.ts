/**
 * `RedisCallRegistry` and two webhook workers sharing one Redis, against a real Redis on
 * 127.0.0.1:6379 (CI starts one where none runs; without it these tests fail and say why).
 * The workers are two runtimes and two webhooks in this process, called through the
 * framework-neutral `handle` with the same public URL, as a load balancer would spread one
 * call's requests over two processes (the process-level version is `cluster.test.ts`). The last
 * describe runs the registry on a Redis Cluster of three masters it starts itself.
 */
import { randomUUID } from 'node:crypto';
import { Redis, type Cluster } from 'ioredis';
import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, keyRing, type Runtime } from '@callflow/flow-core';
import { RedisReservationStore, RedisSessionLock, RedisSessionStore } from '@callflow/flow-core/redis';
import { createTwilioWebhook, type TwilioWebhook, type WebhookProblem } from '../src/index.js';
import { RedisCallRegistry } from '../src/redis.js';
import { AUTH_TOKEN, CLIENT_PHONE, MANAGER, PARTNER_LINE, ScriptedActions, exampleFlow } from './fixtures.js';
import { startRedisCluster, type TestRedisCluster } from '../../flow-core/test/helpers/redis-cluster.js';

const URL = process.env.CALLFLOW_REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `callflow-test-${randomUUID().slice(0, 8)}`;
const BASE = 'https://ivr.example.com/twilio';
const secrets = keyRing({ k1: Buffer.alloc(32, 11) }, 'k1');
let redis: Redis;

beforeAll(async () => {
  redis = new Redis(URL, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2000 });
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    throw new Error(`these tests need Redis at ${URL} (.ci/run starts one): ${(error as Error).message}`);
  }
});

afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

describe('RedisCallRegistry', () => {
  it('keeps CallSid → session under a hash-tagged key with a time to live, the first TwiML sealed', async () => {
    const calls = new RedisCallRegistry(redis, { secrets, prefix, ttlMs: 60_000 });
    const twiml = `<Response><Say>Hello Grace Hopper, we will call you on ${CLIENT_PHONE}.</Say></Response>`;
    expect(calls.keyOf('CA01')).toBe(`${prefix}:call:{CA01}`);
    await calls.set('CA01', { sessionId: 'session-1', startTwiml: twiml });
    expect(await calls.get('CA01')).toEqual({ sessionId: 'session-1', startTwiml: twiml });
    const raw = (await redis.get(calls.keyOf('CA01')))!;
    expect(raw).toContain('session-1');
    expect((raw).includes('Grace'), 'must not be there').toBe(false);
    expect((raw).includes(CLIENT_PHONE.slice(-7)), 'must not be there').toBe(false);
    const ttl = await redis.pttl(calls.keyOf('CA01'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
    await calls.set('CA01', { sessionId: 'session-2' });
    expect(await calls.get('CA01')).toEqual({ sessionId: 'session-2' });
    await calls.delete('CA01');
    expect(await calls.get('CA01')).toBeUndefined();
    expect(await redis.exists(calls.keyOf('CA01'))).toBe(0);
  });

  it('gives a worker without the key the session, never the sealed TwiML', async () => {
    await new RedisCallRegistry(redis, { secrets, prefix }).set('CA02', { sessionId: 'session-3', startTwiml: '<Response/>' });
    const stranger = new RedisCallRegistry(redis, { secrets: keyRing({ other: Buffer.alloc(32, 1) }, 'other'), prefix });
    expect(await stranger.get('CA02')).toEqual({ sessionId: 'session-3' });
  });

  it("does not open a call's sealed TwiML copied under another call's key", async () => {
    const calls = new RedisCallRegistry(redis, { secrets, prefix });
    await calls.set('CA04', { sessionId: 'session-4', startTwiml: `<Response><Say>Calling you on ${CLIENT_PHONE}</Say></Response>` });
    await redis.set(calls.keyOf('CA05'), (await redis.get(calls.keyOf('CA04')))!);
    expect(await calls.get('CA05')).toEqual({ sessionId: 'session-4' });
    expect((await calls.get('CA04'))?.startTwiml).toContain(CLIENT_PHONE);
  });

  it('leaves out a TwiML sealed in the format before entries were bound to their call', async () => {
    const calls = new RedisCallRegistry(redis, { secrets, prefix });
    await calls.set('CA06', { sessionId: 'session-6', startTwiml: '<Response/>' });
    const entry = JSON.parse((await redis.get(calls.keyOf('CA06')))!) as { startTwiml: { v: number } };
    entry.startTwiml.v = 1;
    await redis.set(calls.keyOf('CA06'), JSON.stringify(entry));
    expect(await calls.get('CA06')).toEqual({ sessionId: 'session-6' });
  });

  it('refuses a key ring whose current key is not 32 bytes when it is built', () => {
    const short = { currentKeyId: () => 'k9', key: () => Buffer.alloc(31) };
    expect(() => new RedisCallRegistry(redis, { secrets: short, prefix })).toThrow("key 'k9' is 31 bytes; AES-256 needs 32");
  });

  it('reports an unreachable Redis as StoreUnavailableError, with no value in the message', async () => {
    const gone = new Redis('redis://127.0.0.1:1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    const calls = new RedisCallRegistry(gone, { secrets, prefix });
    for (const attempt of [calls.get('CA03'), calls.set('CA03', { sessionId: 's', startTwiml: `<Say>${CLIENT_PHONE}</Say>` }), calls.delete('CA03')]) {
      const failure = (await attempt.catch((error: unknown) => error)) as Error & { code?: string };
      expect(failure.code).toBe('STORE_UNAVAILABLE');
      expect((failure.message).includes(CLIENT_PHONE), 'must not be there').toBe(false);
    }
    gone.disconnect();
  });
});

describe('two webhook workers sharing Redis', () => {
  const OPEN = { lookupApplication: { status: 'open', clientPhone: CLIENT_PHONE } };

  function workers() {
    const actions = new ScriptedActions(OPEN);
    const problems: WebhookProblem[] = [];
    let started = 0;
    const make = (): { runtime: Runtime; webhook: TwilioWebhook } => {
      const runtime = createRuntime({
        flows: [exampleFlow('masked-callback')],
        actions,
        store: new RedisSessionStore(redis, { prefix }),
        reservations: new RedisReservationStore(redis, { prefix }),
        sessionLock: new RedisSessionLock(redis, { prefix }),
        secrets,
      });
      runtime.events.on('session.started', () => started++);
      const webhook = createTwilioWebhook({
        runtime,
        authToken: AUTH_TOKEN,
        publicBaseUrl: BASE,
        flowByNumber: { [PARTNER_LINE]: 'masked-callback' },
        calls: new RedisCallRegistry(redis, { secrets, prefix }),
        onProblem: (p) => problems.push(p),
      });
      return { runtime, webhook };
    };
    return { a: make(), b: make(), actions, problems, sessionsStarted: () => started };
  }

  /** A signed POST to `url` (below BASE), as Twilio sends it. */
  function post(webhook: TwilioWebhook, url: string, params: Record<string, string>) {
    const signature = twilio.getExpectedTwilioSignature(AUTH_TOKEN, url, params);
    return webhook.handle({ method: 'POST', path: url.slice('https://ivr.example.com'.length), signature, body: new URLSearchParams(params).toString() });
  }

  const newCall = (callSid: string) => ({ CallSid: callSid, From: MANAGER, To: PARTNER_LINE, CallStatus: 'ringing' });
  const actionOf = (twiml: string) => /action="([^"]+)"/.exec(twiml)?.[1]?.replace(/&amp;/g, '&');

  it('answers a retried new-call webhook on the other worker with the first TwiML, and ends the call from its status callback', async () => {
    const { a, b, problems, sessionsStarted } = workers();
    const callSid = `CA${randomUUID().replace(/-/g, '')}`;
    const first = await post(a.webhook, `${BASE}/voice`, newCall(callSid));
    expect(first.status).toBe(200);
    expect(first.body).toContain('<Gather');
    const retried = await post(b.webhook, `${BASE}/voice`, newCall(callSid));
    expect(retried.body).toBe(first.body);
    expect(sessionsStarted()).toBe(1);
    // What the caller hears first is sealed in Redis.
    const raw = (await redis.get(new RedisCallRegistry(redis, { secrets, prefix }).keyOf(callSid)))!;
    expect((raw).includes('partner line'), 'must not be there').toBe(false);

    const sessionId = /\/voice\/([\w-]+)\/1/.exec(first.body)![1]!;
    const status = await post(b.webhook, `${BASE}/status`, { CallSid: callSid, CallStatus: 'completed' });
    expect(status.status).toBe(200);
    expect(await a.runtime.inspect(sessionId)).toMatchObject({ status: 'ended', end: { type: 'hangup' } });
    // The call is remembered as ended: a new-call webhook for it, even now, starts nothing.
    expect(await new RedisCallRegistry(redis, { secrets, prefix }).get(callSid)).toMatchObject({ sessionId, sessionEnded: true, callEnded: true });
    const late = await post(a.webhook, `${BASE}/voice`, newCall(callSid));
    expect(late.body).toBe(first.body);
    expect(sessionsStarted()).toBe(1);
    expect(problems).toEqual([]);
  });

  it('starts one session for a new-call webhook sent to both workers at once; the other copy is held, then gets the first answer', async () => {
    const { a, b, sessionsStarted } = workers();
    const callSid = `CA${randomUUID().replace(/-/g, '')}`;
    const [x, y] = await Promise.all([post(a.webhook, `${BASE}/voice`, newCall(callSid)), post(b.webhook, `${BASE}/voice`, newCall(callSid))]);
    expect(sessionsStarted()).toBe(1);
    const first = x.body.includes('<Gather') ? x : y;
    const other = first === x ? y : x;
    if (other.body !== first.body) {
      expect(other.body).toContain(`<Redirect method="POST">${BASE}/voice?hold=1</Redirect>`);
      expect((await post(b.webhook, `${BASE}/voice?hold=1`, newCall(callSid))).body).toBe(first.body);
    }
    expect(sessionsStarted()).toBe(1);
  });

  it('claims a call in one step: of two claims at once one binds it, the other gets the entry', async () => {
    const calls = new RedisCallRegistry(redis, { secrets, prefix, ttlMs: 60_000 });
    const callSid = `CA${randomUUID().replace(/-/g, '')}`;
    await calls.update(callSid, { sessionId: 'ended-1', startTwiml: '<Response><Say>Hello Ada</Say></Response>', sessionEnded: true });
    const [x, y] = await Promise.all([calls.claim(callSid, { sessionId: 's-x' }, 'handOver'), calls.claim(callSid, { sessionId: 's-y' }, 'handOver')]);
    expect([x, y].filter((r) => r === undefined)).toHaveLength(1);
    const entry = await calls.get(callSid);
    expect([x, y].find((r) => r !== undefined)).toEqual(entry);
    // The first answer stays (sealed), and the call is live again.
    expect(entry).toMatchObject({ startTwiml: '<Response><Say>Hello Ada</Say></Response>' });
    expect(entry?.sessionEnded).toBeUndefined();
    expect((await redis.get(calls.keyOf(callSid)))!.includes('Ada')).toBe(false);
    // Once the call ended, it stays ended and refuses a claim.
    await calls.update(callSid, { callEnded: true });
    await calls.update(callSid, { sessionId: 'later', callEnded: false });
    expect(await calls.get(callSid)).toMatchObject({ sessionEnded: true, callEnded: true });
    expect(await calls.claim(callSid, { sessionId: 's-z' }, 'handOver')).toMatchObject({ callEnded: true });
    expect(await calls.claim(callSid, { sessionId: 's-z' }, 'new')).toMatchObject({ callEnded: true });
    expect(await redis.pttl(calls.keyOf(callSid))).toBeGreaterThan(50_000);
  });

  it('answers the fail-safe while Redis is unreachable, and frees the agent once it is back', async () => {
    // The workers' own client: disconnecting it makes Redis unreachable for them alone (no
    // offline queue: a command fails at once), connecting it again brings Redis back.
    const through = new Redis(URL, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    through.on('error', () => undefined);
    await through.connect();
    try {
      const problems: WebhookProblem[] = [];
      const make = () => {
        const runtime = createRuntime({
          flows: [exampleFlow('agent-card-payment')],
          actions: new ScriptedActions({ chargeCard: { approved: true, reference: 'PAY-7001', maskedCard: '1111' } }),
          store: new RedisSessionStore(through, { prefix }),
          reservations: new RedisReservationStore(through, { prefix }),
          sessionLock: new RedisSessionLock(through, { prefix }),
          secrets,
        });
        const errors: string[] = [];
        runtime.events.on('error', (e) => errors.push(e.code));
        const webhook = createTwilioWebhook({
          runtime,
          authToken: AUTH_TOKEN,
          publicBaseUrl: BASE,
          calls: new RedisCallRegistry(through, { secrets, prefix }),
          // No REST port here: the calls are declared unrecorded, so the secure flow runs.
          recording: 'none',
          fallbackQueue: 'customer-care',
          onProblem: (p) => problems.push(p),
        });
        return { runtime, webhook, errors };
      };
      const a = make();
      const b = make();
      const callSid = `CA${randomUUID().replace(/-/g, '')}`;
      const started = await a.webhook.startSecureCall({ callSid, conversationId: 'conv-9', agentId: 'agent-cut-1', flow: 'agent-card-payment', inputs: { amount: 42.5, invoiceId: 'INV-1001' } });
      const agentKey = new RedisReservationStore(redis, { prefix }).keyOf('agent-cut-1');
      expect(await redis.exists(agentKey)).toBe(1);

      problems.length = 0;
      const closed = new Promise((resolve) => through.once('end', resolve));
      through.disconnect();
      await closed;
      const answer = await post(b.webhook, actionOf(started.twiml)!, { CallSid: callSid, Digits: '4111111111111111' });
      expect(answer.status).toBe(200);
      expect(answer.body).toMatch(/<Enqueue action="[^"]+\/fallback\/result" method="POST">customer-care<\/Enqueue>/);
      expect((answer.body).includes('4111'), 'must not be there').toBe(false);
      expect(b.errors).toEqual(['STORE_UNAVAILABLE']);
      expect(problems.map((p) => p.code)).toEqual(['STORE_UNAVAILABLE']);
      expect(await redis.exists(agentKey)).toBe(1);

      await through.connect();
      expect(await b.runtime.sweep()).toBe(1);
      expect(await redis.exists(agentKey)).toBe(0);
      expect(await a.runtime.inspect(started.sessionId)).toMatchObject({ status: 'ended', end: { type: 'error', code: 'STORE_UNAVAILABLE' } });
    } finally {
      through.disconnect();
    }
  });

  it('runs the same Gather callback arriving at both workers at once once, and answers both with its TwiML', async () => {
    const { a, b, actions, problems } = workers();
    const callSid = `CA${randomUUID().replace(/-/g, '')}`;
    const first = await post(a.webhook, `${BASE}/voice`, newCall(callSid));
    const url = actionOf(first.body)!;
    const gather = { CallSid: callSid, From: MANAGER, To: PARTNER_LINE, Digits: '12345678' };
    const [one, two] = await Promise.all([post(a.webhook, url, gather), post(b.webhook, url, gather)]);
    expect([one.status, two.status]).toEqual([200, 200]);
    expect(one.body).toContain('<Dial');
    expect(two.body).toBe(one.body);
    expect(actions.count('lookupApplication')).toBe(1);
    expect(problems).toEqual([]);
    // The call goes on from either worker.
    const dialed = await post(b.webhook, actionOf(one.body)!, { CallSid: callSid, DialCallStatus: 'completed' });
    expect(dialed.body).toContain('<Hangup/>');
  });
});

describe('RedisCallRegistry on a Redis Cluster', () => {
  // Three masters of its own (flow-core's test helper; without redis-server and redis-cli it
  // fails, saying so): the call keys' hash tags spread calls over the masters, each call in one slot.
  let cluster: TestRedisCluster | undefined;
  let client: Cluster;

  beforeAll(async () => {
    cluster = await startRedisCluster();
    client = new Redis.Cluster(cluster.nodes, { lazyConnect: true, redisOptions: { maxRetriesPerRequest: 1, connectTimeout: 2_000 } });
    client.on('error', () => undefined);
    await client.connect();
  }, 20_000);

  afterAll(async () => {
    client?.disconnect();
    await cluster?.stop();
  });

  it('keeps each call on the master of its slot, the first TwiML sealed, with a time to live, until deleted', async () => {
    const calls = new RedisCallRegistry(client, { secrets, prefix, ttlMs: 60_000 });
    const twiml = `<Response><Say>Hello Grace Hopper, we will call you on ${CLIENT_PHONE}.</Say></Response>`;
    const callSids = Array.from({ length: 6 }, (_, i) => `CA${String(i).padStart(32, '0')}`);
    const ranges = (await client.cluster('SLOTS')).map(([from, to, master]) => ({ from, to, port: master![1] }));
    const ownerOf = async (key: string) => {
      const slot = Number(await client.cluster('KEYSLOT', key));
      return ranges.find((r) => slot >= r.from && slot <= r.to)!.port;
    };
    const owners = await Promise.all(callSids.map((sid) => ownerOf(calls.keyOf(sid))));
    expect(new Set(owners).size).toBeGreaterThanOrEqual(2);

    await Promise.all(callSids.map((sid, i) => calls.set(sid, { sessionId: `session-${i}`, startTwiml: twiml })));
    const masterOf = (i: number) => client.nodes('master').find((n) => n.options.port === owners[i])!;
    for (const [i, sid] of callSids.entries()) {
      expect(await calls.get(sid)).toEqual({ sessionId: `session-${i}`, startTwiml: twiml });
      // Read back from the master that owns the slot: the session id in clear, the TwiML sealed.
      const master = masterOf(i);
      const raw = (await master.get(calls.keyOf(sid)))!;
      expect(raw).toContain(`session-${i}`);
      expect((raw).includes('Grace'), 'must not be there').toBe(false);
      expect((raw).includes(CLIENT_PHONE.slice(-7)), 'must not be there').toBe(false);
      const ttl = await master.pttl(calls.keyOf(sid));
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(60_000);
    }
    await calls.set(callSids[0]!, { sessionId: 'session-next' });
    expect(await calls.get(callSids[0]!)).toEqual({ sessionId: 'session-next' });
    await Promise.all(callSids.map((sid) => calls.delete(sid)));
    for (const [i, sid] of callSids.entries()) {
      expect(await calls.get(sid)).toBeUndefined();
      expect(await masterOf(i).exists(calls.keyOf(sid))).toBe(0);
    }
  });
});
