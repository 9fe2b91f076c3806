/**
 * The package version, read from package.json at build time (tsup inlines it).
 */
import pkg from '../../package.json' with { type: 'json' };

/** The version of @callflow/flow-dsl, which is the CLI's version. */
export const VERSION: string = pkg.version;
