import { describe, expect, it } from 'vitest';
import { REDACTED, Redactor, luhnValid } from '../src/secure/redact.js';

const CARD = '4916338506082832';
const MB = 1 << 20;

describe('Redactor', () => {
  describe('session secrets', () => {
    // The patterns off: what the session's own values remove.
    const r = new Redactor({ detectPan: false, detectPhone: false });
    r.addSecret(CARD);

    it('removes the exact value', () => {
      expect(r.redactText(`card ${CARD} ok`)).toBe(`card ${REDACTED} ok`);
    });
    it('removes a piece of 4 or more digits where it stands as a whole digit run', () => {
      expect(r.redactText('ends in 2832.')).toBe(`ends in ${REDACTED}.`);
      expect(r.redactText('middle 33850608 here')).toBe(`middle ${REDACTED} here`);
      expect(r.redactText('first 4916 3385 then')).toBe(`first ${REDACTED} then`);
      expect(r.redactText('last4=2832;')).toBe(`last4=${REDACTED};`);
    });
    it('keeps a digit run that merely contains a piece', () => {
      expect(r.redactText('order 28329')).toBe('order 28329');
      expect(r.redactText('at 1767060828000')).toBe('at 1767060828000');
      expect(r.redactText('1234 then 994916338')).toBe('1234 then 994916338');
    });
    it('removes the whole pieces of a run of groups and keeps the groups around them', () => {
      expect(r.redactText('ref 12832 4916 3385 0608 99')).toBe(`ref 12832 ${REDACTED} 99`);
    });
    it('removes variants written with spaces or dashes', () => {
      expect(r.redactText('4916 3385 0608 2832')).toBe(REDACTED);
      expect(r.redactText('4916-3385-0608-2832 paid')).toBe(`${REDACTED} paid`);
      expect(r.redactText('4916 - 3385\t0608  2832')).toBe(REDACTED);
    });
    it('reads a dot between digits as a decimal point, not a separator', () => {
      const five = new Redactor({ detectPan: false, detectPhone: false });
      five.addSecret('5555');
      expect(five.redactText('pay 55.55 GBP, pin 5555, code 55-55')).toBe(`pay 55.55 GBP, pin ${REDACTED}, code ${REDACTED}`);
      // Each group of a card written with dots is a piece of it.
      expect(r.redactText('4916.3385.0608.2832')).toBe([REDACTED, REDACTED, REDACTED, REDACTED].join('.'));
    });
    it('removes a long value wherever it appears whole, even inside a longer digit run', () => {
      expect(r.redactText(`keyed ${CARD}1`)).toBe(`keyed ${REDACTED}1`);
      expect(r.redactText(`9${CARD}9`)).toBe(`9${REDACTED}9`);
    });
    it('leaves unrelated text alone', () => {
      expect(r.redactText('Thank you, goodbye')).toBe('Thank you, goodbye');
    });
    it('forgets secrets when the secure session ends', () => {
      const s = new Redactor({ detectPan: false });
      s.addSecret('Margaret Smith');
      expect(s.redactText('caller Margaret Smith')).toBe(`caller ${REDACTED}`);
      expect(s.redactText('Dear MARGARET,')).toBe(`Dear ${REDACTED},`);
      expect(s.redactText('Margaretha')).toBe('Margaretha');
      s.clearSecrets();
      expect(s.redactText('caller Margaret Smith')).toBe('caller Margaret Smith');
    });
  });

  describe('short secrets (under 4 characters)', () => {
    const cvv = new Redactor({ detectPhone: false });
    cvv.addSecret('123');

    it('are removed where they stand as a whole token', () => {
      expect(cvv.redactText('cvv is 123')).toBe(`cvv is ${REDACTED}`);
      expect(cvv.redactText('123')).toBe(REDACTED);
      expect(cvv.redactText('code=123;')).toBe(`code=${REDACTED};`);
      expect(cvv.redactText('read back 1 2 3')).toBe(`read back ${REDACTED}`);
    });
    it('count a digit run that is exactly the secret, next to letters, as the secret', () => {
      expect(cvv.redactText('turn 1234 took 123ms')).toBe(`turn 1234 took ${REDACTED}ms`);
      expect(cvv.redactText('x123')).toBe(`x${REDACTED}`);
    });
    it('are kept inside a longer digit run', () => {
      expect(cvv.redactText('turn 1234 took 0123 and 91238')).toBe('turn 1234 took 0123 and 91238');
    });
    it('of letters are kept inside a longer word', () => {
      const name = new Redactor();
      name.addSecret('Al');
      expect(name.redactText('Al called, Alice did not')).toBe(`${REDACTED} called, Alice did not`);
    });
  });

  describe('values searched for', () => {
    it('are the leaves of a secure list or map, not its keys', () => {
      const r = new Redactor({ detectPan: false });
      r.addSecret({ number: CARD, expiry: ['1227'] });
      expect(r.redactText(`{"number":"${CARD}","expiry":"1227"}`)).toBe(`{"number":"${REDACTED}","expiry":"${REDACTED}"}`);
      expect(r.redactText('the number and expiry')).toBe('the number and expiry');
    });
    it('include numbers as written in decimal, but not booleans', () => {
      const r = new Redactor();
      r.addSecret(4321);
      r.addSecret(true);
      expect(r.redactText('pin 4321 verified true')).toBe(`pin ${REDACTED} verified true`);
    });
    it('carry over to a derived redactor with the secrets it adds', () => {
      const base = new Redactor();
      base.addSecret('737');
      const s = base.with([CARD]);
      expect(s.redactText(`737 ${CARD.slice(-4)}`)).toBe(`${REDACTED} ${REDACTED}`);
      expect(base.redactText(`737 ${CARD.slice(-4)}`)).toBe(`${REDACTED} 2832`);
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
    const session = new Redactor().with(['+15555550100', CARD, '737']);

    it('a run of e-mail characters with no @domain, and @ with no domain', () => {
      const local = 'a.b-c_d%e+f'.repeat(MB / 11);
      expect(session.redactText(local) === local).toBe(true);
      const noDomain = `${'a'.repeat(MB / 2)}@${'b'.repeat(MB / 2)}`;
      expect(session.redactText(noDomain) === noDomain).toBe(true);
      const ats = 'a@'.repeat(MB / 2);
      expect(session.redactText(ats) === ats).toBe(true);
      const dots = `x@${'a.'.repeat(MB / 2)}`;
      expect(session.redactText(dots) === dots).toBe(true);
      expect(session.redactText(`${'a'.repeat(MB)}@example.com ok`)).toBe(`${REDACTED} ok`);
    });

    it('100,000 digits and a 1 MB run of digits', () => {
      const digits = '1'.repeat(100_000);
      expect(session.redactText(`x ${digits} y`) === `x ${digits} y`).toBe(true);
      const random = digitsFrom(MB, 7);
      expect(session.redactText(random) === random).toBe(true);
    });

    it('digits alternating with separators', () => {
      // Runs of 15 ones joined by single spaces: a phone number (15 digits) at a time; no
      // range of 13–19 ones passes Luhn.
      const phone = Array.from({ length: 15 }, () => '1').join(' ');
      const count = Math.floor(MB / (phone.length + 1));
      expect(session.redactText(Array(count).fill(phone).join(' '))).toBe(Array(count).fill(REDACTED).join(' '));
      const slashes = '1/'.repeat(MB / 2);
      expect(session.redactText(slashes) === slashes).toBe(true);
      const spaced = '12 - '.repeat(MB / 5);
      expect(session.redactText(spaced) === spaced).toBe(true);
    });

    it('long runs of a secret\'s prefix', () => {
      const prefix = CARD.slice(0, 15);
      // Each run is a piece of the card, bounded by letters.
      const pieces = `${prefix}x`.repeat(MB / 16);
      expect(session.redactText(pieces)).toBe(`${REDACTED}x`.repeat(MB / 16));
      // One run: the pieces are not whole tokens, the card at its end is there whole.
      const run = `9${prefix.repeat(MB / 16)}${CARD}9`;
      expect(session.redactText(run)).toBe(`9${prefix.repeat(MB / 16)}${REDACTED}9`);
      // A short secret's prefix.
      const sevens = '73'.repeat(MB / 2);
      expect(session.redactText(sevens) === sevens).toBe(true);
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
