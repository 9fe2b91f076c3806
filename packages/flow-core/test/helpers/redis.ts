/**
 * The Redis the tests use (127.0.0.1:6379, or CALLFLOW_REDIS_URL): connected or the test file
 * fails saying why (never skipped), and a key prefix of its own per file, deleted at the end.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';

export const REDIS_URL = process.env.CALLFLOW_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix no other test file (or run) shares. */
export const testPrefix = (): string => `callflow-test-${randomUUID().slice(0, 8)}`;

/** A connected client, or an error that names the URL and how CI gets a Redis. */
export async function connectTestRedis(): Promise<Redis> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2000 });
  try {
    await redis.connect();
    await redis.ping();
    return redis;
  } catch (error) {
    redis.disconnect();
    throw new Error(`these tests need Redis at ${REDIS_URL} (.ci/run starts one): ${(error as Error).message}`);
  }
}

/** Delete every key under `prefix` and disconnect. */
export async function dropTestKeys(redis: Redis | undefined, prefix: string): Promise<void> {
  if (!redis) return;
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
}
