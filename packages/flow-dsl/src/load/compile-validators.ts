/**
 * The ajv validators of the flow and config schemas, compiled at run time. The `callflow`
 * bin swaps this module for validators generated at build time (scripts/precompile-
 * validators.mjs), because compiling the schemas dominated the CLI's start-up.
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { ACTION_NAMES, type ActionName } from '@callflow/flow-core';
import { getConfigSchema, getFlowSchema } from '../schema/generated.js';

type Json = Record<string, unknown>;

/** The options both this module and the build-time generator compile with. */
export const AJV_OPTIONS = { allErrors: true, verbose: true, strict: false, validateFormats: false } as const;

/** What the loader validates with. */
export interface CompiledValidators {
  /** The flow's top level, with `states` left open (each state is checked on its own). */
  flowTop: ValidateFunction;
  /** One validator per action: a state holding that action. */
  states: Map<ActionName, ValidateFunction>;
  config: ValidateFunction;
  /** A validator for one branch of a union (resolved, `$defs` of the flow schema in scope). */
  branch(schema: Json): ValidateFunction;
}

function capitalise(s: string): string {
  return s[0]!.toUpperCase() + s.slice(1);
}

/** Compile every validator the loader needs. */
export function compileValidators(): CompiledValidators {
  const ajv = new Ajv2020(AJV_OPTIONS);
  const schema = structuredClone(getFlowSchema()) as Json;
  const defs = schema.$defs as Record<string, Json>;
  ajv.addSchema(schema, 'flow');
  const top = structuredClone(defs.Flow!) as Json;
  (top.properties as Record<string, Json>).states = { type: 'object' };
  const flowTop = ajv.compile({ $defs: defs, ...top });
  const states = new Map<ActionName, ValidateFunction>();
  for (const action of ACTION_NAMES) {
    states.set(action, ajv.compile({ $ref: `flow#/$defs/${capitalise(action)}State` }));
  }
  const config = ajv.compile(getConfigSchema());
  return { flowTop, states, config, branch: (branch) => ajv.compile({ $defs: defs, ...branch }) };
}
