import { describe, expect, it } from 'vitest';
import { REDACTED, Redactor, luhnValid } from '../src/secure/redact.js';

const CARD = '4916338506082832';
const MB = 1 << 20;

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
      expect(r.redactText('card 4111111111111111 12/27')).toBe(`card ${REDACTED} 12/27`);
      expect(r.redactText('ref 12 4111111111111111')).toBe(`ref 12 ${REDACTED}`);
      expect(r.redactText('4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 spoken')).toBe(`${REDACTED} spoken`);
    });
    it('keeps digit runs that are not card numbers', () => {
      const noPhone = new Redactor({ detectPhone: false });
      expect(noPhone.redactText('order 1234567890123')).toBe('order 1234567890123');
      expect(noPhone.redactText('pan 4111111111111112')).toBe('pan 4111111111111112');
      expect(r.redactText('order 12345678901234567890')).toBe('order 12345678901234567890');
      expect(r.redactText(`pan 9${'4111111111111111'}`)).toBe('pan 94111111111111111');
    });
    it('removes a run of 10 to 15 digits as a phone number', () => {
      expect(r.redactText('order 1234567890123')).toBe(`order ${REDACTED}`);
      expect(r.redactText('order 123456789')).toBe('order 123456789');
    });
    it('removes phone numbers and e-mail addresses', () => {
      expect(r.redactText('call +15555550123 now')).toBe(`call ${REDACTED} now`);
      expect(r.redactText('call (555) 555-0123')).toBe(`call (${REDACTED}`);
      expect(r.redactText('mail jo.bloggs@example.com')).toBe(`mail ${REDACTED}`);
      expect(r.redactText('mail jo@example.com, ann@example.org.')).toBe(`mail ${REDACTED}, ${REDACTED}.`);
    });
    it('keeps ids whole, even when a segment is all digits', () => {
      const s = r.with([CARD]);
      const id = '01e36271-2907-40a3-9522-175565031878';
      expect(s.redactText(`session ${id} card ${CARD}`)).toBe(`session ${id} card ${REDACTED}`);
      expect(s.redactText(`${id.toUpperCase()}:${id}`)).toBe(`${id.toUpperCase()}:${id}`);
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
      expect(out.a).toEqual([{ b: `x${REDACTED}` }]);
      expect(out.e).toBeInstanceOf(Error);
      expect(out.e.message).toBe(`bad ${REDACTED}`);
      expect(input.a[0]!.b).toBe(`x${CARD}`);
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

  // Linear work takes well under a second for each; the backtracking patterns took hours. The
  // time-out is generous for a busy machine: no test measures time.
  describe('linear time: 1 MB texts of the shapes that made the old patterns backtrack', { timeout: 60_000 }, () => {
    const patterns = new Redactor();

    it('a run of e-mail characters with no @domain, and @ with no domain', () => {
      const local = 'a.b-c_d%e+f'.repeat(MB / 11);
      expect(patterns.redactText(local) === local).toBe(true);
      const noDomain = `${'a'.repeat(MB / 2)}@${'b'.repeat(MB / 2)}`;
      expect(patterns.redactText(noDomain) === noDomain).toBe(true);
      const ats = 'a@'.repeat(MB / 2);
      expect(patterns.redactText(ats) === ats).toBe(true);
      const dots = `x@${'a.'.repeat(MB / 2)}`;
      expect(patterns.redactText(dots) === dots).toBe(true);
      expect(patterns.redactText(`${'a'.repeat(MB)}@example.com ok`)).toBe(`${REDACTED} ok`);
    });

    it('100,000 digits and a 1 MB run of digits', () => {
      const digits = '1'.repeat(100_000);
      expect(patterns.redactText(`x ${digits} y`) === `x ${digits} y`).toBe(true);
      const random = digitsFrom(MB, 7);
      expect(patterns.redactText(random) === random).toBe(true);
    });

    it('digits alternating with separators', () => {
      // Runs of 15 ones joined by single spaces: a phone number (15 digits) at a time; no
      // range of 13–19 ones passes Luhn.
      const phone = Array.from({ length: 15 }, () => '1').join(' ');
      const count = Math.floor(MB / (phone.length + 1));
      expect(patterns.redactText(Array(count).fill(phone).join(' '))).toBe(Array(count).fill(REDACTED).join(' '));
      const slashes = '1/'.repeat(MB / 2);
      expect(patterns.redactText(slashes) === slashes).toBe(true);
      const spaced = '12 - '.repeat(MB / 5);
      expect(patterns.redactText(spaced) === spaced).toBe(true);
    });
  });

  describe('the scanners agree with the patterns they replace (on texts short enough for those)', () => {
    const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g;
    const PHONE = /(?<![\w+])\+?\d(?:[ ().-]{0,2}\d){9,14}(?![\w])/g;
    // Two matches that touch are one removed span, with one marker.
    const oneMarkerPerSpan = (text: string) => text.replace(/(?:\[redacted\])+/g, REDACTED);

    it('e-mail addresses', () => {
      const r = new Redactor({ detectPan: false, detectPhone: false });
      // Letters, dots and @ often enough for many addresses (a third of the texts hold one);
      // the other characters of each part now and then.
      const texts = [...randomTexts('aab.@', 3000, 40, 11), ...randomTexts('aaaab..@@-+ 1', 3000, 40, 13), ...randomTexts('ab.-_%+@Z1 ', 1000, 40, 17)];
      for (const text of texts) expect(r.redactText(text)).toBe(oneMarkerPerSpan(text.replace(EMAIL, REDACTED)));
    });
    it('phone numbers', () => {
      const r = new Redactor({ detectPan: false, detectEmail: false });
      const texts = [...randomTexts('1111111234+ ().-a_', 3000, 60, 12), ...randomTexts('11111 -.()+a', 2000, 60, 14)];
      for (const text of texts) expect(r.redactText(text)).toBe(oneMarkerPerSpan(text.replace(PHONE, REDACTED)));
    });
  });

  it('implements the Luhn check', () => {
    expect(luhnValid(CARD)).toBe(true);
    expect(luhnValid('4916338506082833')).toBe(false);
    expect(luhnValid('abc')).toBe(false);
  });
});

/** A deterministic pseudo-random generator (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function digitsFrom(length: number, seed: number): string {
  const next = random(seed);
  let out = '';
  for (let i = 0; i < length; i++) out += String.fromCharCode(48 + Math.floor(next() * 10));
  return out;
}

function randomTexts(alphabet: string, count: number, maxLength: number, seed: number): string[] {
  const next = random(seed);
  return Array.from({ length: count }, () => {
    const length = Math.floor(next() * maxLength);
    let text = '';
    for (let i = 0; i < length; i++) text += alphabet[Math.floor(next() * alphabet.length)];
    return text;
  });
}
