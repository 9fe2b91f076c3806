import { defineConfig, type Options } from 'tsup';

const shared: Options = {
  entry: { index: 'src/index.ts', redis: 'src/redis.ts' },
  sourcemap: true,
  target: 'node20',
};

// Dependencies published as ES modules only. The ESM build imports them; the CJS build carries
// them inside, because require() of an ES module either fails (Node without require(esm)) or
// hands back a namespace whose `default` is not the class ("PQueue is not a constructor").
// p-timeout is p-queue's own ESM-only dependency.
const esmOnly = ['p-queue', 'p-timeout', '@marcbachmann/cel-js'];

// Three builds at the same time, so that the declarations (the slow part) are made once: each
// build's clean spares the others' files.
export default defineConfig([
  { ...shared, format: ['esm', 'cjs'], dts: { only: true }, clean: ['!*.js', '!*.js.map', '!*.cjs', '!*.cjs.map'] },
  { ...shared, format: ['esm'], clean: ['!*.cjs', '!*.cjs.map', '!*.d.ts', '!*.d.cts'] },
  { ...shared, format: ['cjs'], clean: ['!*.js', '!*.js.map', '!*.d.ts', '!*.d.cts'], noExternal: esmOnly },
]);
