import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { createRuntime, simulate, type Flow } from '../src/index.js';

const flow = parse(readFileSync(join(import.meta.dirname, 'fixtures', 'pay.yaml'), 'utf8')) as Flow;

describe('pay', () => {
  it('hands the capture to the provider and takes success with the references it reports', async () => {
    const rt = createRuntime({ flows: [flow] });
    const t1 = await rt.startSession({ flow: 'pay-invoice', inputs: { amount: 42.5 } });
    expect(t1.waitingFor).toBe('payment');
    expect(t1.commands).toEqual([
      { type: 'pauseRecording' },
      { type: 'pay', amount: 42.5, currency: 'GBP', description: 'Invoice payment', prompt: [{ text: 'Please key in your card details when asked.' }], attempts: 2 },
    ]);
    const t2 = await rt.handle(t1.sessionId, { type: 'paymentResult', status: 'success', reference: 'PC-123', token: 'tok' });
    expect(t2.path).toEqual(['thanks', 'bye']);
    expect(t2.commands[0]).toEqual({ type: 'say', text: 'Paid. Your reference is PC-123.' });
  });

  it('takes failure when the provider reports the payment failed, and ignores other events meanwhile', async () => {
    const rt = createRuntime({ flows: [flow] });
    const t1 = await rt.startSession({ flow: 'pay-invoice', inputs: { amount: 10.0 } });
    const stray = await rt.handle(t1.sessionId, { type: 'digits', digits: '4111111111111111' });
    expect(stray.commands).toEqual([]);
    expect(stray.status).toBe('waiting');
    const t2 = await rt.handle(t1.sessionId, { type: 'paymentResult', status: 'failed', error: 'card-declined' });
    expect(t2.end).toMatchObject({ type: 'transfer', queue: 'payments' });
  });

  it('refuses an amount that is not a positive number (the flow fails safe)', async () => {
    const rt = createRuntime({ flows: [flow] });
    const t = await rt.startSession({ flow: 'pay-invoice', inputs: { amount: -1.0 } });
    expect(t.end).toMatchObject({ type: 'error', code: 'PAY_AMOUNT' });
  });

  it('is scripted in the simulator with `paid` and `declined`', async () => {
    const ok = await simulate([flow], { inputs: ['paid'], flowInputs: { amount: 5.0 } });
    expect(ok.end).toEqual({ type: 'disconnect', reason: 'paid' });
    expect(ok.transcript.some((l) => l.text === 'pay 5.00 GBP (card captured by the provider)')).toBe(true);
    const no = await simulate([flow], { inputs: ['declined'], flowInputs: { amount: 5.0 } });
    expect(no.end).toEqual({ type: 'transfer', queue: 'payments' });
  });
});

describe('transferResult', () => {
  it('gives the fail-safe when the transfer a session ended with did not connect', async () => {
    const rt = createRuntime({ flows: [flow], failSafe: { say: 'Sorry.', transferQueue: 'fallback' } });
    const t1 = await rt.startSession({ flow: 'pay-invoice', inputs: { amount: 10.0 } });
    await rt.handle(t1.sessionId, { type: 'paymentResult', status: 'failed' });
    const failed = await rt.handle(t1.sessionId, { type: 'transferResult', status: 'failed' });
    expect(failed.commands).toEqual([{ type: 'say', text: 'Sorry.' }, { type: 'transfer', queue: 'fallback' }]);
    const ok = await rt.handle(t1.sessionId, { type: 'transferResult', status: 'completed' });
    expect(ok.commands).toEqual([]);
  });
});
