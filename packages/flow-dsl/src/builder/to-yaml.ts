/**
 * `toYaml`: write a flow (built with `defineFlow`, or loaded) as a flow file, so it can be
 * committed, linted with `callflow lint` and read by people who do not read TypeScript.
 */
import type { Flow } from '@callflow/flow-core';
import { stringify } from 'yaml';

/** Options of `toYaml`. */
export interface ToYamlOptions {
  /**
   * A `$schema` comment line for editors: the path of flow.schema.json relative to the file
   * written (from `flows/`, `../node_modules/@callflow/flow-dsl/schema/flow.schema.json`), or a URL.
   */
  schema?: string;
}

/** The flow as YAML text, in the author's key order; loading it gives back an equal `Flow`. */
export function toYaml(flow: Flow, options: ToYamlOptions = {}): string {
  const body = stringify(flow, { lineWidth: 0, aliasDuplicateObjects: false });
  return options.schema === undefined ? body : `# yaml-language-server: $schema=${options.schema}\n${body}`;
}
