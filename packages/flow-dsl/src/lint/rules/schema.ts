/**
 * `schema`: the file is YAML, and its shape is the flow language's (keys, types, one action
 * per state, known outcomes). The diagnostics come from the loader (YAML parsing and the
 * JSON Schema check), which runs before any rule; this module carries the rule's metadata.
 */
import type { Rule } from '../types.js';

export const rule: Rule = {
  meta: {
    name: 'schema',
    description: 'The file is valid YAML and follows the flow language schema (keys, types, one action per state).',
    defaultSeverity: 'error',
    docs: 'docs/rules/schema.md',
    help: 'Fix the key or value named in the message; the JSON Schema (callflow schema) lets an editor check this as you type.',
  },
  check() {
    // Reported by the loader (load/validate.ts); nothing left to check on a valid model.
  },
};
