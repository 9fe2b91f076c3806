/**
 * The typed builder API: flows in TypeScript, checked by the compiler and at run time.
 */
export { defineFlow, validateFlow } from './define-flow.js';
export { FlowValidationError, type FlowIssue } from './errors.js';
export { toYaml, type ToYamlOptions } from './to-yaml.js';
export type { CheckedFlow, ValidFlow, FlowDefinitionBase } from './types.js';
