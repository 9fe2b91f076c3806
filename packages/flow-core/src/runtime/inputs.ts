/**
 * A flow's inputs checked against its declarations before a session starts: an agent's app or
 * an IVR handing in a missing, unknown or mistyped input hears about it at once (and no agent is
 * reserved), instead of the caller meeting the flow's error path later. The messages name the
 * flow, the input and the type, never the value (an input may be secure).
 */
import type { Flow } from '../model/flow.js';
import type { ValueTypeName } from '../model/primitives.js';
import { MAX_VALUE_DEPTH, nestsDeeperThan } from './value-depth.js';

const IS_TYPE: Record<ValueTypeName, (v: unknown) => boolean> = {
  string: (v) => typeof v === 'string',
  int: (v) => (typeof v === 'number' && Number.isInteger(v)) || typeof v === 'bigint',
  number: (v) => typeof v === 'number' && Number.isFinite(v),
  bool: (v) => typeof v === 'boolean',
  map: (v) => v !== null && typeof v === 'object' && !Array.isArray(v),
  list: (v) => Array.isArray(v),
};

/** What is wrong with these inputs for this flow (empty: nothing). */
export function inputProblems(flow: Flow, inputs: Readonly<Record<string, unknown>>): string[] {
  const declared = flow.inputs ?? {};
  const problems: string[] = [];
  for (const name of Object.keys(inputs)) {
    if (!Object.hasOwn(declared, name)) {
      const known = Object.keys(declared);
      problems.push(`${flow.flow}: no input named '${name}' (${known.length > 0 ? `inputs: ${known.join(', ')}` : 'it takes none'})`);
    }
  }
  for (const [name, d] of Object.entries(declared)) {
    const value = Object.hasOwn(inputs, name) ? inputs[name] : undefined;
    if (value === undefined || value === null) {
      if (d.required && d.default === undefined) problems.push(`${flow.flow}: the input '${name}' (${d.type}) is required`);
      continue;
    }
    if (!IS_TYPE[d.type](value)) problems.push(`${flow.flow}: the input '${name}' must be ${d.type === 'int' ? 'an' : 'a'} ${d.type}, not ${describe(value)}`);
    else if (nestsDeeperThan(value)) problems.push(`${flow.flow}: the input '${name}' nests lists and maps more than ${MAX_VALUE_DEPTH} levels deep`);
  }
  return problems;
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an int' : 'a number';
  return typeof value === 'object' ? 'a map' : `a ${typeof value === 'boolean' ? 'bool' : typeof value}`;
}
