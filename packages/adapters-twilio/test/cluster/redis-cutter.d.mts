/** A TCP proxy in front of a real Redis that a test can cut and restore (see redis-cutter.mjs). */
export declare class RedisCutter {
  constructor(upstream?: { host?: string; port?: number });
  readonly port: number;
  readonly isCut: boolean;
  /** The URL a Redis client connects to instead of the real one. */
  readonly url: string;
  /** Listen on 127.0.0.1 (an ephemeral port); resolves with the port. */
  start(): Promise<number>;
  /** Make Redis unreachable: end every connection, drop every new one. */
  cut(): void;
  /** Let connections through again. */
  restore(): void;
  close(): Promise<void>;
}
