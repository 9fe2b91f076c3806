/**
 * Durations as the flow language writes them: `500ms`, `8s`, `2m`, `1h`, or a number of seconds.
 */

/** A duration in milliseconds; throws a RangeError on text that is not a duration. */
export function parseDuration(spec: string | number): number {
  if (typeof spec === 'number') {
    if (!Number.isFinite(spec) || spec < 0) throw new RangeError(`not a duration: ${spec}`);
    return Math.round(spec * 1000);
  }
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(spec.trim());
  if (!m) throw new RangeError(`not a duration: '${spec}' (write 500ms, 8s, 2m, 1h or a number of seconds)`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000;
  return Math.round(n * factor);
}
