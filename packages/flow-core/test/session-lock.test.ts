/**
 * The in-memory session lock (the embedded default): turns of one session one at a time in
 * this process, in the order they asked; a bounded wait gives up without taking the lock.
 */
import { describe, expect, it } from 'vitest';
import { MemorySessionLock, type HeldSessionLock } from '../src/index.js';

const FOREVER = { ttlMs: Infinity, waitMs: Infinity };

describe('MemorySessionLock', () => {
  it('grants the lock to one turn at a time, in the order they asked', async () => {
    const lock = new MemorySessionLock();
    const order: string[] = [];
    const first = (await lock.acquire('s1', FOREVER))!;
    const waiting = ['b', 'c', 'd'].map((name) =>
      lock.acquire('s1', FOREVER).then(async (held) => {
        order.push(name);
        await held!.release();
      }),
    );
    // Another session is not held up.
    const other = await lock.acquire('s2', { ttlMs: 1000, waitMs: 0 });
    expect(other).toBeDefined();
    await other!.release();
    expect(order).toEqual([]);
    await first.release();
    await Promise.all(waiting);
    expect(order).toEqual(['b', 'c', 'd']);
    expect(lock.size).toBe(0);
  });

  it('gives up after waitMs without taking the lock, and is skipped when the lock passes on', async () => {
    const lock = new MemorySessionLock();
    const first = (await lock.acquire('s1', FOREVER))!;
    expect(await lock.acquire('s1', { ttlMs: 1000, waitMs: 0 })).toBeUndefined();
    expect(await lock.acquire('s1', { ttlMs: 1000, waitMs: 5 })).toBeUndefined();
    let granted: HeldSessionLock | undefined;
    const patient = lock.acquire('s1', FOREVER).then((held) => (granted = held));
    await first.release();
    await patient;
    expect(granted).toBeDefined();
    expect(await granted!.extend(1000)).toBe(true);
    await granted!.release();
    // Released twice: the second does nothing (it must not let a later holder's waiter in).
    await granted!.release();
    expect(await granted!.extend(1000)).toBe(false);
    expect(lock.size).toBe(0);
  });
});
