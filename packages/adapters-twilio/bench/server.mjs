// One server of the webhook benchmark, in its own process (so its core is not the load
// generator's): `bare` answers a fixed TwiML string from node:http; `bare-body` reads the
// request's body first; `adapter` serves the Twilio webhook over an in-memory runtime running
// bench/menu-loop.yaml. Tells the parent its port; tells its CPU time when asked.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { createRuntime } from '@callflow/flow-core';
import { loadFlowText } from '@callflow/flow-dsl';
import { createTwilioWebhook } from '@callflow/adapters-twilio';

const [kind, authToken] = process.argv.slice(2);
export const BENCH_LINE = '+15555550100';
const FIXED_TWIML =
  '<?xml version="1.0" encoding="UTF-8"?><Response><Say>Your balance is 42 pounds and 50 pence.</Say>' +
  '<Gather input="dtmf" action="http://127.0.0.1/twilio/voice/s/1" method="POST" timeout="5" numDigits="1" actionOnEmptyResult="true">' +
  '<Say>For your balance press 1. To hear the options again press 2.</Say></Gather></Response>';

let runtime;
let handler;
if (kind === 'bare') {
  handler = (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/xml; charset=utf-8' });
    res.end(FIXED_TWIML);
  };
} else if (kind === 'bare-body') {
  // What any webhook must do at the least: read the request's body, then answer (here the
  // same fixed TwiML). The answer comes on the body's 'end' event, not inside 'request'.
  handler = (req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      Buffer.concat(chunks).toString('utf8');
      res.writeHead(200, { 'content-type': 'text/xml; charset=utf-8' });
      res.end(FIXED_TWIML);
    });
  };
} else {
  const file = join(import.meta.dirname, 'menu-loop.yaml');
  const loaded = loadFlowText(readFileSync(file, 'utf8'), file);
  if (!loaded.flow) throw new Error(`${file}: ${JSON.stringify(loaded.diagnostics)}`);
  runtime = createRuntime({ flows: [loaded.flow] });
}
const server = createServer((req, res) => handler(req, res));
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  if (kind === 'adapter') {
    const webhook = createTwilioWebhook({
      runtime,
      authToken,
      publicBaseUrl: `http://127.0.0.1:${port}/twilio`,
      flowByNumber: { [BENCH_LINE]: 'bench-menu' },
      onProblem: (p) => process.send({ problem: p.code }),
    });
    handler = (req, res) => void webhook.handleNode(req, res);
  }
  process.send({ port });
});

// The parent asks, after the run, how many real turns the sessions took.
process.on('message', async (message) => {
  // The server's own CPU time, read around a measured run.
  if (message.cpu) {
    process.send({ cpuUsage: process.cpuUsage() });
    return;
  }
  if (message.stats) {
    let turns = 0;
    let waiting = 0;
    for (const id of message.stats) {
      const view = await runtime.inspect(id);
      turns += Number(view?.lastRequestId ?? 0);
      if (view && view.status !== 'ended') waiting++;
    }
    process.send({ turns, waiting });
  }
});
process.on('SIGTERM', () => process.exit(0));
