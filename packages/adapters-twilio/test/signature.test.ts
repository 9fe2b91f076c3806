/**
 * The signature check: the URL exactly as Twilio called it is tried first (one HMAC), and only
 * then the other forms `twilio.validateRequest` accepts (default port added or removed).
 */
import twilio from 'twilio';
import { describe, expect, it } from 'vitest';
import { signatureValid } from '../src/http.js';

const TOKEN = 'test-auth-token-0123456789abcdef';
const params = { CallSid: 'CA00000000000000000000000000000001', From: '+15555551001', To: '+15555550100', Digits: '1' };

describe('signatureValid', () => {
  it('accepts a request signed for the exact URL, with an explicit port too', () => {
    for (const url of ['https://ivr.example.com/twilio/voice/s/2', 'http://127.0.0.1:8080/twilio/voice/s/2']) {
      expect(signatureValid(TOKEN, twilio.getExpectedTwilioSignature(TOKEN, url, params), url, params)).toBe(true);
    }
  });

  it('still accepts the forms validateRequest accepts: Twilio signed without the default port', () => {
    const signed = twilio.getExpectedTwilioSignature(TOKEN, 'https://ivr.example.com/twilio/voice/s/2', params);
    expect(signatureValid(TOKEN, signed, 'https://ivr.example.com:443/twilio/voice/s/2', params)).toBe(true);
  });

  it('refuses a signature of other params, another URL, another token, a truncated one, none', () => {
    const url = 'https://ivr.example.com/twilio/voice/s/2';
    const good = twilio.getExpectedTwilioSignature(TOKEN, url, params);
    expect(signatureValid(TOKEN, good, url, { ...params, Digits: '2' })).toBe(false);
    expect(signatureValid(TOKEN, good, 'https://ivr.example.com/twilio/voice/s/3', params)).toBe(false);
    expect(signatureValid('another-token', good, url, params)).toBe(false);
    expect(signatureValid(TOKEN, good.slice(0, -2), url, params)).toBe(false);
    expect(signatureValid(TOKEN, undefined, url, params)).toBe(false);
    expect(signatureValid(TOKEN, '', url, params)).toBe(false);
  });
});
