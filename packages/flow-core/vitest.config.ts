import { defineConfig } from 'vitest/config';

// Every package writes a JSON report beside it; .ci/run adds them up into "N passed, N failed".
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    reporters: ['default', ['json', { outputFile: '.vitest-report.json' }]],
  },
});
