/**
 * JSON Schema generated from the zod model, never written by hand. flow-dsl ships it as
 * `schema/flow.schema.json` for editors and validates flow files against it with ajv.
 */
import { z } from 'zod';
import { ConfigSchema, FlowSchema } from './flow.js';

/** JSON Schema (draft 2020-12) of a flow file. */
export function flowJsonSchema(): Record<string, unknown> {
  return generate(FlowSchema, 'https://callflow.dev/schema/flow.schema.json');
}

/** JSON Schema (draft 2020-12) of `callflow.config.yaml`. */
export function configJsonSchema(): Record<string, unknown> {
  return generate(ConfigSchema, 'https://callflow.dev/schema/config.schema.json');
}

function generate(schema: z.ZodType, id: string): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { target: 'draft-2020-12', unrepresentable: 'any', io: 'input' }) as Record<
    string,
    unknown
  >;
  return { $id: id, ...json };
}
