/**
 * The dispatcher: `callflow <command> [args]`, `--help`, `--version`. Turns every failure
 * into an exit code and one line on stderr: usage mistakes exit 2 with a hint, and anything
 * unexpected is `callflow: internal error: <message>` (exit 2), never a stack trace.
 */
import { escapeForTerminal } from '../lint/formatters/terminal-text.js';
import { EXIT, UsageError, type CliIO, type Command } from './io.js';
import { VERSION } from './version.js';

/** Run the CLI; resolves to the process exit code. Never rejects. */
export async function runCli(commands: readonly Command[], argv: readonly string[], io: CliIO): Promise<number> {
  const [first, ...rest] = argv;
  try {
    if (first === undefined) {
      io.stderr.write(helpText(commands));
      return EXIT.usage;
    }
    if (first === '--help' || first === '-h' || first === 'help') {
      const command = rest[0] === undefined ? undefined : commands.find((c) => c.name === rest[0]);
      io.stdout.write(command ? command.usage : helpText(commands));
      return EXIT.ok;
    }
    if (first === '--version' || first === '-v') {
      io.stdout.write(`${VERSION}\n`);
      return EXIT.ok;
    }
    const command = commands.find((c) => c.name === first);
    if (!command) {
      const known = commands.map((c) => c.name).join(', ');
      io.stderr.write(`callflow: unknown command '${first}' (commands: ${known}); see callflow --help\n`);
      return EXIT.usage;
    }
    if (rest.includes('--help') || rest.includes('-h')) {
      io.stdout.write(command.usage);
      return EXIT.ok;
    }
    try {
      return await command.run(rest, io);
    } catch (error) {
      if (error instanceof UsageError || isParseArgsError(error)) {
        // parseArgs adds advice about `--` that reads as noise here: keep its first sentence.
        const message = error instanceof UsageError ? messageOf(error) : messageOf(error).replace(/\. .*$/, '');
        io.stderr.write(`callflow ${command.name}: ${message}\nsee callflow ${command.name} --help\n`);
        return EXIT.usage;
      }
      throw error;
    }
  } catch (error) {
    io.stderr.write(`callflow: internal error: ${messageOf(error)}\n`);
    return EXIT.usage;
  }
}

function helpText(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    `callflow ${VERSION}: lint, simulate and test contact-center call flows`,
    '',
    'Usage: callflow <command> [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Options:',
    '  -h, --help     show help (callflow <command> --help for a command)',
    '  -v, --version  print the version',
    '',
    'Exit codes: 0 clean, 1 problems found, 2 usage or input errors.',
    '',
  ].join('\n');
}

/** node:util parseArgs throws TypeErrors with ERR_PARSE_ARGS_* codes for bad options. */
function isParseArgsError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}

/** The first line of an error's message, escaped for the terminal (it may quote a flow file). */
function messageOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return escapeForTerminal((message.split('\n')[0] ?? '').trim()) || 'unknown error';
}
