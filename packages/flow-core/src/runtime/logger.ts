/**
 * The logger port, a pino adapter, and a memory logger for tests. The runtime redacts every
 * record before it reaches the port, so an adapter writes what it is given.
 */
import type { Logger as PinoLogger } from 'pino';

/** Log levels. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** A structured log record. */
export interface LogRecord {
  level: LogLevel;
  msg: string;
  /** Structured fields (already redacted). */
  fields: Record<string, unknown>;
}

/** Where the runtime writes its log. */
export interface Logger {
  write(record: LogRecord): void;
  /**
   * Would a record of this level be written? When it says no, the runtime skips building and
   * redacting the record (redaction is the costly part of a log line). Absent: always yes.
   */
  enabled?(level: LogLevel): boolean;
}

/** A logger that drops everything. */
export const silentLogger: Logger = { write() {}, enabled: () => false };

/** Writes through a pino logger (`pinoLogger(pino())`). */
export function pinoLogger(pino: PinoLogger): Logger {
  return {
    write({ level, msg, fields }) {
      pino[level](fields, msg);
    },
    enabled: (level) => pino.isLevelEnabled(level),
  };
}

/** Keeps records in memory (tests scan them for leaks). */
export class MemoryLogger implements Logger {
  readonly records: LogRecord[] = [];
  write(record: LogRecord): void {
    this.records.push(record);
  }
  /** Every record as one JSON line each. */
  text(): string {
    return this.records.map((r) => JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))).join('\n');
  }
}
