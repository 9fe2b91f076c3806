import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SecretsError, ephemeralKeyRing, isSealed, keyRing, open, seal } from '../src/secure/crypto.js';

describe('sealing the secure slot', () => {
  const k1 = randomBytes(32);
  const k2 = randomBytes(32);

  it('round-trips a value and never shows the clear text', () => {
    const ring = keyRing({ k1 }, 'k1');
    const sealed = seal({ cardNumber: '4916338506082832' }, ring);
    expect(isSealed(sealed)).toBe(true);
    expect(JSON.stringify(sealed)).not.toContain('4916');
    expect(sealed.kid).toBe('k1');
    expect(open(sealed, ring)).toEqual({ cardNumber: '4916338506082832' });
  });

  it('opens snapshots sealed with an older key after rotation', () => {
    const old = seal('x', keyRing({ k1 }, 'k1'));
    const rotated = keyRing({ k1, k2 }, 'k2');
    expect(open(old, rotated)).toBe('x');
    expect(seal('y', rotated).kid).toBe('k2');
  });

  it('refuses altered bytes and unknown keys with a typed error', () => {
    const ring = keyRing({ k1 }, 'k1');
    const sealed = seal('secret', ring);
    const tampered = { ...sealed, ct: Buffer.from('garbage').toString('base64') };
    expect(() => open(tampered, ring)).toThrow(SecretsError);
    expect(() => open(sealed, keyRing({ k2 }, 'k2'))).toThrow(/no longer holds/);
  });

  it('rejects keys that are not 32 bytes', () => {
    expect(() => keyRing({ short: randomBytes(16) }, 'short')).toThrow(/32/);
  });

  it('gives each seal a fresh IV, across refills of the IV pool', () => {
    const ring = ephemeralKeyRing();
    const ivs = new Set(Array.from({ length: 2000 }, () => seal('a', ring).iv));
    expect(ivs.size).toBe(2000);
  });
});
