/**
 * How deep the lists and maps handed into the runtime may nest: flow inputs and data action
 * outputs. Everything downstream — CEL values, redaction, the stored session's JSON — walks
 * them recursively, so a value nested thousands deep would overflow the stack mid-turn.
 */

/** Lists and maps inside each other, at most this many levels (a lookup's answer needs a few). */
export const MAX_VALUE_DEPTH = 32;

/** Does `value` nest lists or maps more than `max` levels deep? Iterative, and stops at the first too deep. */
export function nestsDeeperThan(value: unknown, max: number = MAX_VALUE_DEPTH): boolean {
  const pending: [unknown, number][] = [[value, 0]];
  while (pending.length > 0) {
    const [v, depth] = pending.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth >= max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) pending.push([child, depth + 1]);
  }
  return false;
}
