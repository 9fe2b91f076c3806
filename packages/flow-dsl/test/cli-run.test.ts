/**
 * The dispatcher under every command, run in-process: exit codes and messages for usage
 * mistakes and for failures no command expected.
 */
import { describe, expect, it } from 'vitest';
import { UsageError, type CliIO, type Command } from '../src/cli/io.js';
import { runCli } from '../src/cli/run.js';

function io(): CliIO & { out: string; err: string } {
  const world = {
    cwd: '/',
    env: {},
    out: '',
    err: '',
    stdout: { write: (t: string) => (world.out += t) },
    stderr: { write: (t: string) => (world.err += t) },
  };
  return world;
}

const command = (run: Command['run']): Command => ({ name: 'try', summary: 'a test command', usage: 'Usage: callflow try\n', run });

describe('runCli', () => {
  it('turns an unexpected failure into one line, exit 2, no stack trace', async () => {
    const world = io();
    const code = await runCli([command(() => { throw new TypeError('cannot read properties of undefined\n    at somewhere (x.js:1:1)'); })], ['try'], world);
    expect(code).toBe(2);
    expect(world.err).toBe('callflow: internal error: cannot read properties of undefined\n');
  });

  it('shows a usage error with a pointer to the help, exit 2', async () => {
    const world = io();
    const code = await runCli([command(async () => { throw new UsageError('needs a file'); })], ['try'], world);
    expect(code).toBe(2);
    expect(world.err).toBe('callflow try: needs a file\nsee callflow try --help\n');
  });

  it("passes the command's exit code through, and shows its help for --help", async () => {
    const world = io();
    expect(await runCli([command(() => 1)], ['try', 'x'], world)).toBe(1);
    expect(await runCli([command(() => 1)], ['try', '--help'], world)).toBe(0);
    expect(world.out).toBe('Usage: callflow try\n');
  });
});
