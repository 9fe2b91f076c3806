// The README's main job: a demo call through a real flow on the embedded in-memory defaults.
//
//  1. `callflow lint` checks the example flow projects (clean).
//  2. An agent hands a caller to the secure card-payment flow of examples/agent-card-payment
//     and stays reserved; the caller keys in a card; the flow charges it through a data action
//     registered in code and returns the caller to the agent with a masked card only.
//  3. The runtime's log, as pino wrote it: redacted.
//  4. `callflow lint` on a flow with deliberate mistakes shows what it stops in CI.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { z } from 'zod';
import { createRuntime, defineAction, pinoLogger } from '@callflow/flow-core';
import { loadFlowText } from '@callflow/flow-dsl';

const root = join(import.meta.dirname, '..');
const cli = join(root, 'packages', 'flow-dsl', 'dist', 'cli.js');
const CARD = '4916338506082832'; // a Luhn-valid test number
const heading = (t) => console.log(`\n\x1b[1m== ${t}\x1b[0m`);
let failed = false;

function run(title, args, expected) {
  heading(`${title}\n$ callflow ${args.join(' ')}`);
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, stdio: 'inherit' });
  console.log(`(exit code ${r.status})`);
  if (r.status !== expected) failed = true;
}

run('1. Lint the example flow projects', ['lint', 'examples'], 0);

heading('2. A demo call: agent-42 hands the caller to the secure card payment');
const file = join(root, 'examples', 'agent-card-payment', 'agent-card-payment.yaml');
const loaded = loadFlowText(readFileSync(file, 'utf8'), file);
if (!loaded.flow) throw new Error('the example flow did not load');

// The payment gateway, as the host application registers it: typed, secure, with limits.
const chargeCard = defineAction({
  name: 'chargeCard',
  secure: true,
  input: z.object({ cardNumber: z.string(), expiry: z.string(), cvv: z.string(), amount: z.number(), invoiceId: z.string() }),
  output: z.object({ approved: z.boolean(), reference: z.string(), maskedCard: z.string() }),
  limits: { timeoutMs: 2000, retries: 1 },
  handler: async ({ cardNumber }) => ({ approved: true, reference: 'PAY-7Q2K9', maskedCard: `**** ${cardNumber.slice(-4)}` }),
});

const logLines = [];
const sink = new Writable({ write(chunk, _enc, done) { logLines.push(chunk.toString().trim()); done(); } });
const runtime = createRuntime({
  flows: [loaded.flow],
  actions: [chargeCard],
  logger: pinoLogger(pino({ level: 'debug', base: undefined }, sink)),
});
runtime.events.on('reservation.reserved', (e) => console.log(`  [runtime] ${e.agentId} reserved: offered no new work`));
runtime.events.on('reservation.released', (e) => console.log(`  [runtime] ${e.agentId} released (${e.reason})`));

const show = (turn) => {
  for (const c of turn.commands) {
    if (c.type === 'say') console.log(`  flow says:    ${c.secure ? '(read-back, never logged) ' : ''}${c.text}`);
    else if (c.type === 'collect') for (const p of c.prompt) console.log(`  flow asks:    ${p.text}${c.secure ? '   [secure entry: recording paused]' : ''}`);
    else if (c.type === 'returnToAgent') console.log(`  back to ${c.agentId}, who sees: ${JSON.stringify(c.outputs)}`);
    else if (c.type !== 'end') console.log(`  command:      ${c.type}`);
  }
};

let turn = await runtime.startSecureSession({
  conversationId: 'conv-1001',
  agentId: 'agent-42',
  flow: 'agent-card-payment',
  inputs: { amount: 42.5, invoiceId: 'INV-2291' },
  reserveAgent: true,
  call: { caller: '+15555550123', callId: 'CA-demo' },
});
show(turn);
console.log(`  agent-42 reserved? ${await runtime.isReserved('agent-42')}`);
for (const [what, digits] of [['card number', `${CARD}#`], ['expiry', '1228'], ['security code', '737']]) {
  console.log(`  caller keys:  the ${what} (kept sealed, shown nowhere)`);
  turn = await runtime.handle(turn.sessionId, { type: 'digits', digits });
  show(turn);
}
console.log(`  call ended: ${turn.end?.type}; agent-42 reserved? ${await runtime.isReserved('agent-42')}`);
if (turn.end?.type !== 'returnToAgent' || (await runtime.isReserved('agent-42'))) failed = true;

heading('3. The runtime log (pino JSON), redacted');
for (const line of logLines) console.log(`  ${line}`);
const everything = logLines.join('\n');
const leaked = [CARD, CARD.slice(-4), '1228', '737'].filter((s) => everything.includes(s));
console.log(leaked.length === 0 ? '  no card number, expiry or security code in the log' : `  LEAK: ${leaked.join(', ')}`);
if (leaked.length > 0) failed = true;

run('4. Lint a payment flow with deliberate mistakes', ['lint', 'scripts/demo/broken-payment.yaml'], 1);

if (failed) {
  console.error('\ndemo: something did not go as it should (see above)');
  process.exit(1);
}
console.log('\ndemo: done. The examples lint clean, the call ran through the secure flow with the agent reserved and released, nothing secure was logged, and every mistake in the broken flow was caught.');
