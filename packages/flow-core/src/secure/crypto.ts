/**
 * Encryption of a session's secure slot in every persisted snapshot: AES-256-GCM through
 * node:crypto, with the key id stored beside the ciphertext so keys can be rotated (old
 * snapshots still open with the key they were sealed with while it is kept in the ring).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** A sealed value: what a snapshot stores instead of the clear text. */
export interface Sealed {
  /** Format version. */
  v: 1;
  /** Which key sealed it. */
  kid: string;
  /** base64 IV (12 bytes), ciphertext and GCM tag (16 bytes). */
  iv: string;
  ct: string;
  tag: string;
}

/** A typed failure to seal or open a secure slot; never carries the clear text. */
export class SecretsError extends Error {
  constructor(
    readonly code: 'SECRETS_NO_KEY' | 'SECRETS_BAD_KEY' | 'SECRETS_TAMPERED' | 'SECRETS_UNKNOWN_KEY',
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

/** A key ring from a map of key id → 32-byte key (Buffer, or base64/hex text). */
export function keyRing(keys: Record<string, Uint8Array | string>, current: string): SecretsProvider {
  const ring = new Map<string, Uint8Array>();
  for (const [id, k] of Object.entries(keys)) {
    const bytes = typeof k === 'string' ? decodeKey(k) : k;
    if (bytes.length !== 32) throw new SecretsError('SECRETS_BAD_KEY', `key '${id}' is ${bytes.length} bytes; AES-256 needs 32`);
    ring.set(id, bytes);
  }
  if (!ring.has(current)) throw new SecretsError('SECRETS_NO_KEY', `the current key id '${current}' is not in the key ring`);
  return { currentKeyId: () => current, key: (id) => ring.get(id) };
}

/** A key ring holding one fresh random key: the embedded default (snapshots do not outlive the process). */
export function ephemeralKeyRing(): SecretsProvider {
  return keyRing({ ephemeral: randomBytes(32) }, 'ephemeral');
}

function decodeKey(text: string): Uint8Array {
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  return Buffer.from(text, 'base64');
}

// IVs come from a pool of CSPRNG bytes, refilled 4 KiB at a time: one system call per ~340
// seals instead of one per seal (it showed in profiles of busy webhooks). Each IV is 96 fresh
// random bits, used once.
const IV_BYTES = 12;
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

/** Seal a JSON-able value with the current key. */
export function seal(value: unknown, secrets: SecretsProvider): Sealed {
  const kid = secrets.currentKeyId();
  const key = secrets.key(kid);
  if (!key) throw new SecretsError('SECRETS_NO_KEY', `no key for id '${kid}'`);
  const iv = nextIv();
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(`callflow:v1:${kid}`));
  const ct = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
  return { v: 1, kid, iv: iv.toString('base64'), ct: ct.toString('base64'), tag: cipher.getAuthTag().toString('base64') };
}

/** Open a sealed value; a wrong key or tampered bytes fail with a SecretsError (no clear text in it). */
export function open<T = unknown>(sealed: Sealed, secrets: SecretsProvider): T {
  const key = secrets.key(sealed.kid);
  if (!key) throw new SecretsError('SECRETS_UNKNOWN_KEY', `the snapshot was sealed with key '${sealed.kid}', which the key ring no longer holds`);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(sealed.iv, 'base64'));
    decipher.setAAD(Buffer.from(`callflow:v1:${sealed.kid}`));
    decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
    const clear = Buffer.concat([decipher.update(Buffer.from(sealed.ct, 'base64')), decipher.final()]).toString('utf8');
    return JSON.parse(clear) as T;
  } catch {
    throw new SecretsError('SECRETS_TAMPERED', 'the sealed secure slot could not be opened (wrong key or altered bytes)');
  }
}

/** Is this value a sealed slot? */
export function isSealed(value: unknown): value is Sealed {
  return (
    typeof value === 'object' && value !== null && (value as Sealed).v === 1 &&
    typeof (value as Sealed).kid === 'string' && typeof (value as Sealed).ct === 'string'
  );
}
