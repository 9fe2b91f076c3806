/**
 * Abuse monitoring: counts failures per caller in a sliding window and raises an alert
 * when they pile up (repeated failed authentication, repeated failed lookups from one
 * number). The caller is counted under a hash; the alert names no number.
 */
import { createHash } from 'node:crypto';
import type { Clock } from './clock.js';

/** When to alert. */
export interface AlertPolicy {
  /** Failures of one kind from one caller within the window that raise an alert (default 3). */
  threshold: number;
  windowMs: number;
}

/** The default: 3 failures in 10 minutes. */
export const DEFAULT_ALERT_POLICY: AlertPolicy = { threshold: 3, windowMs: 10 * 60_000 };

/** Counts failures per (kind, caller). */
export class AbuseMonitor {
  private readonly seen = new Map<string, number[]>();

  constructor(
    private readonly clock: Clock,
    private readonly policy: AlertPolicy = DEFAULT_ALERT_POLICY,
  ) {}

  /** Record a failure; the count when it reaches the threshold (alert once per crossing), else undefined. */
  record(kind: string, caller: string | undefined): number | undefined {
    if (!caller) return undefined;
    const key = `${kind}:${createHash('sha256').update(caller).digest('base64url').slice(0, 24)}`;
    const now = this.clock.now();
    const list = (this.seen.get(key) ?? []).filter((t) => t > now - this.policy.windowMs);
    list.push(now);
    this.seen.set(key, list);
    if (this.seen.size > 100_000) this.prune(now);
    return list.length >= this.policy.threshold ? list.length : undefined;
  }

  private prune(now: number): void {
    for (const [k, list] of this.seen) if (!list.some((t) => t > now - this.policy.windowMs)) this.seen.delete(k);
  }
}
