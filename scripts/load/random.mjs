// Seeded randomness for the load test: every call draws from its own generator, seeded by the
// run's seed, its slot and its number, so a call takes the same path in every run with the same
// seed whatever the timing of the others (only the one-time codes, made by the runtime, differ).
import { createHash } from 'node:crypto';

/** A small, fast PRNG (sfc32) seeded from text; `next()` in [0, 1). */
export class Random {
  constructor(seedText) {
    const h = createHash('sha256').update(String(seedText)).digest();
    this.a = h.readUInt32LE(0);
    this.b = h.readUInt32LE(4);
    this.c = h.readUInt32LE(8);
    this.d = h.readUInt32LE(12);
  }

  next() {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return (t >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min, max) {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** One of the items. */
  pick(items) {
    return items[Math.floor(this.next() * items.length)];
  }

  /** `n` random decimal digits. */
  digits(n) {
    let out = '';
    for (let i = 0; i < n; i++) out += String(this.int(0, 9));
    return out;
  }

  /** One of the keys of `weights` (`{ a: 3, b: 1 }`), in proportion. */
  weighted(weights) {
    const entries = Object.entries(weights);
    let r = this.next() * entries.reduce((s, [, w]) => s + w, 0);
    for (const [key, w] of entries) {
      r -= w;
      if (r < 0) return key;
    }
    return entries[entries.length - 1][0];
  }
}

/** The Luhn check digit that makes `body` + digit valid. */
export function luhnDigit(body) {
  let sum = 0;
  for (let i = 0; i < body.length; i++) {
    let d = Number(body[body.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return String((10 - (sum % 10)) % 10);
}
