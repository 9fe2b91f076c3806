/**
 * A latency histogram in fixed memory: log-spaced buckets (about 2% wide) from 10 µs to 10
 * minutes, so that p50 and p99 of millions of turns cost a few kilobytes, never an array of every
 * latency. Histograms of several processes add up bucket by bucket (`merge`).
 */
const MIN_MS = 0.01;
const GROWTH = 1.02;
const BUCKETS = Math.ceil(Math.log((10 * 60_000) / MIN_MS) / Math.log(GROWTH)) + 1;

export class LatencyHistogram {
  constructor() {
    this.counts = new Array(BUCKETS).fill(0);
    this.count = 0;
    this.sum = 0;
    this.max = 0;
  }

  /** Record one latency, ms. */
  record(ms) {
    const value = Math.max(ms, MIN_MS);
    const at = Math.min(BUCKETS - 1, Math.floor(Math.log(value / MIN_MS) / Math.log(GROWTH)));
    this.counts[at]++;
    this.count++;
    this.sum += ms;
    if (ms > this.max) this.max = ms;
  }

  /** The latency under which `p` percent of the recorded ones fall, ms (a bucket's upper edge). */
  percentile(p) {
    if (this.count === 0) return 0;
    const rank = Math.ceil((p / 100) * this.count);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.min(this.max, MIN_MS * GROWTH ** (i + 1));
    }
    return this.max;
  }

  get mean() {
    return this.count === 0 ? 0 : this.sum / this.count;
  }

  /** A plain object to send between processes. */
  toJSON() {
    return { counts: this.counts, count: this.count, sum: this.sum, max: this.max };
  }

  /** Add another histogram (or its `toJSON()`) into this one. */
  merge(other) {
    for (let i = 0; i < BUCKETS; i++) this.counts[i] += other.counts[i] ?? 0;
    this.count += other.count;
    this.sum += other.sum;
    this.max = Math.max(this.max, other.max);
    return this;
  }
}
