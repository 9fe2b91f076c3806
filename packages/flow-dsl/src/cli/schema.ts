/**
 * `callflow schema [flow|config]`: print the JSON Schema of flow files (default) or of
 * `callflow.config.yaml`, for editors (yaml-language-server) and other tools.
 */
import { parseArgs } from 'node:util';
import { getConfigSchema, getFlowSchema } from '../schema/generated.js';
import { EXIT, UsageError, type Command } from './io.js';

export const schemaCommand: Command = {
  name: 'schema',
  summary: 'print the JSON Schema of flow files (or, with --config, of callflow.config.yaml)',
  usage: [
    'Usage: callflow schema [flow|config] [--config]',
    '',
    'Print a JSON Schema (draft 2020-12) to stdout:',
    '  flow       flow files (the default)',
    '  config     callflow.config.yaml (same as --config)',
    '',
  ].join('\n'),
  run(args, io) {
    const { values, positionals } = parseArgs({ args, options: { config: { type: 'boolean' } }, allowPositionals: true, strict: true });
    if (positionals.length > 1) throw new UsageError(`expected at most one of flow, config; got ${positionals.join(' ')}`);
    const which = values.config ? 'config' : (positionals[0] ?? 'flow');
    if (which !== 'flow' && which !== 'config') throw new UsageError(`unknown schema '${which}' (flow or config)`);
    const schema = which === 'config' ? getConfigSchema() : getFlowSchema();
    io.stdout.write(`${JSON.stringify(schema, null, 2)}\n`);
    return EXIT.ok;
  },
};
