import { fileURLToPath } from 'node:url';
import { defineConfig } from 'tsup';

// The bin uses validators generated at build time (scripts/precompile-validators.mjs) instead
// of compiling the JSON Schemas with ajv at every start.
const precompiledValidators = fileURLToPath(new URL('./build/precompiled-validators.js', import.meta.url));

export default defineConfig([
  // The library: ESM first, CJS for compatibility, with types.
  {
    entry: { index: 'src/index.ts' },
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    // The two builds run at the same time: this one's clean must spare the bin's files.
    clean: ['!cli.js', '!cli.js.map'],
    target: 'node20',
  },
  // The `callflow` bin: one ESM file.
  {
    entry: { cli: 'src/cli/main.ts' },
    format: ['esm'],
    // Minified: Node parses the whole bin at every start, so its size is start-up time.
    minify: true,
    sourcemap: false,
    clean: false,
    target: 'node20',
    platform: 'node',
    // Bundled CommonJS dependencies (yaml, ajv's runtime) call require(): give the ESM file one.
    banner: { js: "#!/usr/bin/env node\nimport { createRequire as __callflowRequire } from 'node:module';\nconst require = __callflowRequire(import.meta.url);" },
    // Everything in one file: resolving and reading a few hundred module files (yaml, zod)
    // was most of what was left of the start-up time once the validators were precompiled.
    noExternal: [/.*/],
    esbuildPlugins: [
      {
        name: 'precompiled-validators',
        setup(build) {
          build.onResolve({ filter: /\/compile-validators\.js$/ }, () => ({ path: precompiledValidators }));
        },
      },
    ],
  },
]);
