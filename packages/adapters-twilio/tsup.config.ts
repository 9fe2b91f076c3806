import { defineConfig } from 'tsup';

export default defineConfig({
  // The framework mounts, the Redis call registry and the testing caller are subpaths: importing
  // the adapter never loads them.
  entry: { index: 'src/index.ts', fastify: 'src/fastify.ts', express: 'src/express.ts', redis: 'src/redis.ts', testing: 'src/testing/call-simulator.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  external: ['fastify', 'express'],
});
