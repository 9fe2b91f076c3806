/**
 * The JSON Schemas shipped by flow-dsl, taken from flow-core's zod model (never written
 * twice). Computed once per process.
 */
import { configJsonSchema, flowJsonSchema } from '@callflow/flow-core';

let flow: Record<string, unknown> | undefined;
let config: Record<string, unknown> | undefined;

/** The flow file JSON Schema (what `callflow schema` prints). */
export function getFlowSchema(): Record<string, unknown> {
  flow ??= flowJsonSchema();
  return flow;
}

/** The `callflow.config.yaml` JSON Schema. */
export function getConfigSchema(): Record<string, unknown> {
  config ??= configJsonSchema();
  return config;
}
