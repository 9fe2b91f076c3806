// Build step (after tsup): write the JSON Schemas that @callflow/flow-dsl ships as files,
// schema/flow.schema.json and schema/config.schema.json, from the built package (which takes
// them from flow-core's zod model), so editors can point yaml-language-server at them.
import { mkdirSync, writeFileSync } from 'node:fs';
import { getConfigSchema, getFlowSchema } from '../dist/index.js';

const dir = new URL('../schema/', import.meta.url);
mkdirSync(dir, { recursive: true });
for (const [name, schema] of [
  ['flow.schema.json', getFlowSchema()],
  ['config.schema.json', getConfigSchema()],
]) {
  writeFileSync(new URL(name, dir), `${JSON.stringify(schema, null, 2)}\n`);
}
