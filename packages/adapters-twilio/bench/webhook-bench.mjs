// Webhook turns per second on loopback (issue 4, item 6): autocannon against
//   (a) a bare node:http handler answering a fixed TwiML string, and
//   (b) the Twilio adapter over the in-memory runtime answering signed Gather callbacks of a
//       real flow (bench/menu-loop.yaml: a menu the caller goes round, so every request is a
//       fresh turn of a live session: signature check, restore, transition, persist, TwiML),
// in the same run, each server in its own child process (pinned to its own core with taskset
// when there is one), the load generator in this one. Figures only: nothing is asserted.
//
//   npm run bench -w @callflow/adapters-twilio      (after a build: it runs the built dist)
//   BENCH_SECONDS=4 BENCH_CONNECTIONS=10 node bench/webhook-bench.mjs
import { spawn, spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import twilio from 'twilio';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const SESSIONS = 1000; // ≫ connections: no two requests of one session are ever in flight together
const TURNS_PER_SESSION = Number(process.env.BENCH_TURNS ?? 250);
const AUTH_TOKEN = 'bench-auth-token-0123456789abcdef';
const BENCH_LINE = '+15555550100';
const FORM = 'application/x-www-form-urlencoded';

// One core for the generator, another for the server, when the machine and taskset allow it.
const pin = availableParallelism() >= 2 && spawnSync('taskset', ['-cp', '0', String(process.pid)]).status === 0;

function startServer(kind) {
  const script = join(import.meta.dirname, 'server.mjs');
  const args = [process.execPath, ...(process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(' ') : []), script, kind, AUTH_TOKEN];
  const child = pin
    ? spawn('taskset', ['-c', '1', ...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    : spawn(args[0], args.slice(1), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const problems = new Map();
  child.on('message', (m) => m.problem && problems.set(m.problem, (problems.get(m.problem) ?? 0) + 1));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${kind} server exited with ${code}`)));
    child.on('message', (m) => {
      if (m.port) resolve({ child, port: m.port, problems, ask: (message) => ask(child, message) });
    });
  });
}

function ask(child, message) {
  return new Promise((resolve) => {
    const listener = (m) => {
      if (!m.problem && !m.port) {
        child.off('message', listener);
        resolve(m);
      }
    };
    child.on('message', listener);
    child.send(message);
  });
}

const caller = (i) => ({
  AccountSid: 'AC00000000000000000000000000000000',
  ApiVersion: '2010-04-01',
  CallSid: `CA${String(i).padStart(32, '0')}`,
  From: `+1555555${String(1000 + i).slice(-4)}`,
  To: BENCH_LINE,
  Direction: 'inbound',
  CallStatus: 'in-progress',
});

/** Start the sessions with signed new-call webhooks; their Gather action URLs name them. */
async function startSessions(base) {
  const ids = [];
  for (let i = 0; i < SESSIONS; i++) {
    const params = caller(i);
    const url = `${base}/voice`;
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': FORM, 'x-twilio-signature': twilio.getExpectedTwilioSignature(AUTH_TOKEN, url, params) },
      body: new URLSearchParams(params).toString(),
    });
    const action = /action="([^"]+)"/.exec(await response.text())?.[1];
    const id = action && /\/voice\/([^/]+)\/1$/.exec(action)?.[1];
    if (!id) throw new Error('the bench flow did not answer with a Gather');
    ids.push(id);
  }
  return ids;
}

/**
 * Every callback of the run, signed ahead (signing is not the generator's work under load):
 * request k is turn ⌊k / SESSIONS⌋ + 1 of session k mod SESSIONS, the caller pressing 1.
 */
function precompute(base, ids) {
  const requests = [];
  for (let turn = 1; turn <= TURNS_PER_SESSION; turn++) {
    for (let i = 0; i < ids.length; i++) {
      const path = `/twilio/voice/${ids[i]}/${turn}`;
      const params = { ...caller(i), Digits: '1', FinishedOnKey: '' };
      const signature = twilio.getExpectedTwilioSignature(AUTH_TOKEN, `${base.replace(/\/twilio$/, '')}${path}`, params);
      requests.push({ method: 'POST', path, headers: { 'content-type': FORM, 'x-twilio-signature': signature }, body: new URLSearchParams(params).toString() });
    }
  }
  return requests;
}

async function load(server, requests) {
  let next = 0;
  const sequence = [{ setupRequest: () => requests[next++ % requests.length] }];
  const options = { url: `http://127.0.0.1:${server.port}`, connections: CONNECTIONS, pipelining: 1, requests: sequence };
  await autocannon({ ...options, duration: 1 }); // warm-up (JIT, sockets), not counted
  const before = (await server.ask({ cpu: true })).cpuUsage;
  const started = process.hrtime.bigint();
  const result = await autocannon({ ...options, duration: SECONDS });
  const wallUs = Number(process.hrtime.bigint() - started) / 1e3;
  const after = (await server.ask({ cpu: true })).cpuUsage;
  const cpuUs = after.user - before.user + (after.system - before.system);
  return { result, issued: next, cpu: { busy: cpuUs / wallUs, perRequestUs: cpuUs / Math.max(1, result.requests.total) } };
}

const figures = [];
let signed;
for (const kind of ['bare', 'bare-body', 'adapter']) {
  const server = await startServer(kind);
  try {
    const base = `http://127.0.0.1:${server.port}/twilio`;
    let ids = [];
    if (kind === 'adapter') {
      ids = await startSessions(base);
      signed = precompute(base, ids);
    } else {
      // The bare server ignores what it is sent; it gets requests of the same size and shape.
      signed = precompute(base, Array.from({ length: SESSIONS }, (_, i) => `bare-${i}`)).slice(0, SESSIONS * 10);
    }
    const { result, issued, cpu } = await load(server, signed);
    const row = {
      server: { bare: 'bare node:http, fixed TwiML', 'bare-body': 'bare, reads the body first', adapter: 'Twilio adapter, in-memory store' }[kind],
      'req/s': Math.round(result.requests.average),
      'p50 ms': result.latency.p50,
      'p99 ms': result.latency.p99,
      'server CPU busy': `${Math.round(100 * cpu.busy)}%`,
      'CPU µs/req': Math.round(cpu.perRequestUs),
      requests: result.requests.total,
      non2xx: result.non2xx,
      errors: result.errors + result.timeouts,
    };
    if (kind === 'adapter') {
      const stats = await server.ask({ stats: ids });
      row['fresh turns'] = `${stats.turns} of ~${issued} sent`;
      row['sessions live'] = `${stats.waiting}/${ids.length}`;
      if (issued > signed.length) row.note = 'ran past the precomputed turns: raise BENCH_TURNS';
      if (server.problems.size) row.problems = JSON.stringify(Object.fromEntries(server.problems));
    }
    figures.push(row);
  } finally {
    server.child.removeAllListeners('exit');
    server.child.kill();
  }
}

console.log(`\nwebhook turns per second on loopback: ${SECONDS} s per server, ${CONNECTIONS} connections, ` +
  `${pin ? 'server and load generator pinned to separate cores (taskset)' : 'server in a child process (not pinned)'}, Node ${process.versions.node}`);
console.table(figures);
const [bare, bareBody, adapter] = figures;
const ratio = adapter['req/s'] / bare['req/s'];
console.log(`adapter / bare = ${ratio.toFixed(2)} (target ≥ 0.5); adapter p99 ${adapter['p99 ms']} ms, bare p99 ${bare['p99 ms']} ms`);
console.log(`adapter / bare that reads the body first = ${(adapter['req/s'] / bareBody['req/s']).toFixed(2)}`);

// What the parts the adapter must use cost by themselves, measured here in the same run: the
// TwiML of a menu turn built with twilio's VoiceResponse, the signature check of one request
// (one HMAC-SHA1 with twilio's getExpectedTwilioSignature), and the AES-256-GCM seal and open of
// the session's secure slot (call numbers and the turn kept for a retried request). Were the
// adapter free but for these, the ratio could be at most bare / (bare + parts).
const { seal, open, keyRing } = await import('@callflow/flow-core');
const ring = keyRing({ bench: Buffer.alloc(32, 9) }, 'bench');
const actionUrl = 'http://127.0.0.1:40000/twilio/voice/0b7b0c7e-8a43-4cf8-9a55-5f3a0a7f1c11/12';
const slot = {
  call: { callId: caller(7).CallSid, caller: caller(7).From, callee: BENCH_LINE, provider: 'twilio' },
  vars: {},
  replay: {
    sessionId: '0b7b0c7e-8a43-4cf8-9a55-5f3a0a7f1c11', status: 'waiting', path: ['balance', 'menu'], waitingFor: 'input', requestOrder: 11,
    commands: [
      { type: 'say', text: 'Your balance is 42 pounds and 50 pence.' },
      { type: 'collect', purpose: 'menu', prompt: [{ text: 'For your balance press 1. To hear the options again press 2.' }], input: 'dtmf', timeoutMs: 5000, maxDigits: 1, secure: false },
    ],
  },
};
const owner = 'session:0b7b0c7e-8a43-4cf8-9a55-5f3a0a7f1c11';
const sealed = seal(slot, ring, owner);
const params = { ...caller(7), Digits: '1', FinishedOnKey: '' };
const parts = {
  'TwiML (VoiceResponse: Say, Gather, Say)': () => {
    const response = new twilio.twiml.VoiceResponse();
    response.say('Your balance is 42 pounds and 50 pence.');
    response.gather({ input: ['dtmf'], action: actionUrl, method: 'POST', timeout: 5, numDigits: 1, actionOnEmptyResult: true }).say('For your balance press 1. To hear the options again press 2.');
    return response.toString();
  },
  'signature (one HMAC-SHA1)': () => twilio.getExpectedTwilioSignature(AUTH_TOKEN, actionUrl, params),
  'secure slot sealed (AES-256-GCM)': () => seal(slot, ring, owner),
  'secure slot opened (AES-256-GCM)': () => open(sealed, ring, owner),
};
const microseconds = (fn) => {
  const rounds = [];
  for (let r = 0; r < 5; r++) {
    const n = 4000;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    rounds.push(Number(process.hrtime.bigint() - t0) / 1e3 / n);
  }
  return rounds.sort((a, b) => a - b)[2];
};
for (const fn of Object.values(parts)) for (let i = 0; i < 2000; i++) fn(); // warm-up
const partRows = Object.entries(parts).map(([part, fn]) => ({ part, 'µs per turn': Number(microseconds(fn).toFixed(1)) }));
// The adapter keeps a session it wrote open in memory, so a turn seals its slot but does not open it.
const partsUs = partRows.filter((r) => !r.part.includes('opened')).reduce((sum, r) => sum + r['µs per turn'], 0);
const bareCpuUs = bare['CPU µs/req'];
console.log('\nthe parts the adapter must use, by themselves (median of 5 rounds, this process):');
console.table(partRows);
console.log(
  `server CPU per request: bare ${bareCpuUs} µs, adapter ${adapter['CPU µs/req']} µs; TwiML + HMAC + seal alone ${partsUs.toFixed(0)} µs: ` +
    `ratio ceiling were everything else free = ${(bareCpuUs / (bareCpuUs + partsUs)).toFixed(2)}`,
);
