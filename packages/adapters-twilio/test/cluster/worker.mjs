/**
 * One stateless webhook worker, in its own process, as a deployment runs several behind a load
 * balancer: the Twilio webhook over a runtime whose sessions, agent reservations, session locks
 * and CallSid map all live in one shared Redis, sealed with a key ring every worker shares.
 * It runs the built packages (dist: `npm run build` first) and the example flows, with data
 * actions answering from a script (examples/twilio-server/lines.mjs), so that any worker gives
 * any turn the same answer.
 *
 * Configured by environment (the parent — cluster.test.ts or the load script — sets it):
 *   CLUSTER_REDIS_URL   Redis (usually a RedisCutter in front of the real one)
 *   CLUSTER_PREFIX      the run's key prefix
 *   CLUSTER_KEY         base64 of 32 random bytes, made by the parent for this run
 *   CLUSTER_AUTH_TOKEN  the Twilio auth token requests are signed with
 *   CLUSTER_PUBLIC_URL  the proxy's URL + /twilio: signatures are computed against the public URL
 *   CLUSTER_ID          this worker's name in reports
 *   CLUSTER_REPORT      `events` (each event of interest, for tests) or `counts` (totals on request, for load)
 *   CLUSTER_ACTION_MS   how long each data action takes (default 0)
 *   CLUSTER_RECOVERY_MS the runtime's recoveryIntervalMs after a store outage (default 250)
 *   CLUSTER_LEASE_MS    the agent reservation lease (default the runtime's)
 *   CLUSTER_LOCK_TTL_MS how long a session lock outlives a worker that died holding it (default the runtime's)
 *
 * Tells the parent over IPC: `ready` (its port), each runtime event and webhook problem of
 * interest (or their counts), the one-time codes it "texted" (the parent plays the caller
 * reading the SMS). Answers IPC commands: startSecureCall
 * (what an agent's app does), stats, sweep, hold/unhold (a data action's calls wait, so that a
 * test can kill the worker in the middle of a turn). Exits cleanly on SIGTERM (runtime.shutdown).
 */
import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import { createRuntime, keyRing } from '@callflow/flow-core';
import { RedisReservationStore, RedisSessionLock, RedisSessionStore } from '@callflow/flow-core/redis';
import { createTwilioWebhook } from '@callflow/adapters-twilio';
import { RedisCallRegistry } from '@callflow/adapters-twilio/redis';
import { LatencyHistogram } from './histogram.mjs';
import { FALLBACK_QUEUE, FLOW_BY_NUMBER, loadExampleFlows, scriptedActionOutcome } from '../../../../examples/twilio-server/lines.mjs';

const env = process.env;
const id = env.CLUSTER_ID ?? String(process.pid);
const prefix = env.CLUSTER_PREFIX ?? 'callflow';
const reportEach = (env.CLUSTER_REPORT ?? 'events') === 'events';
const actionMs = Number(env.CLUSTER_ACTION_MS ?? 0);
const send = (message) => {
  if (process.connected) process.send(message);
};

// Fail fast while Redis is unreachable (no offline queue, no retries): the caller gets the
// fail-safe answer at once instead of waiting on a queue; reconnect quickly once it is back.
const redis = new Redis(env.CLUSTER_REDIS_URL ?? 'redis://127.0.0.1:6379', {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  connectTimeout: 1_000,
  retryStrategy: () => 100,
});
redis.on('error', () => undefined); // the stores report failures; ioredis's own are noise here
await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`worker ${id}: Redis at ${env.CLUSTER_REDIS_URL} did not answer`)), 5_000);
  redis.once('ready', () => {
    clearTimeout(timer);
    resolve(undefined);
  });
});

const flows = await loadExampleFlows();

const counts = { actions: {}, problems: {}, errors: {}, released: {}, reserved: 0, requests: 0 };
/** How long this worker took over each webhook, from the request to the last byte of the answer. */
const latency = new LatencyHistogram();
const bump = (table, key) => {
  table[key] = (table[key] ?? 0) + 1;
};

/** A data action the parent asked to hold (`hold`): its calls wait until `unhold` (or the process dies mid-turn). */
let holding;
let letGo = () => undefined;
let heldUntil = Promise.resolve();

/** Data actions answering from the script in examples/twilio-server/lines.mjs (the same answer on every worker). */
const actions = {
  async call(name, input, options) {
    bump(counts.actions, name);
    if (reportEach) send({ type: 'action', worker: id, name, sessionId: options.sessionId, idempotencyKey: options.idempotencyKey });
    if (holding === name) await heldUntil;
    if (actionMs > 0) await new Promise((resolve) => setTimeout(resolve, actionMs));
    return scriptedActionOutcome(name, input, actionMs);
  },
};

const secrets = keyRing({ k1: env.CLUSTER_KEY ?? '' }, 'k1');
const runtime = createRuntime({
  flows,
  actions,
  secrets,
  store: new RedisSessionStore(redis, { prefix }),
  reservations: new RedisReservationStore(redis, { prefix }),
  sessionLock: new RedisSessionLock(redis, { prefix }),
  ...(env.CLUSTER_LOCK_TTL_MS ? { sessionLockTtlMs: Number(env.CLUSTER_LOCK_TTL_MS) } : {}),
  recoveryIntervalMs: Number(env.CLUSTER_RECOVERY_MS ?? 250),
  ...(env.CLUSTER_LEASE_MS ? { reservationLeaseMs: Number(env.CLUSTER_LEASE_MS) } : {}),
});

runtime.events.on('error', (e) => {
  bump(counts.errors, e.code);
  if (reportEach) send({ type: 'error', worker: id, code: e.code, sessionId: e.sessionId });
});
runtime.events.on('reservation.reserved', (e) => {
  counts.reserved++;
  if (reportEach) send({ type: 'reserved', worker: id, agentId: e.agentId, sessionId: e.sessionId });
});
runtime.events.on('reservation.released', (e) => {
  bump(counts.released, e.reason);
  if (reportEach) send({ type: 'released', worker: id, agentId: e.agentId, reason: e.reason, sessionId: e.sessionId });
});
if (reportEach) {
  runtime.events.on('session.ended', (e) => send({ type: 'ended', worker: id, sessionId: e.sessionId, end: e.end.type }));
}

/** The REST side effects, faked: recordings need no fake, and an SMS is "delivered" to the parent (the caller's phone). */
const rest = {
  async perform(effect, call) {
    if (effect.type === 'sendSms') send({ type: 'sms', worker: id, callSid: call.callSid, code: effect.code });
    else if (reportEach) send({ type: 'rest', worker: id, effect: effect.type, callSid: call.callSid });
  },
};

const webhook = createTwilioWebhook({
  runtime,
  authToken: env.CLUSTER_AUTH_TOKEN ?? '',
  publicBaseUrl: env.CLUSTER_PUBLIC_URL ?? 'http://127.0.0.1/twilio',
  flowByNumber: FLOW_BY_NUMBER,
  rest,
  calls: new RedisCallRegistry(redis, { secrets, prefix }),
  fallbackQueue: FALLBACK_QUEUE,
  onProblem: (p) => {
    bump(counts.problems, p.code);
    if (reportEach) send({ type: 'problem', worker: id, code: p.code, sessionId: p.sessionId });
  },
});

const server = createServer((req, res) => {
  counts.requests++;
  const started = performance.now();
  res.once('finish', () => latency.record(performance.now() - started));
  void webhook.handleNode(req, res);
});
// Longer than the proxy's pooled connections stay idle, so the proxy never reuses one the worker closed.
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => send({ type: 'ready', worker: id, port: server.address().port }));

process.on('message', async (message) => {
  const { id: ask, cmd } = message ?? {};
  try {
    let reply;
    if (cmd === 'startSecureCall') reply = await webhook.startSecureCall(message.options);
    else if (cmd === 'stats') reply = { ...counts, latency: latency.toJSON() };
    else if (cmd === 'sweep') reply = await runtime.sweep();
    else if (cmd === 'hold') {
      holding = message.action;
      heldUntil = new Promise((resolve) => (letGo = resolve));
      reply = true;
    } else if (cmd === 'unhold') {
      holding = undefined;
      letGo();
      reply = true;
    }
    else throw new Error(`unknown command ${cmd}`);
    send({ type: 'reply', id: ask, reply });
  } catch (error) {
    send({ type: 'reply', id: ask, error: { code: error?.code ?? 'INTERNAL', message: String(error?.message ?? error).split('\n')[0] } });
  }
});

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  server.closeAllConnections?.();
  server.close();
  await runtime.shutdown().catch(() => undefined);
  redis.disconnect();
  process.exit(0);
}
process.on('SIGTERM', () => void stop());
// The parent went away: no orphan worker is left behind.
process.on('disconnect', () => void stop());
