/**
 * Naming a group of states in a message (a loop, a handler): the first few names in
 * document order, then `…`, so a 100,000-state loop still gets a one-line message.
 */
import type { StateGraph } from '../../analysis.js';

/** How many names a message lists before `…`. */
export const MAX_LISTED_STATES = 6;

/** `ask, retry, check` or `s0, s1, s2, s3, s4, s5, … (100000 states)`. */
export function listStates(graph: StateGraph, members: readonly number[]): string {
  const shown = members.slice(0, MAX_LISTED_STATES).map((i) => graph.names[i]!);
  if (members.length <= MAX_LISTED_STATES) return shown.join(', ');
  return `${shown.join(', ')}, … (${members.length} states)`;
}
