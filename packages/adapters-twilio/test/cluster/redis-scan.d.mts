/** Reads back every key of a run's prefix and looks for secure values in clear text (see redis-scan.mjs). */
import type { Redis } from 'ioredis';

export declare class SecretIndex {
  constructor(values?: Iterable<string>);
  add(value: string): void;
  readonly size: number;
  /** The secure values found in clear text in `text`. */
  find(text: string): string[];
}

export declare function forEachKey(redis: Redis, prefix: string, visit: (entry: { key: string; type: string; text: string }) => void): Promise<number>;
export declare function findClearSecrets(redis: Redis, prefix: string, secrets: SecretIndex | Iterable<string>): Promise<{ keys: number; hits: Array<{ key: string; secret: string }> }>;
export declare function deletePrefix(redis: Redis, prefix: string): Promise<number>;
