/**
 * Encryption of a session's secure slot in every persisted snapshot: AES-256-GCM through
 * node:crypto, with the key id stored beside the ciphertext so keys can be rotated (old
 * snapshots still open with the key they were sealed with while it is kept in the ring).
 *
 * A sealed value is bound to its owner: the key id and the owner's identity (`session:<id>`,
 * `replay:<id>`, `call:<CallSid>`) are the GCM additional authenticated data, so ciphertext
 * moved to another record does not open there. The tag is always 16 bytes, the IV 12, the key 32.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

// The sealed format this version writes and opens (2: bound to its owner; 1 was not, and is refused).
const SEALED_FORMAT = 2;

/** A sealed value: what a snapshot stores instead of the clear text. */
export interface Sealed {
  /** Format version (2: the owner's identity is authenticated with the ciphertext). */
  v: 2;
  /** Which key sealed it. */
  kid: string;
  /** base64 IV (12 bytes), ciphertext and GCM tag (16 bytes). */
  iv: string;
  ct: string;
  tag: string;
}

/** The codes of `SecretsError`. */
export type SecretsErrorCode =
  | 'SECRETS_NO_KEY'
  | 'SECRETS_BAD_KEY'
  | 'SECRETS_TAMPERED'
  | 'SECRETS_UNKNOWN_KEY'
  | 'SECRETS_UNSUPPORTED_FORMAT'
  | 'SECRETS_NO_CONTEXT';

/** A typed failure to seal or open a secure slot, or an unusable key; never carries the clear text or a key. */
export class SecretsError extends Error {
  constructor(
    readonly code: SecretsErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'SecretsError';
  }
}

/** The secrets port: the host hands the runtime its keys. */
export interface SecretsProvider {
  /** The key id new snapshots are sealed with. */
  currentKeyId(): string;
  /** The 32-byte key of an id, or undefined when it is not (or no longer) known. */
  key(id: string): Uint8Array | undefined;
}

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * A key ring from a map of key id → 32-byte key: bytes, or text of 64 hex digits or base64
 * (standard or URL alphabet). Any other key is refused with `SECRETS_BAD_KEY`, naming the id
 * and what is wrong with it (never the key).
 */
export function keyRing(keys: Record<string, Uint8Array | string>, current: string): SecretsProvider {
  const ring = new Map<string, Uint8Array>();
  for (const [id, k] of Object.entries(keys)) ring.set(id, checkKey(id, typeof k === 'string' ? decodeKey(id, k) : k));
  if (!ring.has(current)) throw new SecretsError('SECRETS_NO_KEY', `the current key id '${current}' is not in the key ring`);
  return { currentKeyId: () => current, key: (id) => ring.get(id) };
}

/** A key ring holding one fresh random key: the embedded default (snapshots do not outlive the process). */
export function ephemeralKeyRing(): SecretsProvider {
  return keyRing({ ephemeral: randomBytes(KEY_BYTES) }, 'ephemeral');
}

/**
 * Check a provider's current key once (at start-up): a missing key, or one that is not 32
 * bytes, fails here with a `SecretsError` naming the key id and the length rather than on the
 * first call that needs sealing.
 */
export function checkSecrets(secrets: SecretsProvider): void {
  const kid = secrets.currentKeyId();
  const key = secrets.key(kid);
  if (key === undefined) throw new SecretsError('SECRETS_NO_KEY', `no key for the current key id '${kid}'`);
  checkKey(kid, key);
}

function checkKey(id: string, key: unknown): Uint8Array {
  if (!(key instanceof Uint8Array)) {
    throw new SecretsError('SECRETS_BAD_KEY', `key '${id}' is ${key === undefined || key === null ? 'missing' : `a ${typeof key}`}; AES-256 needs 32 bytes`);
  }
  if (key.length !== KEY_BYTES) throw new SecretsError('SECRETS_BAD_KEY', `key '${id}' is ${key.length} bytes; AES-256 needs ${KEY_BYTES}`);
  return key;
}

function decodeKey(id: string, raw: string): Uint8Array {
  // Read from a file or an environment variable, a key often ends with a newline.
  const text = raw.trim();
  if (text.length % 2 === 0 && /^[0-9a-fA-F]+$/.test(text)) return Buffer.from(text, 'hex');
  // Strict: node's decoder skips characters it does not know, which would turn a typo into another key.
  if (/^[A-Za-z0-9+/]*={0,2}$/.test(text) || /^[A-Za-z0-9_-]*={0,2}$/.test(text)) return Buffer.from(text, 'base64');
  throw new SecretsError('SECRETS_BAD_KEY', `key '${id}' is text that is neither hex nor base64; give 32 bytes as 64 hex digits or base64`);
}

// IVs come from a pool of CSPRNG bytes, refilled 4 KiB at a time: one system call per ~340
// seals instead of one per seal (it showed in profiles of busy webhooks). Each IV is 96 fresh
// random bits, used once.
const POOL_BYTES = IV_BYTES * 341;
let ivPool = Buffer.alloc(0);
let ivOffset = POOL_BYTES;

function nextIv(): Buffer {
  if (ivOffset + IV_BYTES > ivPool.length) {
    ivPool = randomBytes(POOL_BYTES);
    ivOffset = 0;
  }
  const iv = Buffer.from(ivPool.subarray(ivOffset, ivOffset + IV_BYTES));
  // Never reuse: the bytes handed out are zeroed in the pool.
  ivPool.fill(0, ivOffset, ivOffset + IV_BYTES);
  ivOffset += IV_BYTES;
  return iv;
}

/** The additional authenticated data: the format, the key id (length-prefixed: no two pairs read alike) and the owner. */
function aad(kid: string, context: string): Buffer {
  return Buffer.from(`callflow:v2:${kid.length}:${kid}:${context}`);
}

function checkContext(context: unknown): asserts context is string {
  if (typeof context !== 'string' || context === '') {
    throw new SecretsError('SECRETS_NO_CONTEXT', 'a sealed value needs the identity of its owner (e.g. `session:<id>`)');
  }
}

/**
 * Seal a JSON-able value with the current key, bound to `context`: the identity of its owner
 * (`session:<id>`, `replay:<id>`, `call:<CallSid>`). It opens only with the same context.
 */
export function seal(value: unknown, secrets: SecretsProvider, context: string): Sealed {
  checkContext(context);
  const kid = secrets.currentKeyId();
  const key = secrets.key(kid);
  if (!key) throw new SecretsError('SECRETS_NO_KEY', `no key for id '${kid}'`);
  checkKey(kid, key);
  const iv = nextIv();
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad(kid, context));
  const ct = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
  return { v: SEALED_FORMAT, kid, iv: iv.toString('base64'), ct: ct.toString('base64'), tag: cipher.getAuthTag().toString('base64') };
}

/**
 * Open a sealed value for the owner `context` it was sealed for. Another owner's value,
 * altered bytes, a tag that is not 16 bytes, a wrong key or the format before owners were bound
 * (v1) fail with a `SecretsError` (no clear text in it).
 */
export function open<T = unknown>(sealed: Sealed, secrets: SecretsProvider, context: string): T {
  checkContext(context);
  const v = (sealed as { v?: unknown }).v;
  if (v !== SEALED_FORMAT) {
    throw new SecretsError(
      'SECRETS_UNSUPPORTED_FORMAT',
      v === 1
        ? 'the value was sealed in format v1, before sealed values were bound to their owner; this version refuses it'
        : `the value is not sealed in format v${SEALED_FORMAT}`,
    );
  }
  const key = secrets.key(sealed.kid);
  if (!key) throw new SecretsError('SECRETS_UNKNOWN_KEY', `the snapshot was sealed with key '${sealed.kid}', which the key ring no longer holds`);
  checkKey(sealed.kid, key);
  if (typeof sealed.iv !== 'string' || typeof sealed.tag !== 'string' || typeof sealed.ct !== 'string') throw tampered();
  const iv = Buffer.from(sealed.iv, 'base64');
  const tag = Buffer.from(sealed.tag, 'base64');
  // GCM accepts shorter tags, and any IV length; a shorter tag is easier to forge: only ours open.
  if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw tampered();
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad(sealed.kid, context));
    decipher.setAuthTag(tag);
    const clear = Buffer.concat([decipher.update(Buffer.from(sealed.ct, 'base64')), decipher.final()]).toString('utf8');
    return JSON.parse(clear) as T;
  } catch {
    throw tampered();
  }
}

function tampered(): SecretsError {
  return new SecretsError('SECRETS_TAMPERED', 'the sealed value could not be opened (sealed for another owner, altered bytes, or a wrong key)');
}

/** Is this value sealed in the current format (`open` still checks it belongs to the owner)? */
export function isSealed(value: unknown): value is Sealed {
  return (
    typeof value === 'object' && value !== null && (value as Sealed).v === SEALED_FORMAT &&
    typeof (value as Sealed).kid === 'string' && typeof (value as Sealed).iv === 'string' &&
    typeof (value as Sealed).ct === 'string' && typeof (value as Sealed).tag === 'string'
  );
}
