import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Tests read flow-core and flow-dsl from source, so a change there needs no rebuild to be
// tested here. Every package writes a JSON report beside it; .ci/run adds them up into
// "N passed, N failed".
export default defineConfig({
  resolve: {
    alias: {
      // First: a subpath must not be taken for the package itself.
      '@callflow/flow-core/redis': fileURLToPath(new URL('../flow-core/src/redis.ts', import.meta.url)),
      '@callflow/flow-core': fileURLToPath(new URL('../flow-core/src/index.ts', import.meta.url)),
      '@callflow/flow-dsl': fileURLToPath(new URL('../flow-dsl/src/index.ts', import.meta.url)),
    },
  },
  test: {
    include: ['test/**/*.test.ts'],
    reporters: ['default', ['json', { outputFile: '.vitest-report.json' }]],
  },
});
