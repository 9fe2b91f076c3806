/** A latency histogram in fixed memory (see histogram.mjs). */
export interface HistogramData {
  counts: number[];
  count: number;
  sum: number;
  max: number;
}
export declare class LatencyHistogram {
  readonly count: number;
  readonly max: number;
  readonly mean: number;
  record(ms: number): void;
  percentile(p: number): number;
  toJSON(): HistogramData;
  merge(other: HistogramData | LatencyHistogram): this;
}
