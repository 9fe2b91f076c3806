/**
 * One place that turns a Redis client's failure into `StoreUnavailableError`: an outage, with
 * what could not be done and the client's first line (a connection error), never a key's value.
 */
import { StoreUnavailableError } from './session-store.js';

/** Run one Redis operation; any failure becomes a `StoreUnavailableError` saying `what` failed. */
export async function callRedis<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw new StoreUnavailableError(`Redis could not ${what}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`, { cause: error });
  }
}
