/**
 * One-time codes for `authenticate`: generated with a CSPRNG, kept only as a salted hash
 * (in the sealed slot), compared in constant time, with a lock-out per destination number
 * after repeated failures — across sessions, so calling again does not reset the count.
 */
import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import { systemClock, type Clock } from '../runtime/clock.js';

/** A fresh numeric code of `digits` digits. */
export function generateCode(digits: number): string {
  let code = '';
  for (let i = 0; i < digits; i++) code += String(randomInt(0, 10));
  return code;
}

/** A salted hash of a code. */
export function hashCode(code: string, salt = randomBytes(16).toString('base64')): { hash: string; salt: string } {
  return { hash: createHash('sha256').update(salt).update(code).digest('base64'), salt };
}

/** Does `attempt` match the hashed code? (constant time) */
export function codeMatches(attempt: string, hash: string, salt: string): boolean {
  const a = Buffer.from(hashCode(attempt, salt).hash, 'base64');
  const b = Buffer.from(hash, 'base64');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Lock-out policy. */
export interface LockoutPolicy {
  /** Failures within the window that lock the destination out (default 5). */
  maxFailures: number;
  /** The window failures are counted in, ms (default 15 min). */
  windowMs: number;
  /** How long a lock-out lasts, ms (default 15 min). */
  lockoutMs: number;
}

/** The default lock-out policy. */
export const DEFAULT_LOCKOUT: LockoutPolicy = { maxFailures: 5, windowMs: 15 * 60_000, lockoutMs: 15 * 60_000 };

/** Where failure counts and lock-outs live (per destination key, e.g. a hashed phone number). */
export interface LockoutStore {
  /** Record a failure; returns the failures in the window and whether the key is now locked. */
  recordFailure(key: string, policy: LockoutPolicy): Promise<{ failures: number; locked: boolean }>;
  isLocked(key: string): Promise<boolean>;
  reset(key: string): Promise<void>;
}

/** The embedded default lock-out store. */
export class MemoryLockoutStore implements LockoutStore {
  private readonly failures = new Map<string, number[]>();
  private readonly lockedUntil = new Map<string, number>();

  constructor(private readonly clock: Clock = systemClock) {}

  async recordFailure(key: string, policy: LockoutPolicy): Promise<{ failures: number; locked: boolean }> {
    const now = this.clock.now();
    const list = (this.failures.get(key) ?? []).filter((t) => t > now - policy.windowMs);
    list.push(now);
    this.failures.set(key, list);
    if (list.length >= policy.maxFailures) {
      this.lockedUntil.set(key, now + policy.lockoutMs);
      this.failures.delete(key);
      return { failures: list.length, locked: true };
    }
    return { failures: list.length, locked: false };
  }

  async isLocked(key: string): Promise<boolean> {
    const until = this.lockedUntil.get(key);
    if (until === undefined) return false;
    if (until <= this.clock.now()) {
      this.lockedUntil.delete(key);
      return false;
    }
    return true;
  }

  async reset(key: string): Promise<void> {
    this.failures.delete(key);
  }
}

/** The key a destination number is counted under: a hash, so the store never holds the number. */
export function lockoutKey(destination: string): string {
  return `otp:${createHash('sha256').update(destination.replace(/[^\d+]/g, '')).digest('base64url').slice(0, 32)}`;
}
