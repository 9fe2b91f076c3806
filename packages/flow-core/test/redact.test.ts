import { describe, expect, it } from 'vitest';
import { REDACTED, Redactor, luhnValid } from '../src/secure/redact.js';

const CARD = '4916338506082832';

describe('Redactor', () => {
  describe('session secrets', () => {
    const r = new Redactor();
    r.addSecret(CARD);

    it('removes the exact value', () => {
      expect(r.redactText(`card ${CARD} ok`)).toBe(`card ${REDACTED} ok`);
    });
    it('removes any 4+ character piece of it', () => {
      expect(r.redactText('ends in 2832.')).not.toContain('2832');
      expect(r.redactText('middle 38850608 here')).not.toContain('3885');
    });
    it('removes variants written with spaces or dashes', () => {
      expect(r.redactText('4916 3385 0608 2832')).toBe(REDACTED);
      expect(r.redactText('4916-3385-0608-2832 paid')).toBe(`${REDACTED} paid`);
    });
    it('leaves unrelated text alone', () => {
      expect(r.redactText('Thank you, goodbye')).toBe('Thank you, goodbye');
    });
    it('matches short secrets exactly', () => {
      const pin = new Redactor({ detectPhone: false });
      pin.addSecret('737');
      expect(pin.redactText('cvv is 737')).toBe(`cvv is ${REDACTED}`);
    });
    it('forgets secrets when the secure session ends', () => {
      const s = new Redactor({ detectPan: false });
      s.addSecret('Margaret Smith');
      expect(s.redactText('caller Margaret Smith')).not.toContain('Margaret');
      s.clearSecrets();
      expect(s.redactText('caller Margaret Smith')).toContain('Margaret');
    });
  });

  describe('second line of defence', () => {
    const r = new Redactor();
    it('removes Luhn-valid card numbers it was never told about', () => {
      expect(r.redactText('pan 4111 1111 1111 1111 given')).toBe(`pan ${REDACTED} given`);
      expect(r.redactText('pan 5555555555554444')).toBe(`pan ${REDACTED}`);
    });
    it('keeps digit runs that are not card numbers', () => {
      expect(r.redactText('order 1234567890123')).toContain('order');
    });
    it('removes phone numbers and e-mail addresses', () => {
      expect(r.redactText('call +15555550123 now')).toBe(`call ${REDACTED} now`);
      expect(r.redactText('mail jo.bloggs@example.com')).toBe(`mail ${REDACTED}`);
    });
    it('keeps ids whole, even when a segment is all digits', () => {
      const s = r.with([CARD]);
      const id = '01e36271-2907-40a3-9522-175565031878';
      expect(s.redactText(`session ${id} card ${CARD}`)).toBe(`session ${id} card ${REDACTED}`);
    });
    it('removes string values of CVV/PIN/PAN-named fields', () => {
      expect(r.redact({ cvv: '123', card_number: 'x', Password: { current: 'p', history: ['q'] }, expiry: '', amount: 5 })).toEqual({
        cvv: REDACTED,
        card_number: REDACTED,
        Password: { current: REDACTED, history: [REDACTED] },
        expiry: '',
        amount: 5,
      });
    });
    it('redacts nested values and errors without touching the input', () => {
      const s = r.with([CARD]);
      const input = { a: [{ b: `x${CARD}` }], e: new Error(`bad ${CARD}`) };
      const out = s.redact(input);
      expect(JSON.stringify(out)).not.toContain('2832');
      expect((out.e as Error).message).toBe(`bad x${REDACTED}`.replace('x', ''));
      expect(input.a[0]!.b).toContain(CARD);
    });
  });

  describe('typed values', () => {
    it('keeps numbers, booleans and bigints whatever they look like', () => {
      const r = new Redactor().with(['5555', '+15555550100', CARD]);
      const value = { at: 1_767_225_600_000, amount: 55.55, count: 5555550123, pan: 4111111111111111, big: 4916338506082832n, ok: true };
      expect(r.redact(value)).toEqual(value);
    });
    it('keeps numbers and booleans in fields named like secrets (a number is not free text)', () => {
      const r = new Redactor();
      expect(r.redact({ pin: 4321, otp: 123456, secret: false, cvv: null })).toEqual({ pin: 4321, otp: 123456, secret: false, cvv: null });
    });
    it('keeps the shape of a pay command whose amount has the digits of a secure value', () => {
      const r = new Redactor().with(['5555']);
      const command = { type: 'pay', amount: 55.55, currency: 'GBP', prompt: [{ text: 'Card please' }], attempts: 2, timeoutMs: 5555 };
      expect(r.redact({ sessionId: 's-1', at: 5555, command })).toEqual({ sessionId: 's-1', at: 5555, command });
    });
  });

  it('implements the Luhn check', () => {
    expect(luhnValid(CARD)).toBe(true);
    expect(luhnValid('4916338506082833')).toBe(false);
    expect(luhnValid('abc')).toBe(false);
  });
});
