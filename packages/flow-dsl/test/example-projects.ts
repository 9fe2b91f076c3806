/**
 * Reads the example projects under examples/ (each a directory of flow files with a
 * callflow.config.yaml), for the examples test and the property-based test.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The repository's examples/ directory. */
export const examplesRoot = join(import.meta.dirname, '..', '..', '..', 'examples');

/** A flow project of examples/: its flow files and its config text. */
export interface ExampleProject {
  name: string;
  dir: string;
  flows: { file: string; text: string }[];
  configText: string | undefined;
}

/** Every example project (a directory holding flows or a callflow.config.yaml), in name order. */
export function exampleProjects(): ExampleProject[] {
  return readdirSync(examplesRoot)
    .filter((e) => statSync(join(examplesRoot, e)).isDirectory())
    .sort()
    .map((name) => {
      const dir = join(examplesRoot, name);
      let configText: string | undefined;
      const flows: { file: string; text: string }[] = [];
      for (const entry of readdirSync(dir).sort()) {
        if (!/\.ya?ml$/.test(entry)) continue;
        // Flow test files (*.test.yaml) sit beside the flows; they are not flows (callflow lint skips them too).
        if (/\.test\.ya?ml$/i.test(entry)) continue;
        const text = readFileSync(join(dir, entry), 'utf8');
        if (/^callflow\.config\.ya?ml$/.test(entry)) configText = text;
        else flows.push({ file: join(dir, entry), text });
      }
      return { name, dir, flows, configText };
    })
    // A directory with neither flows nor a config (the example server) is not a flow project.
    .filter((p) => p.flows.length > 0 || p.configText !== undefined);
}
