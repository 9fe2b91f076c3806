/**
 * What a command may touch of the outside world, passed in so commands can be run and
 * tested in-process: arguments, working directory, environment, the two output streams.
 */

/** An output stream (process.stdout or a test's buffer). */
export interface OutputStream {
  write(text: string): unknown;
  /** A terminal (colours allowed). */
  isTTY?: boolean;
}

/** The world as a command sees it. */
export interface CliIO {
  cwd: string;
  env: Readonly<Record<string, string | undefined>>;
  stdout: OutputStream;
  stderr: OutputStream;
}

/** A command: one file in src/cli/, one line in main.ts's list. */
export interface Command {
  /** What is typed after `callflow`. */
  name: string;
  /** One line for `callflow --help`. */
  summary: string;
  /** The command's own `--help` text. */
  usage: string;
  /** Run with the arguments after the command's name; resolves to the exit code. */
  run(args: string[], io: CliIO): number | Promise<number>;
}

/** Exit codes every command keeps to. */
export const EXIT = {
  /** Clean, or warnings only within --max-warnings. */
  ok: 0,
  /** Problems found (lint errors, too many warnings). */
  problems: 1,
  /** The command could not do its work: usage, config, unreadable or missing input. */
  usage: 2,
} as const;

/** A mistake in how the command was called; the message is shown with the usage hint. */
export class UsageError extends Error {
  readonly code = 'CALLFLOW_USAGE';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The real process's world. */
export function processIO(): CliIO {
  return { cwd: process.cwd(), env: process.env, stdout: process.stdout, stderr: process.stderr };
}
