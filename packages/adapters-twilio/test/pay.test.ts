/**
 * `pay` → `<Pay>`: Twilio captures and charges the card, and its action callback (Result,
 * PaymentConfirmationCode) becomes the runtime's paymentResult. Over real HTTP on loopback.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, type Flow } from '@callflow/flow-core';
import { createTwilioWebhook, renderTurn } from '../src/index.js';
import { listen, parseTwiml, postForm } from './call-simulator.js';

const flow = parse(readFileSync(join(import.meta.dirname, '..', '..', 'flow-core', 'test', 'fixtures', 'pay.yaml'), 'utf8')) as Flow;
const AUTH = 'test-auth-token-0123456789abcdef';
const LINE = '+15555550160';
const call = { CallSid: 'CA00000000000000000000000000000077', AccountSid: 'AC00000000000000000000000000000001', From: '+15555550161', To: LINE };
let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

describe('<Pay>', () => {
  it('renders pay as <Pay> with the amount, currency, attempts, connector and the action URL, after its prompt', () => {
    const { twiml } = renderTurn(
      [{ type: 'pay', amount: 42.5, currency: 'GBP', description: 'Invoice', prompt: [{ text: 'Card details now.' }], attempts: 2, timeoutMs: 8000 }],
      { actionUrl: 'https://ivr.example.com/voice/s/2', waitUrl: 'https://ivr.example.com/voice/s/2/wait', status: 'waiting', paymentConnector: 'Stripe_Connector' },
    );
    const doc = parseTwiml(twiml);
    expect(doc.children.map((c) => c.name)).toEqual(['Say', 'Pay']);
    expect(doc.children[1]!.attrs).toEqual({
      chargeAmount: '42.50',
      currency: 'gbp',
      action: 'https://ivr.example.com/voice/s/2',
      description: 'Invoice',
      maxAttempts: '2',
      timeout: '8',
      paymentConnector: 'Stripe_Connector',
    });
  });

  it('takes the payment through Twilio and goes on with its confirmation code; no card data anywhere', async () => {
    const runtime = createRuntime({ flows: [flow] });
    const served = await listen((publicBaseUrl) =>
      createTwilioWebhook({ runtime, authToken: AUTH, publicBaseUrl, recording: 'none', flowByNumber: { [LINE]: { flow: 'pay-invoice', inputs: { amount: 19.99 } } } }),
    );
    close = served.close;
    const first = await postForm(`${served.baseUrl}/voice`, call, AUTH);
    const pay = parseTwiml(first.body).children.find((c) => c.name === 'Pay')!;
    expect(pay.attrs).toMatchObject({ chargeAmount: '19.99', currency: 'gbp' });
    const done = await postForm(pay.attrs.action!, { ...call, Result: 'success', PaymentConfirmationCode: 'ch_555', PaymentToken: 'tok_1' }, AUTH);
    const doc = parseTwiml(done.body);
    expect(doc.children.map((c) => c.name)).toEqual(['Say', 'Hangup']);
    expect(doc.children[0]!.text).toBe('Paid. Your reference is ch_555.');
  });

  it('takes failure when Twilio reports the payment failed', async () => {
    const runtime = createRuntime({ flows: [flow] });
    const served = await listen((publicBaseUrl) =>
      createTwilioWebhook({ runtime, authToken: AUTH, publicBaseUrl, recording: 'none', flowByNumber: { [LINE]: { flow: 'pay-invoice', inputs: { amount: 5 } } } }),
    );
    close = served.close;
    const first = await postForm(`${served.baseUrl}/voice`, call, AUTH);
    const pay = parseTwiml(first.body).children.find((c) => c.name === 'Pay')!;
    const done = await postForm(pay.attrs.action!, { ...call, Result: 'too-many-failed-attempts', PaymentError: 'card declined' }, AUTH);
    expect(parseTwiml(done.body).children.map((c) => c.name)).toEqual(['Enqueue']);
  });
});
