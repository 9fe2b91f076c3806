import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { REDACTED, simulate, type Flow } from '../src/index.js';

const CARD = '4916338506082832';
const load = (name: string): Flow => parse(readFileSync(join(import.meta.dirname, 'fixtures', `${name}.yaml`), 'utf8')) as Flow;
const project = () => [load('take-payment'), load('ivr'), load('get-balance'), load('self-pay'), load('otp')];

describe('simulate', () => {
  it('keys in the one-time code that was sent for the input `code`, and reports an undelivered SMS for `smsfailed`', async () => {
    const ok = await simulate(project(), { inputs: ['code'] }, 'otp');
    expect(ok.end).toEqual({ type: 'disconnect', reason: 'verified' });
    const failed = await simulate(project(), { inputs: ['smsfailed'] }, 'otp');
    expect(failed.end).toEqual({ type: 'disconnect', reason: 'failed' });
    expect(/"\d{6}"/.test(JSON.stringify(ok))).toBe(false);
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
    // The agent gets the last four digits; printed, they are a piece of the card the session
    // held, redacted like the log.
    expect(r.end).toEqual({ type: 'returnToAgent', outputs: { paymentRef: 'PAY-1', cardLast4: REDACTED } });
    expect(r.transcript).toContainEqual(expect.objectContaining({ from: 'caller', kind: 'input', text: '[secure]' }));
    expect(JSON.stringify(r).includes('4916')).toBe(false);
    expect(JSON.stringify(r).includes('2832')).toBe(false);
  });

  it('prints nothing of a secure value a flow would hand on in transfer data: the runtime refuses it', async () => {
    // Lint would stop this flow; the runtime refuses the state, and the simulator prints no piece of the card.
    const leaky = parse(`
flow: leaky
kind: inbound
inputs:
  amount: { type: number, required: true }
variables:
  card: { type: string, secure: true }
start: quiet
states:
  quiet:
    recording: pause
    next: ask
  ask:
    collect: { prompt: Card please., into: card, digits: { min: 13, max: 19 } }
    on: { success: toDesk, failure: toDesk }
  toDesk:
    transfer: { queue: desk, data: { card: card, spaced: 'card.substring(0, 4) + " " + card.substring(4, 8)', amount: amount } }
`) as Flow;
    const lines: string[] = [];
    const r = await simulate([leaky], { inputs: [CARD], flowInputs: { amount: 25.5 }, onLine: (l) => lines.push(l.text) });
    expect(r.error).toMatchObject({ code: 'SECURE_LEAK_BLOCKED', state: 'toDesk' });
    expect(r.transcript.map((l) => l.text)).toEqual(['pauseRecording', 'Card please.', 'collect (secure)', '[secure]', 'disconnect (error)']);
    expect(lines).toEqual(r.transcript.map((l) => l.text));
    expect(JSON.stringify(r).includes(CARD.slice(0, 4))).toBe(false);
  });

  it('redacts the end like the log: a clear value that holds a piece of a secure one', async () => {
    const handsOn = parse(`
flow: hands-on
kind: inbound
inputs:
  note: { type: string, required: true }
  code: { type: string, secure: true, required: true }
start: toDesk
states:
  toDesk:
    transfer: { queue: desk, data: { note: note, count: 4916 } }
`) as Flow;
    // a piece, not the whole value: the whole would be refused before it left (see secure-enforcement.test.ts)
    const r = await simulate([handsOn], { flowInputs: { note: `card ${CARD.slice(0, 4)} ${CARD.slice(4, 8)}`, code: CARD } });
    expect(r.end).toEqual({ type: 'transfer', queue: 'desk', data: { note: `card ${REDACTED}`, count: 4916 } });
    expect(JSON.stringify(r).includes(CARD.slice(4, 8))).toBe(false);
  });

  it('prints a pay command whose amount holds the digits of the caller\'s number', async () => {
    // The simulated caller is +15555550100: its digits 5555 are in the amount.
    const r = await simulate([load('pay')], { inputs: ['paid'], flowInputs: { amount: 55.55 } });
    expect(r.transcript.map((l) => l.text)).toContain('pay 55.55 GBP (card captured by the provider)');
    expect(r.end).toEqual({ type: 'disconnect', reason: 'paid' });
  });

  it('passes each transcript line through the session\'s redactor, typed fields included', async () => {
    // The pay command's amount is a number (never redacted in the event); the line that prints
    // it is text, and the session holds a secure value with those digits.
    const payWithCode = parse(`
flow: pay-with-code
kind: secure
reservation: none
inputs:
  amount: { type: number, required: true }
  code: { type: string, secure: true }
start: take
states:
  take:
    pay: { amount: amount, currency: gbp, prompt: Card details please., attempts: 1 }
    on: { success: bye, failure: bye }
  bye:
    disconnect: { reason: done }
`) as Flow;
    const r = await simulate([payWithCode], { inputs: ['paid'], flowInputs: { amount: 7391, code: '7391' } });
    expect(r.transcript.map((l) => l.text)).toContain(`pay ${REDACTED}.00 GBP (card captured by the provider)`);
    expect(JSON.stringify(r.transcript).includes('7391')).toBe(false);
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
