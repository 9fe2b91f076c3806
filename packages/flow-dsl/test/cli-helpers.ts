/**
 * Running the built `callflow` bin in a child process, as users and CI run it, for the CLI
 * tests (build first: `npx tsup`).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'vitest';
import { PACKAGE_ROOT } from './golden.js';

/** The built bin. */
export const CLI = join(PACKAGE_ROOT, 'dist', 'cli.js');

/** What a run printed and how it exited. */
export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `callflow ARGS` (no colour), optionally with a working directory, extra env and stdin. */
export function callflow(args: string[], options: { cwd?: string; env?: Record<string, string>; stdin?: string } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [CLI, ...args],
      { cwd: options.cwd ?? PACKAGE_ROOT, env: { ...process.env, NO_COLOR: '', ...options.env }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end(options.stdin ?? '');
  });
}

/** No output of the CLI may ever be a stack trace. */
export function expectNoStackTrace(run: Run): void {
  expect(run.stderr).not.toMatch(/\n\s+at /);
  expect(run.stdout).not.toMatch(/\n\s+at [^\n]*:\d+:\d+/);
}
