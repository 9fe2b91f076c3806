// The README's main job: a demo call through a real flow and the Twilio adapter, locally.
//
//  1. `callflow lint` checks the example flow projects (clean).
//  2. The Twilio webhook serves an in-memory runtime on a loopback node:http server. agent-42
//     hands the caller on their call to the secure card-payment flow of examples/agent-card-payment
//     (`startSecureCall`, the TwiML the app gives Twilio through the REST API) and stays reserved;
//     a Twilio-like caller (the adapter's call simulator: form-encoded, X-Twilio-Signature-signed
//     webhooks) keys in card, expiry and security code through Gather callbacks; the flow charges
//     the card through a data action registered in code and returns the caller to the agent with
//     the last four digits only. A forged request is refused with 403.
//  3. The runtime's log, as pino wrote it: redacted. Nothing secret was printed, logged or answered.
//  4. `callflow lint` on a flow with deliberate mistakes shows what it stops in CI.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { z } from 'zod';
import { createRuntime, defineAction, pinoLogger } from '@callflow/flow-core';
import { loadFlowText } from '@callflow/flow-dsl';
import { createTwilioWebhook } from '@callflow/adapters-twilio';
import { CallSimulator } from '@callflow/adapters-twilio/testing';

const root = join(import.meta.dirname, '..');
const cli = join(root, 'packages', 'flow-dsl', 'dist', 'cli.js');
const CARD = '4916338506082832'; // a Luhn-valid test number
const EXPIRY = '1228';
const CVV = '737';
const heading = (t) => console.log(`\n\x1b[1m== ${t}\x1b[0m`);
let failed = false;

function run(title, args, expected) {
  heading(`${title}\n$ callflow ${args.join(' ')}`);
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, stdio: 'inherit' });
  console.log(`(exit code ${r.status})`);
  if (r.status !== expected) failed = true;
}

run('1. Lint the example flow projects', ['lint', 'examples'], 0);

heading('2. A demo call through the Twilio adapter: agent-42 hands the caller to the secure card payment');
const file = join(root, 'examples', 'agent-card-payment', 'agent-card-payment.yaml');
const loaded = loadFlowText(readFileSync(file, 'utf8'), file);
if (!loaded.flow) throw new Error('the example flow did not load');

// Everything this part prints goes through `print`, so that it can be searched for secrets.
const printed = [];
const print = (line) => {
  printed.push(line);
  console.log(line);
};

// The payment gateway, as the host application registers it: typed, secure, with limits.
const chargeCard = defineAction({
  name: 'chargeCard',
  secure: true,
  input: z.object({ cardNumber: z.string(), expiry: z.string(), cvv: z.string(), amount: z.number(), invoiceId: z.string() }),
  output: z.object({ approved: z.boolean(), reference: z.string(), maskedCard: z.string() }),
  limits: { timeoutMs: 2000, retries: 1 },
  handler: async ({ cardNumber }) => ({ approved: true, reference: 'PAY-7Q2K9', maskedCard: cardNumber.slice(-4) }),
});

const logLines = [];
const sink = new Writable({ write(chunk, _enc, done) { logLines.push(chunk.toString().trim()); done(); } });
const runtime = createRuntime({
  flows: [loaded.flow],
  actions: [chargeCard],
  logger: pinoLogger(pino({ level: 'debug', base: undefined }, sink)),
});
runtime.events.on('reservation.reserved', (e) => print(`  [runtime]      ${e.agentId} reserved: offered no new work`));
runtime.events.on('reservation.released', (e) => print(`  [runtime]      ${e.agentId} released (${e.reason})`));

// What the adapter asks of Twilio's REST API, performed here by a stand-in that prints it.
const restDone = [];
const rest = {
  async perform(effect, call) {
    restDone.push(effect.type);
    const what = { pauseRecording: 'recording paused', resumeRecording: 'recording resumed', sendSms: 'SMS sent' }[effect.type];
    print(`  [Twilio REST]  ${what} on ${call.callSid}`);
  },
};

// The webhook on loopback, as Twilio would reach it (its URL is part of every signature).
const AUTH_TOKEN = randomBytes(16).toString('hex');
const statuses = [];
let webhook;
const server = createServer((req, res) => {
  res.on('finish', () => statuses.push(res.statusCode));
  void webhook.handleNode(req, res);
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const baseUrl = `http://127.0.0.1:${server.address().port}/twilio`;
webhook = createTwilioWebhook({
  runtime,
  authToken: AUTH_TOKEN,
  publicBaseUrl: baseUrl,
  rest,
  onProblem: (p) => print(`  [webhook]      problem ${p.code}: ${p.message}`),
});
print(`  webhook: POST ${baseUrl}/voice, /voice/:session/:turn, /status (signed with X-Twilio-Signature)`);

const caller = new CallSimulator(baseUrl, AUTH_TOKEN, { from: '+15555550123', to: '+15555550100', callSid: `CA${'d3e0'.repeat(8)}` });
print(`  ${caller.callSid} is talking to agent-42, who presses "take payment":`);
const started = await webhook.startSecureCall({
  callSid: caller.callSid,
  conversationId: 'conv-1001',
  agentId: 'agent-42',
  flow: 'agent-card-payment',
  inputs: { amount: 42.5, invoiceId: 'INV-2291' },
});
print(`  [app]          calls('${caller.callSid}').update({ twiml }): the caller leaves the agent for the payment`);
print(`  agent-42 reserved? ${await runtime.isReserved('agent-42')}`);
const speaker = (line) => {
  const [verb, ...rest] = line.split(': ');
  const text = rest.join(': ');
  if (verb === 'say') return `  caller hears:  ${text}`;
  if (verb === 'keys') return `  caller keys:   ${text}`;
  return `  [Twilio]       ${line}`;
};
const call = await caller.follow(
  { status: 200, body: started.twiml },
  [{ secure: CARD }, { secure: EXPIRY }, { secure: CVV }],
  { onLine: (line) => print(speaker(line)) },
);
const agentLeg = call.last?.children.find((c) => c.name === 'Client')?.children.filter((c) => c.name === 'Parameter') ?? [];
print(`  agent-42's leg gets: ${agentLeg.map((p) => `${p.attrs.name}=${p.attrs.value}`).join(', ')}`);
const reservedAfter = await runtime.isReserved('agent-42');
print(`  call back with the agent: ${call.outcome === 'bridged' && call.transcript.at(-1) === 'dial client agent-42'}; agent-42 reserved? ${reservedAfter}`);
if (call.outcome !== 'bridged' || call.transcript.at(-1) !== 'dial client agent-42' || reservedAfter) failed = true;
if (restDone.join() !== 'pauseRecording,resumeRecording') failed = true;
const forged = await caller.post('/voice', {}, 'forged');
print(`  a request with a forged signature: HTTP ${forged.status}`);
print(`  ${statuses.length} webhook requests: ${statuses.filter((s) => s === 200).length} answered 200 with TwiML, ${statuses.filter((s) => s === 403).length} refused with 403`);
if (forged.status !== 403 || statuses.filter((s) => s === 200).length !== statuses.length - 1) failed = true;
await new Promise((resolve) => server.close(resolve));

heading('3. The runtime log (pino JSON), redacted');
for (const line of logLines) print(`  ${line}`);
// A secret as a whole token (not a run of digits inside a timestamp or an id).
const found = (text, secret) => new RegExp(`(?<![0-9A-Za-z])${secret}(?![0-9A-Za-z])`).test(text);
const secrets = [CARD, EXPIRY, CVV];
const checks = [
  ['the log', logLines.join('\n'), [...secrets, CARD.slice(-4)]],
  ['the TwiML answered to Twilio', call.bodies.join('\n'), secrets],
  ['what this demo printed', printed.join('\n'), secrets],
];
for (const [where, text, forbidden] of checks) {
  const leaked = forbidden.filter((s) => found(text, s));
  console.log(leaked.length === 0 ? `  no card number, expiry or security code in ${where}` : `  LEAK in ${where}: ${leaked.length} secret value(s)`);
  if (leaked.length > 0) failed = true;
}

run('4. Lint a payment flow with deliberate mistakes', ['lint', 'scripts/demo/broken-payment.yaml'], 1);

if (failed) {
  console.error('\ndemo: something did not go as it should (see above)');
  process.exit(1);
}
console.log('\ndemo: done. The examples lint clean; the call ran through the Twilio adapter (signed webhooks, recording paused and resumed) and the secure flow with the agent reserved and released; nothing secure was logged, printed or answered; every mistake in the broken flow was caught.');
