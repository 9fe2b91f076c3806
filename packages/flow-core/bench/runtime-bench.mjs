// Runtime benchmark (npm run bench in flow-core), figures and ratios measured in one run:
//  1. turns per second through a 10-state flow, against a hand-written minimal xstate
//     machine making the same transitions with the same persistence (restore from JSON,
//     send, persist to JSON); target: our cost under 3x raw xstate;
//  2. memory per live session with 100,000 sessions waiting on the caller (target < 4 KB);
//  3. persisted snapshot size for the example flows (target < 1 KB).
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { createActor, createMachine } from 'xstate';
import { parse } from 'yaml';
import { createRuntime, MemorySessionStore, ManualClock, keyRing } from '../dist/index.js';

const TURNS = Number(process.env.BENCH_TURNS ?? 20000);
const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 100000);

// A 10-state flow: each turn the caller presses a key and the flow runs say/set/switch/log
// states until it waits on the next menu.
const flow = {
  flow: 'bench', kind: 'inbound',
  variables: { n: { type: 'int', default: 0 }, last: { type: 'string' } },
  start: 'menu',
  states: {
    menu: { menu: { prompt: 'Press 1 or 2', options: { 1: 'one', 2: 'two' }, attempts: 3 }, on: { failure: 'bye' } },
    one: { say: 'You chose one', next: 'count' },
    two: { say: 'You chose two', next: 'count' },
    count: { set: { n: 'n + 1' }, next: 'note' },
    note: { log: 'turn ${string(n)}', next: 'check' },
    check: { switch: { cases: [{ when: 'n > 1000000', goto: 'bye' }], default: 'mark' } },
    mark: { set: { last: '"menu"' }, next: 'again' },
    again: { say: 'Again', next: 'menu2' },
    menu2: { menu: { prompt: 'Press 1', options: { 1: 'one' }, attempts: 3 }, on: { failure: 'bye' } },
    bye: { disconnect: null },
  },
};

// The same transitions in a hand-written xstate machine.
const raw = createMachine({
  id: 'raw', initial: 'menu', context: { n: 0 },
  states: {
    menu: { on: { 'option:1': 'one', 'option:2': 'two', failure: 'bye' } },
    one: { on: { next: 'count' } }, two: { on: { next: 'count' } },
    count: { on: { next: 'note' } }, note: { on: { next: 'check' } },
    check: { on: { default: 'mark', 'case:0': 'bye' } }, mark: { on: { next: 'again' } },
    again: { on: { next: 'menu2' } }, menu2: { on: { 'option:1': 'one', failure: 'bye' } },
    bye: { type: 'final' },
  },
});
const rawEvents = ['next', 'next', 'next', 'default', 'next', 'next'];
function rawTurn(json, key) {
  const actor = createActor(raw, { snapshot: JSON.parse(json) }).start();
  actor.send({ type: `option:${key}` });
  for (const type of rawEvents) actor.send({ type });
  const out = JSON.stringify(actor.getPersistedSnapshot());
  actor.stop();
  return out;
}

function measure(fn, n) {
  const t = performance.now();
  return fn(n).then?.(() => performance.now() - t) ?? Promise.resolve(performance.now() - t);
}

async function turnsPerSecond() {
  let json = JSON.stringify(createActor(raw).start().getPersistedSnapshot());
  const rawRun = (n) => { for (let i = 0; i < n; i++) json = rawTurn(json, i % 2 ? '1' : '1'); };
  const rt = createRuntime({ flows: [flow], clock: new ManualClock(0), store: new MemorySessionStore(new ManualClock(0)) });
  const first = await rt.startSession({ flow: 'bench' });
  const id = first.sessionId;
  const ours = async (n) => { for (let i = 0; i < n; i++) await rt.handle(id, { type: 'digits', digits: '1' }); };
  // warm-up
  rawRun(2000); await ours(2000);
  const results = [];
  for (let round = 0; round < 3; round++) {
    const tr = performance.now(); rawRun(TURNS); const rawMs = performance.now() - tr;
    const to = performance.now(); await ours(TURNS); const ourMs = performance.now() - to;
    results.push({ raw: TURNS / rawMs * 1000, ours: TURNS / ourMs * 1000 });
  }
  const best = (k) => Math.max(...results.map((r) => r[k]));
  return { raw: best('raw'), ours: best('ours') };
}

async function memoryPerSession() {
  global.gc?.();
  const clock = new ManualClock(0);
  const store = new MemorySessionStore(clock);
  const rt = createRuntime({ flows: [flow], clock, store, secrets: keyRing({ k: Buffer.alloc(32, 1) }, 'k') });
  global.gc?.();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < SESSIONS; i++) await rt.startSession({ flow: 'bench', sessionId: `s${i}`, call: { caller: '+15555550100' } });
  global.gc?.();
  const after = process.memoryUsage().heapUsed;
  return { perSession: (after - before) / SESSIONS, live: store.ids().length };
}

async function snapshotSizes() {
  const root = join(import.meta.dirname, '..', '..', '..', 'examples');
  const out = [];
  if (!existsSync(root)) return out;
  for (const dir of readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name)) {
    const files = readdirSync(join(root, dir)).filter((f) => /\.ya?ml$/.test(f) && !f.startsWith('callflow.config') && !/\.test\.ya?ml$/.test(f));
    const flows = files.map((f) => parse(readFileSync(join(root, dir, f), 'utf8')));
    for (const f of flows) {
      const store = new MemorySessionStore(new ManualClock(0));
      let rt;
      try { rt = createRuntime({ flows, store, clock: new ManualClock(0) }); } catch (e) { out.push({ flow: `${dir}/${f.flow}`, bytes: NaN, note: e.message.slice(0, 60) }); continue; }
      const inputs = {};
      for (const [k, d] of Object.entries(f.inputs ?? {})) inputs[k] = d.type === 'number' ? 10.5 : d.type === 'int' ? 1 : d.type === 'bool' ? true : 'X1';
      const call = { caller: '+15555550100', callee: '+15555550199', callId: 'CA00000000000000000000000000000000', provider: 'twilio' };
      try {
        if (f.kind === 'secure' && (f.reservation ?? 'agent') === 'agent') await rt.startSecureSession({ conversationId: 'c', agentId: 'a', flow: f.flow, inputs, reserveAgent: true, call });
        else await rt.startSession({ flow: f.flow, inputs, call });
      } catch (e) { out.push({ flow: `${dir}/${f.flow}`, bytes: NaN, note: e.message.slice(0, 60) }); continue; }
      const sizes = store.rawValues().map((v) => Buffer.byteLength(v));
      out.push({ flow: `${dir}/${f.flow}`, bytes: Math.max(...sizes) });
    }
  }
  return out;
}

const tps = await turnsPerSecond();
const ratio = tps.raw / tps.ours;
console.log('\nTurns per second, 10-state flow (same run, best of 3 rounds of %d turns)', TURNS);
console.table([
  { implementation: 'raw xstate (restore + 7 sends + persist)', 'turns/s': Math.round(tps.raw) },
  { implementation: 'callflow runtime (store get/put, CEL, redaction, events)', 'turns/s': Math.round(tps.ours) },
]);
console.log(`cost ratio (ours / raw xstate): ${ratio.toFixed(2)}x  target < 3x  ${ratio < 3 ? 'PASS' : 'FAIL'}`);

const mem = await memoryPerSession();
console.log(`\nMemory per live session with ${mem.live.toLocaleString()} sessions: ${(mem.perSession / 1024).toFixed(2)} KB  target < 4 KB  ${mem.perSession < 4096 ? 'PASS' : 'FAIL'}${global.gc ? '' : ' (run with --expose-gc for a steadier figure)'}`);

const sizes = await snapshotSizes();
console.log('\nPersisted snapshot size at the first wait, example flows (secure slot sealed)');
console.table(sizes.map((s) => ({ flow: s.flow, bytes: s.bytes, ...(s.note ? { note: s.note } : {}) })));
const worst = Math.max(...sizes.filter((s) => Number.isFinite(s.bytes)).map((s) => s.bytes));
console.log(`largest: ${worst} bytes  target < 1024  ${worst < 1024 ? 'PASS' : 'FAIL'}`);
