// The load test (`npm run load`): N simulated calls at once, for a bounded time, through the
// Twilio adapter and Redis, on loopback only. W webhook worker processes (the cluster test's
// worker) run behind a round-robin proxy and share one Redis; each simulated call is a real
// sequence of signed webhooks (new call, Gather and Dial callbacks, the status callback at the
// end) taking a random, seeded path through the example flows; a call starts whenever one ends,
// so that N are always in flight. It prints calls completed, turns per second, turn latency,
// sessions lost, reservations still held and secure values found in clear text in Redis, and
// exits 1 when one of the last three is not 0. See docs/load-testing.md.
//
//   npm run load                                  1,000 calls, 60 s, 2 workers, seed 1
//   npm run load -- --calls 10000 --seed 7        or LOAD_CALLS=10000 LOAD_SEED=7 npm run load
//   node scripts/load.mjs --calls 200 --seconds 10 --workers 3 --think-ms 500   (after npm run build)
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const root = join(import.meta.dirname, '..');
if (!existsSync(join(root, 'packages', 'adapters-twilio', 'dist', 'testing.js'))) {
  console.error('The load test runs the built packages: run `npm run build` first (`npm run load` does).');
  process.exit(2);
}

const { Redis } = await import('ioredis');
const { CallSimulator } = await import('@callflow/adapters-twilio/testing');
const { Cluster } = await import('../packages/adapters-twilio/test/cluster/cluster.mjs');
const { LatencyHistogram } = await import('../packages/adapters-twilio/test/cluster/histogram.mjs');
const { FALLBACK_QUEUE } = await import('../examples/twilio-server/lines.mjs');
const { SecretIndex, deletePrefix, findClearSecrets } = await import('../packages/adapters-twilio/test/cluster/redis-scan.mjs');
const { CALL_MIX, LINE_OF, SecurePools, callerScript } = await import('./load/caller.mjs');
const { Random } = await import('./load/random.mjs');

// ---- options ----

const { values: args } = parseArgs({
  options: {
    calls: { type: 'string' },
    seconds: { type: 'string' },
    workers: { type: 'string' },
    seed: { type: 'string' },
    'think-ms': { type: 'string' },
    'max-seconds': { type: 'string' },
    sockets: { type: 'string' },
    'worker-sockets': { type: 'string' },
  },
});
const num = (name, fallback) => {
  const text = args[name] ?? process.env[`LOAD_${name.toUpperCase().replace('-', '_')}`];
  const value = text === undefined ? fallback : Number(text);
  if (!Number.isFinite(value) || value < 0) {
    console.error(`--${name} must be a number (got ${text})`);
    process.exit(2);
  }
  return value;
};
const CALLS = Math.max(1, Math.floor(num('calls', 1_000)));
const SECONDS = num('seconds', 60);
const WORKERS = Math.max(1, Math.floor(num('workers', 2)));
const SEED = args.seed ?? process.env.LOAD_SEED ?? '1';
const THINK_MS = num('think-ms', 0);
/** Past this the run is cut short whatever is still in flight (a hard cap on the whole run). */
const MAX_SECONDS = num('max-seconds', SECONDS + 90);
/** The callers' connections to the proxy: one keep-alive pool, however many calls. */
const SOCKETS = Math.max(1, Math.floor(num('sockets', 256)));
/** The proxy's connections to each worker. */
const SOCKETS_PER_WORKER = Math.max(1, Math.floor(num('worker-sockets', 16)));
const REDIS_URL = new URL(process.env.CALLFLOW_REDIS_URL ?? 'redis://127.0.0.1:6379');
const AUTH_TOKEN = createHash('sha256').update(`load-${SEED}-${process.pid}`).digest('hex').slice(0, 32);
const prefix = `callflow-load-${createHash('sha256').update(`${SEED}:${Date.now()}:${process.pid}`).digest('hex').slice(0, 8)}`;

// ---- the run ----

const redis = new Redis(REDIS_URL.href, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2_000 });
try {
  await redis.connect();
  await redis.ping();
} catch (error) {
  console.error(`The load test needs Redis at ${REDIS_URL.href}: ${error.message}`);
  process.exit(2);
}

const fmt = (n, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
console.log(`Callflow load test: ${fmt(CALLS)} concurrent calls for ${SECONDS} s over ${WORKERS} worker process(es) behind a round-robin proxy, one Redis (${REDIS_URL.host}); seed ${SEED}${THINK_MS > 0 ? `, callers think ${THINK_MS} ms on average` : ''}`);

const cluster = await Cluster.start({
  workers: WORKERS,
  prefix,
  authToken: AUTH_TOKEN,
  redis: { host: REDIS_URL.hostname, port: Number(REDIS_URL.port || 6379) },
  report: 'counts',
  maxSocketsPerTarget: SOCKETS_PER_WORKER,
});

// Every webhook goes through one keep-alive pool of SOCKETS connections, timed from the moment it
// is handed to the pool to the last byte of the answer (waiting for a free connection included).
const agent = new Agent({ keepAlive: true, maxSockets: SOCKETS, maxFreeSockets: SOCKETS });
const roundTrip = new LatencyHistogram();
let webhooks = 0;
const send = (url, headers, body) =>
  new Promise((resolve, reject) => {
    const started = performance.now();
    const out = request(url, { method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } }, (answer) => {
      let text = '';
      answer.setEncoding('utf8');
      answer.on('data', (chunk) => (text += chunk));
      answer.on('end', () => {
        roundTrip.record(performance.now() - started);
        webhooks++;
        resolve({ status: answer.statusCode ?? 0, body: text });
      });
      answer.on('error', reject);
    });
    out.on('error', reject);
    out.end(body);
  });

const typed = new SecretIndex();
const pools = new SecurePools(new Random(`${SEED}:pools`));
// The fail-safe's Enqueue reports its own outcome to /fallback/result.
const isFailSafe = (body) => new RegExp(`<Enqueue action="[^"]+/fallback/result" method="POST">${FALLBACK_QUEUE}</Enqueue>`).test(body);
const tally = { started: 0, completed: 0, lost: 0, byKind: {}, outcomes: {}, lostWhy: {} };
const bump = (table, key) => (table[key] = (table[key] ?? 0) + 1);
let stopping = false;
let nextWorker = 0;

/** One call, start to end: its own generator, CallSid and caller number, all from the seed. */
async function runCall(slot, n) {
  const random = new Random(`${SEED}:${slot}:${n}`);
  const kind = random.weighted(CALL_MIX);
  const from = `+1555555${random.digits(4)}`;
  typed.add(from);
  const callSid = `CA${createHash('md5').update(`${SEED}:${slot}:${n}`).digest('hex')}`;
  const caller = new CallSimulator(cluster.publicBaseUrl, AUTH_TOKEN, { from, to: LINE_OF[kind], callSid }, send);
  let cutShort = false;
  const timeIsUp = () => (cutShort ||= stopping);
  const script = callerScript({ random, pools, typed, code: () => cluster.codeFor(callSid), stopping: timeIsUp, thinkMs: THINK_MS });
  tally.started++;
  bump(tally.byKind, kind);
  try {
    let record;
    if (kind === 'agentPayment') {
      // The agent's app hands the caller over (one agent per slot: never two payments at once).
      const workers = cluster.liveWorkers();
      const { twiml } = await cluster.ask(workers[nextWorker++ % workers.length], 'startSecureCall', {
        options: { callSid, conversationId: `conv-${slot}-${n}`, agentId: `agent-${slot}`, flow: 'agent-card-payment', inputs: { amount: random.int(10, 99) + 0.5, invoiceId: `INV-${random.digits(4)}` } },
      });
      record = await caller.follow({ status: 200, body: twiml }, script, { hangUpWhenOutOfInput: true });
    } else {
      record = await caller.dialIn(script, { hangUpWhenOutOfInput: true });
    }
    if (record.bodies.some(isFailSafe)) {
      tally.lost++;
      bump(tally.lostWhy, 'answered with the fail-safe');
    } else {
      tally.completed++;
      bump(tally.outcomes, cutShort ? 'hung up at the deadline' : record.outcome);
    }
  } catch (error) {
    tally.lost++;
    bump(tally.lostWhy, String(error?.code ?? error?.message ?? error).split('\n')[0].slice(0, 60));
    // As Twilio would, end the call on the webhooks' side: nothing is left waiting.
    await caller.status('completed').catch(() => undefined);
  }
}

let peakRss = process.memoryUsage().rss;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 1_000);
let interrupted = false;
process.on('SIGINT', () => {
  if (stopping) process.exit(130);
  interrupted = true;
  stopping = true;
  console.log('\ninterrupted: the callers hang up at their next prompt (Ctrl-C again to leave at once)');
});

const t0 = performance.now();
const stopTimer = setTimeout(() => (stopping = true), SECONDS * 1_000);
let capped = false;
let capTimer;
const cap = new Promise((resolve) => {
  capTimer = setTimeout(() => {
    capped = true;
    resolve(undefined);
  }, MAX_SECONDS * 1_000);
});
const slots = Array.from({ length: CALLS }, async (_, slot) => {
  for (let n = 0; !stopping; n++) await runCall(slot, n);
});
await Promise.race([Promise.all(slots), cap]);
const elapsed = (performance.now() - t0) / 1_000;
clearTimeout(stopTimer);
clearTimeout(capTimer);
clearInterval(sampler);
const inFlight = tally.started - tally.completed - tally.lost;

// ---- what the run left behind ----

const stats = await Promise.all(cluster.liveWorkers().map((id) => cluster.ask(id, 'stats')));
const atWorker = new LatencyHistogram();
const problems = {};
const errors = {};
let actionsRun = 0;
let released = 0;
let reserved = 0;
for (const s of stats) {
  atWorker.merge(s.latency);
  for (const [code, n] of Object.entries(s.problems)) problems[code] = (problems[code] ?? 0) + n;
  for (const [code, n] of Object.entries(s.errors)) errors[code] = (errors[code] ?? 0) + n;
  actionsRun += Object.values(s.actions).reduce((a, b) => a + b, 0);
  released += Object.values(s.released).reduce((a, b) => a + b, 0);
  reserved += s.reserved;
}
let held = 0;
let cursor = '0';
do {
  const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:agent:*`, 'COUNT', 1000);
  cursor = next;
  held += keys.length;
} while (cursor !== '0');
const scan = await findClearSecrets(redis, prefix, typed);
const foundInClear = new Set(scan.hits.map((h) => h.secret)).size;

await cluster.stop();
agent.destroy();
const deleted = await deletePrefix(redis, prefix);
redis.disconnect();

// ---- the report ----

const ms = (v) => `${fmt(v, v < 10 ? 2 : 1)} ms`;
const list = (table) => Object.entries(table).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${fmt(v)}`).join(', ') || 'none';
const must = (value) => (value === 0 ? '(must be 0: ok)' : '(must be 0: FAILED)');
console.log(`
  calls completed             ${fmt(tally.completed)} of ${fmt(tally.started)} started (${list(tally.byKind)})
  how they ended              ${list(tally.outcomes)}
  webhooks answered           ${fmt(webhooks)} in ${fmt(elapsed, 1)} s: ${fmt(webhooks / elapsed, 1)} turns/s
  turn latency, caller side   p50 ${ms(roundTrip.percentile(50))}  p99 ${ms(roundTrip.percentile(99))}  max ${ms(roundTrip.max)}  (through the proxy, waiting for one of ${SOCKETS} connections included)
  turn latency, in the worker p50 ${ms(atWorker.percentile(50))}  p99 ${ms(atWorker.percentile(99))}  max ${ms(atWorker.max)}
  data actions run            ${fmt(actionsRun)};  agents reserved ${fmt(reserved)}, released ${fmt(released)}
  sessions lost               ${fmt(tally.lost)} ${must(tally.lost)}${tally.lost > 0 ? `  ${list(tally.lostWhy)}` : ''}
  reservations still held     ${fmt(held)} ${must(held)}
  secure values in clear      ${fmt(foundInClear)} of ${fmt(typed.size)} keyed in (and caller numbers), in ${fmt(scan.keys)} keys scanned ${must(foundInClear)}
  worker problems             ${list(problems)};  runtime error events ${list(errors)}
  load process                peak RSS ${fmt(peakRss / 1024 / 1024)} MiB; ${fmt(deleted)} keys of ${prefix} deleted`);
if (capped) console.log(`  hard time cap of ${MAX_SECONDS} s reached with ${fmt(inFlight)} call(s) still in flight`);
const failed = tally.lost > 0 || held > 0 || foundInClear > 0 || capped || interrupted;
console.log(failed ? '\nresult: FAILED' : '\nresult: ok');
process.exit(failed ? 1 : 0);
