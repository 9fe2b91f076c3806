import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { simulate, type Flow } from '../src/index.js';

const CARD = '4916338506082832';
const load = (name: string): Flow => parse(readFileSync(join(import.meta.dirname, 'fixtures', `${name}.yaml`), 'utf8')) as Flow;
const project = () => [load('take-payment'), load('ivr'), load('get-balance'), load('self-pay'), load('otp')];

describe('simulate', () => {
  it('keys in the one-time code that was sent for the input `code`, and reports an undelivered SMS for `smsfailed`', async () => {
    const ok = await simulate(project(), { inputs: ['code'] }, 'otp');
    expect(ok.end).toEqual({ type: 'disconnect', reason: 'verified' });
    const failed = await simulate(project(), { inputs: ['smsfailed'] }, 'otp');
    expect(failed.end).toEqual({ type: 'disconnect', reason: 'failed' });
    expect(JSON.stringify(ok)).not.toMatch(/"\d{6}"/);
  });

  it('reaches lockedOut in one call under a stricter lock-out policy', async () => {
    const r = await simulate(project(), { inputs: ['00000', '00000'], lockout: { maxFailures: 2 } }, 'otp');
    expect(r.end).toEqual({ type: 'disconnect', reason: 'locked' });
  });

  it('runs a secure agent payment to returnToAgent with masked outputs and no secret in the transcript', async () => {
    const r = await simulate(project(), {
      inputs: [CARD, '123'],
      actions: { chargeCard: { reference: 'PAY-1' } },
      flowInputs: { amount: 10.5 },
    }, 'take-payment');
    expect(r.path).toEqual(['askCard', 'askCvv', 'charge', 'mask', 'thanks', 'backToAgent']);
    expect(r.end).toEqual({ type: 'returnToAgent', outputs: { paymentRef: 'PAY-1', cardLast4: '2832' } });
    expect(r.transcript).toContainEqual(expect.objectContaining({ from: 'caller', kind: 'input', text: '[secure]' }));
    expect(JSON.stringify(r)).not.toContain('4916');
    expect(JSON.stringify(r.transcript)).not.toContain('2832');
  });

  it('prints a pay command whose amount holds the digits of the caller\'s number', async () => {
    // The simulated caller is +15555550100: its digits 5555 are in the amount.
    const r = await simulate([load('pay')], { inputs: ['paid'], flowInputs: { amount: 55.55 } });
    expect(r.transcript.map((l) => l.text)).toContain('pay 55.55 GBP (card captured by the provider)');
    expect(r.end).toEqual({ type: 'disconnect', reason: 'paid' });
  });

  it('takes the error outcome for an unmocked action and says so', async () => {
    const r = await simulate(project(), { inputs: [CARD, '123'], flowInputs: { amount: 1.0 } }, 'take-payment');
    expect(r.unmocked).toEqual(['chargeCard']);
    expect(r.end).toEqual({ type: 'transfer', queue: 'billing' });
    expect(r.transcript.some((l) => l.text.includes('not mocked'))).toBe(true);
  });

  it('takes the timeout outcome for a mocked timeout', async () => {
    const r = await simulate(project(), { inputs: [CARD, '123'], actions: { chargeCard: { timeout: true } }, flowInputs: { amount: 1.0 } }, 'take-payment');
    expect(r.path).toContain('sorry');
  });

  it('hangs up when the inputs run out', async () => {
    const r = await simulate(project(), { inputs: ['2'] }, 'main-ivr');
    expect(r.end).toEqual({ type: 'hangup', state: 'askAccount' });
  });

  it('follows the call into a secure flow', async () => {
    const r = await simulate(project(), { inputs: ['1', CARD], actions: { chargeCard: { reference: 'R9' } } }, 'main-ivr');
    expect(r.path).toEqual(['menu', 'pay', 'askCard', 'charge', 'done', 'bye']);
    expect(r.end).toEqual({ type: 'disconnect', reason: 'paid' });
  });

  it('treats noinput as a time-out with no input', async () => {
    const r = await simulate(project(), { inputs: ['noinput', 'noinput'] }, 'main-ivr');
    expect(r.end).toEqual({ type: 'disconnect', reason: 'done' });
  });
});
