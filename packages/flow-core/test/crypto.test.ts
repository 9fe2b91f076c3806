import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SecretsError, checkSecrets, ephemeralKeyRing, isSealed, keyRing, open, seal, type Sealed, type SecretsProvider } from '../src/secure/crypto.js';

const A = 'session:A';
const B = 'session:B';

/** What `open` throws, for asserting on its code and message. */
function refusal(fn: () => unknown): SecretsError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(SecretsError);
    return error as SecretsError;
  }
  throw new Error('expected a SecretsError');
}

/** Flip one bit of a base64 field. */
function flipped(text: string, at = 0): string {
  const bytes = Buffer.from(text, 'base64');
  bytes[at] = bytes[at]! ^ 0x01;
  return bytes.toString('base64');
}

describe('sealing the secure slot', () => {
  const k1 = randomBytes(32);
  const k2 = randomBytes(32);

  it('round-trips a value and never shows the clear text', () => {
    const ring = keyRing({ k1 }, 'k1');
    const sealed = seal({ cardNumber: '4916338506082832' }, ring, A);
    expect(isSealed(sealed)).toBe(true);
    expect(sealed.v).toBe(2);
    expect((JSON.stringify(sealed)).includes('4916'), 'must not be there').toBe(false);
    expect(sealed.kid).toBe('k1');
    expect(open(sealed, ring, A)).toEqual({ cardNumber: '4916338506082832' });
  });

  it('opens snapshots sealed with an older key after rotation', () => {
    const old = seal('x', keyRing({ k1 }, 'k1'), A);
    const rotated = keyRing({ k1, k2 }, 'k2');
    expect(open(old, rotated, A)).toBe('x');
    expect(seal('y', rotated, A).kid).toBe('k2');
  });

  it('refuses altered bytes and unknown keys with a typed error', () => {
    const ring = keyRing({ k1 }, 'k1');
    const sealed = seal('secret', ring, A);
    const tampered = { ...sealed, ct: Buffer.from('garbage').toString('base64') };
    expect(refusal(() => open(tampered, ring, A)).code).toBe('SECRETS_TAMPERED');
    expect(() => open(sealed, keyRing({ k2 }, 'k2'), A)).toThrow(/no longer holds/);
  });

  it('refuses a flipped bit in the ciphertext, the tag or the IV', () => {
    const ring = keyRing({ k1 }, 'k1');
    const sealed = seal({ cvv: '737' }, ring, A);
    for (const field of ['ct', 'tag', 'iv'] as const) {
      const error = refusal(() => open({ ...sealed, [field]: flipped(sealed[field]) }, ring, A));
      expect(error.code, field).toBe('SECRETS_TAMPERED');
      expect((error.message).includes('737'), 'must not be there').toBe(false);
    }
  });

  it('refuses a value whose key id was changed to another key of the ring', () => {
    const ring = keyRing({ k1, k2 }, 'k1');
    const sealed = seal('secret', ring, A);
    expect(refusal(() => open({ ...sealed, kid: 'k2' }, ring, A)).code).toBe('SECRETS_TAMPERED');
  });
});

describe('binding a sealed value to its owner', () => {
  const ring = keyRing({ k1: randomBytes(32) }, 'k1');

  it("does not open one session's slot for another session", () => {
    const sealed = seal({ cardNumber: '4916338506082832' }, ring, A);
    const error = refusal(() => open(sealed, ring, B));
    expect(error.code).toBe('SECRETS_TAMPERED');
    expect((error.message).includes('4916'), 'must not be there').toBe(false);
  });

  it('tells a session slot, a replay and a call entry apart for the same id', () => {
    const sealed = seal('hello', ring, 'session:CA1');
    expect(() => open(sealed, ring, 'replay:CA1')).toThrow(SecretsError);
    expect(() => open(sealed, ring, 'call:CA1')).toThrow(SecretsError);
    expect(open(sealed, ring, 'session:CA1')).toBe('hello');
  });

  it('refuses to seal or open without an owner', () => {
    expect(refusal(() => seal('x', ring, '')).code).toBe('SECRETS_NO_CONTEXT');
    const sealed = seal('x', ring, A);
    expect(refusal(() => (open as (s: Sealed, r: SecretsProvider) => unknown)(sealed, ring)).code).toBe('SECRETS_NO_CONTEXT');
  });

  it('refuses the format before owners were bound (v1), even with the right key', () => {
    const key = Buffer.alloc(32, 5);
    const v1Ring = keyRing({ k1: key }, 'k1');
    // Sealed as version 1 did: the key id alone in the additional data.
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from('callflow:v1:k1'));
    const ct = Buffer.concat([cipher.update(JSON.stringify({ cvv: '737' }), 'utf8'), cipher.final()]);
    const v1 = { v: 1, kid: 'k1', iv: iv.toString('base64'), ct: ct.toString('base64'), tag: cipher.getAuthTag().toString('base64') };
    expect(isSealed(v1)).toBe(false);
    const error = refusal(() => open(v1 as unknown as Sealed, v1Ring, A));
    expect(error.code).toBe('SECRETS_UNSUPPORTED_FORMAT');
    expect(error.message).toMatch(/v1/);
  });
});

describe('the GCM tag', () => {
  const ring = keyRing({ k1: randomBytes(32) }, 'k1');

  it('is 16 bytes', () => {
    expect(Buffer.from(seal('x', ring, A).tag, 'base64')).toHaveLength(16);
  });

  it('refuses a truncated tag, which GCM alone would check on its first bytes only', () => {
    const sealed = seal({ cardNumber: '4916338506082832' }, ring, A);
    for (const bytes of [4, 8, 12, 15]) {
      const short = Buffer.from(sealed.tag, 'base64').subarray(0, bytes).toString('base64');
      const error = refusal(() => open({ ...sealed, tag: short }, ring, A));
      expect(error.code, `${bytes} bytes`).toBe('SECRETS_TAMPERED');
    }
  });

  it('refuses a tag longer than 16 bytes', () => {
    const sealed = seal('x', ring, A);
    const long = Buffer.concat([Buffer.from(sealed.tag, 'base64'), Buffer.alloc(1)]).toString('base64');
    expect(refusal(() => open({ ...sealed, tag: long }, ring, A)).code).toBe('SECRETS_TAMPERED');
  });
});

describe('keys', () => {
  it('rejects keys that are not 32 bytes, naming the key id and the length', () => {
    expect(() => keyRing({ short: randomBytes(16) }, 'short')).toThrow("key 'short' is 16 bytes; AES-256 needs 32");
    expect(() => keyRing({ long: randomBytes(33) }, 'long')).toThrow(/33 bytes/);
  });

  it('reads 64 hex digits and base64 (standard or URL alphabet, a trailing newline allowed)', () => {
    const key = randomBytes(32);
    for (const text of [key.toString('hex'), key.toString('base64'), key.toString('base64url'), `${key.toString('base64')}\n`]) {
      const ring = keyRing({ k: text }, 'k');
      expect(Buffer.from(ring.key('k')!)).toEqual(key);
    }
  });

  it('rejects text that decodes to the wrong length, naming the length and never the key', () => {
    const hex = randomBytes(31).toString('hex');
    const error = refusal(() => keyRing({ k1: hex }, 'k1'));
    expect(error.code).toBe('SECRETS_BAD_KEY');
    expect(error.message).toBe("key 'k1' is 31 bytes; AES-256 needs 32");
    const b64 = randomBytes(24).toString('base64');
    expect(refusal(() => keyRing({ k1: b64 }, 'k1')).message).toBe("key 'k1' is 24 bytes; AES-256 needs 32");
    expect(refusal(() => keyRing({ k1: '' }, 'k1')).message).toMatch(/0 bytes/);
  });

  it('rejects text that is neither hex nor base64, even when it would decode to 32 bytes', () => {
    // node's base64 decoder skips the '!': 32 bytes, but not the key that was meant.
    const text = `${randomBytes(32).toString('base64').slice(0, 20)}!${randomBytes(32).toString('base64').slice(20)}`;
    const error = refusal(() => keyRing({ k1: text }, 'k1'));
    expect(error.code).toBe('SECRETS_BAD_KEY');
    expect(error.message).toMatch(/key 'k1' is text that is neither hex nor base64/);
    expect((error.message).includes(text.slice(0, 8)), 'must not be there').toBe(false);
  });

  it('rejects a key that is missing (an unset environment variable)', () => {
    const keys = { k1: undefined } as unknown as Record<string, string>;
    expect(refusal(() => keyRing(keys, 'k1')).message).toBe("key 'k1' is missing; AES-256 needs 32 bytes");
  });

  it("checks a provider's current key: present and 32 bytes", () => {
    const provider = (key: Uint8Array | undefined): SecretsProvider => ({ currentKeyId: () => 'vault-7', key: () => key });
    expect(() => checkSecrets(provider(randomBytes(32)))).not.toThrow();
    const short = refusal(() => checkSecrets(provider(Buffer.alloc(24, 0xab))));
    expect(short.code).toBe('SECRETS_BAD_KEY');
    expect(short.message).toBe("key 'vault-7' is 24 bytes; AES-256 needs 32");
    expect(short.message).not.toMatch(/ab|171/i);
    expect(refusal(() => checkSecrets(provider(undefined))).code).toBe('SECRETS_NO_KEY');
  });

  it('refuses to seal or open with a provider key of the wrong length', () => {
    const good = keyRing({ k: randomBytes(32) }, 'k');
    const sealed = seal('x', good, A);
    const bad: SecretsProvider = { currentKeyId: () => 'k', key: () => randomBytes(16) };
    expect(refusal(() => seal('x', bad, A)).code).toBe('SECRETS_BAD_KEY');
    expect(refusal(() => open(sealed, bad, A)).code).toBe('SECRETS_BAD_KEY');
  });

  it('gives each seal a fresh IV, across refills of the IV pool', () => {
    const ring = ephemeralKeyRing();
    const ivs = new Set(Array.from({ length: 2000 }, () => seal('a', ring, A).iv));
    expect(ivs.size).toBe(2000);
  });
});
