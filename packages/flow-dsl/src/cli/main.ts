/**
 * The `callflow` executable. Adding a command: write src/cli/<name>.ts exporting a Command,
 * and add it to COMMANDS below.
 */
import { escapeForTerminal } from '../lint/formatters/terminal-text.js';
import { processIO, type Command } from './io.js';
import { lintCommand } from './lint.js';
import { runCli } from './run.js';
import { schemaCommand } from './schema.js';
import { simulateCommand } from './simulate.js';
import { testCommand } from './test.js';

const COMMANDS: readonly Command[] = [lintCommand, schemaCommand, simulateCommand, testCommand];

function internalError(error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`callflow: internal error: ${escapeForTerminal((message.split('\n')[0] ?? '').trim())}\n`);
  process.exit(2);
}

// A reader that closes the pipe early (`callflow lint | head`) is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  internalError(error);
});
process.on('uncaughtException', internalError);
process.on('unhandledRejection', internalError);

void runCli(COMMANDS, process.argv.slice(2), processIO()).then((code) => {
  process.exitCode = code;
});
