// What a consumer does with the published packages, written once for both module systems:
// smoke.mjs hands it the modules it imported, smoke.cjs the modules it required. It prints one
// line per check and throws at the first one that fails.
'use strict';
const assert = require('node:assert/strict');
const { readFileSync } = require('node:fs');
const { createServer } = require('node:http');
const { join } = require('node:path');

const AUTH_TOKEN = 'packaging-test-token';
const CALLED = '+15555550100';

module.exports = async function smoke({ core, dsl, twilioAdapter, twilio, z, subpaths, label }) {
  const check = (what) => console.log(`${label}: ${what}`);
  for (const [name, mod] of Object.entries(subpaths)) {
    assert.ok(Object.keys(mod).length > 0, `${name} exports nothing`);
  }
  check(`subpaths load (${Object.keys(subpaths).join(', ')})`);

  const file = join(__dirname, 'account-status.yaml');
  const loaded = dsl.loadFlowText(readFileSync(file, 'utf8'), file);
  assert.ok(loaded.flow, `the flow did not load: ${JSON.stringify(loaded.diagnostics)}`);
  check('loadFlowText');

  const lookupAccount = core.defineAction({
    name: 'lookupAccount',
    input: z.object({ accountId: z.string() }),
    output: z.object({ status: z.string() }),
    limits: { timeoutMs: 1000 },
    handler: async ({ accountId }) => ({ status: accountId === 'AC-7' ? 'open' : 'unknown' }),
  });
  const runtime = core.createRuntime({ flows: [loaded.flow], actions: [lookupAccount] });
  const turn = await runtime.startSession({ flow: 'account-status' });
  assert.equal(turn.status, 'ended', `the session did not end: ${JSON.stringify(turn)}`);
  assert.deepEqual(turn.path, ['lookup', 'report', 'bye']);
  assert.match(JSON.stringify(turn.commands), /Your account is open\./);
  check('createRuntime + data action: the session ran to its end');

  const server = createServer((req, res) => void webhook.handleNode(req, res));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}/twilio`;
  const webhook = twilioAdapter.createTwilioWebhook({
    runtime,
    authToken: AUTH_TOKEN,
    publicBaseUrl: base,
    flowByNumber: { [CALLED]: 'account-status' },
    recording: 'none',
  });
  try {
    const params = { CallSid: `CA${'7'.repeat(32)}`, AccountSid: `AC${'1'.repeat(32)}`, From: '+15555550123', To: CALLED, CallStatus: 'ringing' };
    const post = (signature) =>
      fetch(`${base}/voice`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
        body: new URLSearchParams(params).toString(),
      });
    const answered = await post(twilio.getExpectedTwilioSignature(AUTH_TOKEN, `${base}/voice`, params));
    const twiml = await answered.text();
    assert.equal(answered.status, 200, twiml);
    assert.match(twiml, /<Say[^>]*>Your account is open\.<\/Say>/);
    assert.match(twiml, /<Hangup\/>/);
    check('Twilio webhook on node:http answered a signed request with TwiML');
    const forged = await post('forged');
    assert.equal(forged.status, 403);
    check('Twilio webhook refused a forged signature');
  } finally {
    await new Promise((resolve) => server.close(resolve));
    await runtime.shutdown();
  }
};

if (require.main === module) {
  module.exports({
    label: 'cjs',
    core: require('@callflow/flow-core'),
    dsl: require('@callflow/flow-dsl'),
    twilioAdapter: require('@callflow/adapters-twilio'),
    twilio: require('twilio'),
    z: require('zod').z,
    subpaths: {
      '@callflow/flow-core/redis': require('@callflow/flow-core/redis'),
      '@callflow/adapters-twilio/express': require('@callflow/adapters-twilio/express'),
      '@callflow/adapters-twilio/fastify': require('@callflow/adapters-twilio/fastify'),
      '@callflow/adapters-twilio/redis': require('@callflow/adapters-twilio/redis'),
      '@callflow/adapters-twilio/testing': require('@callflow/adapters-twilio/testing'),
    },
  }).catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}
