/**
 * The size limit of the files callflow reads (flows, project configs, flow tests): a file
 * over it is refused from its size, before it is read, with one fatal `schema` diagnostic
 * naming the file, its size and the limit; text handed in by a caller is held to the same.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { basename } from 'node:path';
import type { Diagnostic } from '../lint/types.js';

/** The largest file callflow reads: 5 MB (a large flow is a few hundred kilobytes). */
export const MAX_SOURCE_BYTES = 5 * 1024 * 1024;

/** A file read, or why it was not. */
export type SourceRead =
  | { text: string }
  | { tooLarge: Diagnostic }
  | { unreadable: string };

/**
 * Read a file as UTF-8 text unless it is over `MAX_SOURCE_BYTES`: its size is looked at
 * first, and no more than the limit is ever read (a file that grows meanwhile is caught too).
 */
export function readSource(file: string): SourceRead {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    return { unreadable: (error as NodeJS.ErrnoException).code ?? 'unreadable' };
  }
  try {
    const size = fstatSync(fd).size;
    if (size > MAX_SOURCE_BYTES) return { tooLarge: tooLarge(file, size) };
    // One byte more than the size: a file that grew since is noticed, and read up to the limit only.
    let buffer = Buffer.allocUnsafe(size + 1);
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        if (length > MAX_SOURCE_BYTES) return { tooLarge: tooLarge(file, length) };
        const bigger = Buffer.allocUnsafe(Math.min(buffer.length * 2, MAX_SOURCE_BYTES + 1));
        buffer.copy(bigger, 0, 0, length);
        buffer = bigger;
      }
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
    }
    if (length > MAX_SOURCE_BYTES) return { tooLarge: tooLarge(file, length) };
    return { text: buffer.toString('utf8', 0, length) };
  } catch (error) {
    return { unreadable: (error as NodeJS.ErrnoException).code ?? 'unreadable' };
  } finally {
    closeSync(fd);
  }
}

/** The diagnostic for text over the limit (held in memory already), or undefined. */
export function textTooLarge(text: string, file: string, limit = MAX_SOURCE_BYTES): Diagnostic | undefined {
  // UTF-8 takes one to three bytes per UTF-16 unit: count the bytes only when it matters.
  if (text.length * 3 <= limit) return undefined;
  const bytes = Buffer.byteLength(text, 'utf8');
  return bytes > limit ? tooLarge(file, bytes, limit) : undefined;
}

/** `big.yaml is 6.0 MB (6,291,456 bytes), over the limit of 5 MB …`. */
export function tooLarge(file: string, bytes: number, limit = MAX_SOURCE_BYTES): Diagnostic {
  return {
    ruleId: 'schema',
    severity: 2,
    fatal: true,
    message: `${basename(file)} is ${megabytes(bytes)} (${bytes.toLocaleString('en-US')} bytes), over the limit of ${megabytes(limit)} for a file callflow reads, so it was not read; split it into smaller flows (subflows)`,
    line: 1,
    column: 1,
    endLine: 1,
    endColumn: 1,
  };
}

function megabytes(bytes: number): string {
  const mb = bytes / (1024 * 1024);
  return `${Number.isInteger(mb) ? mb : mb.toFixed(1)} MB`;
}
