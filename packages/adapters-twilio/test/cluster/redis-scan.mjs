/**
 * Reads back everything a run left in Redis — every key of its prefix, its value whatever its
 * type — and looks for secure values in clear text. Sealed values are base64 (AES-256-GCM), so
 * a short secret (a security code, an expiry, a one-time code) will turn up inside ciphertext by
 * chance; it counts only as a whole token (delimited by anything that is not a base64 or id
 * character: quotes, colons, spaces), which is how a clear value sits in JSON or text. Long
 * secrets (card numbers, phone numbers) count wherever their digits appear in a row, also
 * written with spaces or dashes between the digits.
 */

/** Long secrets are searched as digit runs; shorter ones as whole tokens. */
const LONG = 8;
const TOKEN_SPLIT = /[^A-Za-z0-9+/=_-]+/;

/** A set of secure values to look for. */
export class SecretIndex {
  constructor(values = []) {
    /** digits-only long secrets, by length */
    this.long = new Map();
    this.short = new Set();
    for (const v of values) this.add(v);
  }

  /**
   * Add a secure value (a card number, a phone number, a code, an expiry...). Values under three
   * characters are left out: as tokens they would match any small number in a record.
   */
  add(value) {
    const text = String(value);
    if (text.length < 3) return;
    const digits = text.replace(/[^\d]/g, '');
    if (digits.length >= LONG && /^[\d\s+()-]+$/.test(text)) {
      let set = this.long.get(digits.length);
      if (!set) this.long.set(digits.length, (set = new Set()));
      set.add(digits);
    } else if (text.length >= LONG) {
      // A long value that is not a number (a name): searched as a plain substring.
      let set = this.long.get('text');
      if (!set) this.long.set('text', (set = new Set()));
      set.add(text);
    } else {
      this.short.add(text);
    }
  }

  get size() {
    let n = this.short.size;
    for (const set of this.long.values()) n += set.size;
    return n;
  }

  /** The secure values found in clear text in `text` (each once). */
  find(text) {
    const found = new Set();
    for (const token of text.split(TOKEN_SPLIT)) if (this.short.has(token)) found.add(token);
    // Digits written with spaces or dashes between them count as one run.
    const joined = text.replace(/(\d)[ -](?=\d)/g, '$1');
    for (const run of joined.match(/\d{8,}/g) ?? []) {
      for (const [length, set] of this.long) {
        if (length === 'text' || run.length < length) continue;
        for (let at = 0; at + length <= run.length; at++) {
          const piece = run.slice(at, at + length);
          if (set.has(piece)) found.add(piece);
        }
      }
    }
    for (const value of this.long.get('text') ?? []) if (text.includes(value)) found.add(value);
    return [...found];
  }
}

/**
 * Every key of the prefix with its value as text (`key`, `type`, `text`), a batch at a time:
 * SCAN, never KEYS; values read in pipelines.
 * @param {import('ioredis').Redis} redis
 * @param {string} prefix
 * @param {(entry: { key: string; type: string; text: string }) => void} visit
 * @returns {Promise<number>} how many keys
 */
export async function forEachKey(redis, prefix, visit) {
  let cursor = '0';
  let count = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length === 0) continue;
    const types = (await redis.pipeline(keys.map((k) => ['type', k])).exec()).map(([, t]) => t);
    const reads = keys.map((k, i) => {
      switch (types[i]) {
        case 'string':
          return ['get', k];
        case 'hash':
          return ['hgetall', k];
        case 'list':
          return ['lrange', k, '0', '-1'];
        case 'set':
          return ['smembers', k];
        case 'zset':
          return ['zrange', k, '0', '-1', 'WITHSCORES'];
        case 'stream':
          return ['xrange', k, '-', '+'];
        default:
          return ['exists', k];
      }
    });
    const values = await redis.pipeline(reads).exec();
    keys.forEach((key, i) => {
      const value = values[i][1];
      const text = typeof value === 'string' ? value : JSON.stringify(value ?? null);
      count++;
      visit({ key, type: types[i], text });
    });
  } while (cursor !== '0');
  return count;
}

/**
 * Scan every key of the prefix (names and values) for the secrets: the hits, as
 * `{ key, secret }` (the secret itself, for the test's own message; never print it in a report).
 */
export async function findClearSecrets(redis, prefix, secrets) {
  const index = secrets instanceof SecretIndex ? secrets : new SecretIndex(secrets);
  const hits = [];
  const keys = await forEachKey(redis, prefix, ({ key, text }) => {
    for (const secret of index.find(`${key}\n${text}`)) hits.push({ key, secret });
  });
  return { keys, hits };
}

/** Delete every key of the prefix (SCAN + UNLINK in batches). */
export async function deletePrefix(redis, prefix) {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}
