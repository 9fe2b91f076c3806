import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import twilio from 'twilio';
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, MemoryLogger } from '@callflow/flow-core';
import { createTwilioWebhook, MemoryCallRegistry, type TwilioWebhook } from '../src/index.js';
import { callflowTwilio as expressMiddleware } from '../src/express.js';
import { callflowTwilio as fastifyPlugin, MountPathMismatchError } from '../src/fastify.js';
import { CallSimulator, parseTwiml, postForm } from './call-simulator.js';
import { AUTH_TOKEN, exampleFlow, MANAGER, PARTNER_LINE, RecordingRest, ScriptedActions, withoutIds } from './fixtures.js';

const CARD = '4111111111111111';
const RESULTS = {
  lookupApplication: { status: 'open', clientPhone: '+15555550142' },
  chargeCard: { approved: true, reference: 'PAY-7001', maskedCard: '1111' },
};

/** The example flows behind a webhook whose public URL is `baseUrl`. */
function wiring(baseUrl: string) {
  const actions = new ScriptedActions(RESULTS);
  const runtime = createRuntime({ flows: [exampleFlow('masked-callback'), exampleFlow('agent-card-payment')], actions });
  let started = 0;
  runtime.events.on('session.started', () => started++);
  const rest = new RecordingRest();
  const calls = new MemoryCallRegistry();
  const logger = new MemoryLogger();
  const webhook = createTwilioWebhook({ runtime, authToken: AUTH_TOKEN, publicBaseUrl: baseUrl, flowByNumber: { [PARTNER_LINE]: 'masked-callback' }, rest, calls, logger });
  return { webhook, runtime, actions, rest, calls, logger, sessionsStarted: () => started };
}

type Served = ReturnType<typeof wiring> & { baseUrl: string; close(): Promise<void> };

async function listening(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** Fastify on loopback, the plugin registered under /twilio. */
async function serveFastify(): Promise<Served> {
  const server = createServer();
  const port = await listening(server);
  const baseUrl = `http://127.0.0.1:${port}/twilio`;
  const wired = wiring(baseUrl);
  // The server listens first (its port is part of the signed URL), then Fastify takes its requests.
  const app = Fastify({ serverFactory: (handler) => server.on('request', handler) });
  app.post('/other', async (request) => ({ got: request.body }));
  await app.register(fastifyPlugin, { webhook: wired.webhook, prefix: '/twilio' });
  await app.ready();
  return { ...wired, baseUrl, close: () => app.close() };
}

/** Express on loopback, the middleware mounted at /twilio (after an app-wide body parser when asked). */
async function serveExpress(options: { appWideBodyParser?: boolean } = {}): Promise<Served> {
  const app = express();
  const server = createServer(app);
  const port = await listening(server);
  const baseUrl = `http://127.0.0.1:${port}/twilio`;
  const wired = wiring(baseUrl);
  if (options.appWideBodyParser) app.use(express.urlencoded({ extended: false }));
  app.use('/twilio', expressMiddleware({ webhook: wired.webhook }));
  return { ...wired, baseUrl, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

let served: Served | undefined;
afterEach(async () => {
  await served?.close();
  served = undefined;
});

const startPayment = (webhook: TwilioWebhook, callSid: string) =>
  webhook.startSecureCall({ callSid, conversationId: 'conv-1', agentId: 'agent-42', flow: 'agent-card-payment', inputs: { amount: 42.5, invoiceId: 'INV-1001' } });

describe.each([
  ['the Fastify plugin', serveFastify],
  ['the Express middleware', () => serveExpress()],
])('%s', (_name, serve) => {
  it('takes an agent-handed card payment over real HTTP and returns the caller to the agent', async () => {
    served = await serve();
    const caller = new CallSimulator(served.baseUrl, AUTH_TOKEN, { from: MANAGER, to: PARTNER_LINE });
    const started = await startPayment(served.webhook, caller.callSid);
    const call = await caller.follow({ status: 200, body: started.twiml }, [{ secure: CARD }, { secure: '1228' }, { secure: '123' }]);

    expect(call.transcript).toContain('say: Thank you. The payment with the card ending 1111 was approved. Your reference is PAY-7001.');
    expect(call.transcript.filter((l) => l.startsWith('keys:'))).toEqual(['keys: [secure]', 'keys: [secure]', 'keys: [secure]']);
    expect(call.transcript.at(-1)).toBe('dial client agent-42');
    expect(call.outcome).toBe('bridged');
    expect(served.actions.count('chargeCard')).toBe(1);
    expect(served.rest.performed.map((p) => p.type)).toEqual(['pauseRecording', 'resumeRecording']);
    expect(await served.runtime.isReserved('agent-42')).toBe(false);
    for (const body of call.bodies) for (const secret of [CARD, '1228']) expect(withoutIds(body).includes(secret), 'must not be there').toBe(false);
  });

  it('runs the masked callback from a new call to the dialled client', async () => {
    served = await serve();
    const caller = new CallSimulator(served.baseUrl, AUTH_TOKEN, { from: MANAGER, to: PARTNER_LINE });
    const call = await caller.dialIn(['12345678', { dial: 'completed' }]);
    expect(call.transcript).toContain('dial number +15555550142 from +15555550100');
    expect(call.outcome).toBe('hangup');
    expect(served.calls.size).toBe(0);
  });

  it('answers 403 to a forged signature and starts no session', async () => {
    served = await serve();
    const caller = new CallSimulator(served.baseUrl, AUTH_TOKEN, { from: MANAGER, to: PARTNER_LINE });
    const answer = await caller.post('/voice', {}, 'forged');
    expect(answer.status).toBe(403);
    expect((answer.body).includes('<Response'), 'must not be there').toBe(false);
    expect(served.sessionsStarted()).toBe(0);
    expect((await caller.post('/voice', {}, 'none')).status).toBe(403);
  });

  it('serves the fallback URL (signed: the fail-safe answer; forged: 403)', async () => {
    served = await serve();
    const caller = new CallSimulator(served.baseUrl, AUTH_TOKEN, { from: MANAGER, to: PARTNER_LINE });
    const answer = await caller.post('/fallback', { ErrorCode: '11205', ErrorUrl: `${served.baseUrl}/voice` });
    expect(answer.status).toBe(200);
    expect(parseTwiml(answer.body).children.map((c) => c.name)).toEqual(['Say', 'Hangup']);
    expect((await caller.post('/fallback', { ErrorCode: '11205' }, 'forged')).status).toBe(403);
    expect(served.sessionsStarted()).toBe(0);
  });

  it('checks the signature against the exact URL called, query string included (twilio-node #942)', async () => {
    served = await serve();
    const url = `${served.baseUrl}/status?tenant=acme`;
    const params = { CallSid: 'CA1', CallStatus: 'completed' };
    expect((await postForm(url, params, AUTH_TOKEN)).status).toBe(200);
    const signedWithoutQuery = twilio.getExpectedTwilioSignature(AUTH_TOKEN, `${served.baseUrl}/status`, params);
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signedWithoutQuery },
      body: new URLSearchParams(params).toString(),
    });
    expect(response.status).toBe(403);
  });
});

describe('the Fastify plugin, in its host', () => {
  it('keeps its form parser to itself: the host routes parse as before', async () => {
    served = await serveFastify();
    const other = served.baseUrl.replace(/\/twilio$/, '/other');
    const json = await fetch(other, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
    expect(await json.json()).toEqual({ got: { a: 1 } });
    const form = await fetch(other, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1' });
    expect(form.status).toBe(415);
  });

  it('refuses to register under a prefix other than the path of publicBaseUrl', async () => {
    const app = Fastify();
    const { webhook } = wiring('https://ivr.example.com/twilio');
    await expect(app.register(fastifyPlugin, { webhook, prefix: '/hooks' }).ready()).rejects.toBeInstanceOf(MountPathMismatchError);
    await app.close();
  });

  it('answers 413 to a body over the webhook limit', async () => {
    served = await serveFastify();
    const answer = await postForm(`${served.baseUrl}/voice`, { CallSid: 'CA1', To: PARTNER_LINE, Padding: 'x'.repeat(70 * 1024) }, AUTH_TOKEN);
    expect(answer.status).toBe(413);
    expect(served.sessionsStarted()).toBe(0);
    expect(served.logger.records.map((r) => [r.level, r.fields.refused, r.fields.path])).toEqual([['warn', 'bodyTooLarge', '/twilio/voice']]);
  });
});

describe('the Express middleware, in its host', () => {
  it('validates requests an app-wide express.urlencoded() has already read', async () => {
    served = await serveExpress({ appWideBodyParser: true });
    const caller = new CallSimulator(served.baseUrl, AUTH_TOKEN, { from: MANAGER, to: PARTNER_LINE });
    const call = await caller.dialIn(['12345678', { dial: 'completed' }]);
    expect(call.outcome).toBe('hangup');
    expect((await caller.post('/voice', {}, 'forged')).status).toBe(403);
  });

  it('answers 413 to a body over the webhook limit', async () => {
    served = await serveExpress();
    const answer = await postForm(`${served.baseUrl}/voice`, { CallSid: 'CA1', To: PARTNER_LINE, Padding: 'x'.repeat(70 * 1024) }, AUTH_TOKEN);
    expect(answer.status).toBe(413);
    expect(served.sessionsStarted()).toBe(0);
    expect(served.logger.records.map((r) => [r.level, r.fields.refused, r.fields.path])).toEqual([['warn', 'bodyTooLarge', '/twilio/voice']]);
  });
});
