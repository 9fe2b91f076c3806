import { describe, expect, it } from 'vitest';
import { ManualClock } from '../src/runtime/clock.js';
import { MemoryReservationStore } from '../src/secure/reservations.js';
import { MemorySessionStore } from '../src/store/session-store.js';

describe('MemorySessionStore', () => {
  it('creates, reads and updates with versions', async () => {
    const s = new MemorySessionStore(new ManualClock());
    expect(await s.put('a', 'v1', { expectedVersion: undefined })).toEqual({ ok: true, version: 1 });
    expect(await s.get('a')).toEqual({ value: 'v1', version: 1 });
    expect(await s.put('a', 'v2', { expectedVersion: 1 })).toEqual({ ok: true, version: 2 });
  });

  it('refuses a put from a turn that read an old version (no lost update)', async () => {
    const s = new MemorySessionStore(new ManualClock());
    await s.put('a', 'v1', { expectedVersion: undefined });
    await s.put('a', 'v2', { expectedVersion: 1 });
    expect(await s.put('a', 'stale', { expectedVersion: 1 })).toEqual({ ok: false, reason: 'conflict', currentVersion: 2 });
    expect(await s.put('a', 'dup', { expectedVersion: undefined })).toMatchObject({ ok: false });
    expect((await s.get('a'))?.value).toBe('v2');
  });

  it('expires sessions after their TTL', async () => {
    const clock = new ManualClock(1000);
    const s = new MemorySessionStore(clock);
    await s.put('a', 'v', { expectedVersion: undefined, ttlMs: 50 });
    clock.advance(49);
    expect(await s.get('a')).toBeDefined();
    clock.advance(1);
    expect(await s.get('a')).toBeUndefined();
  });
});

describe('MemoryReservationStore', () => {
  it('reserves an agent for one session at a time', async () => {
    const r = new MemoryReservationStore(new ManualClock());
    const a = await r.reserve('agent-1', 's1', 1000);
    expect(a?.sessionId).toBe('s1');
    expect(await r.reserve('agent-1', 's2', 1000)).toBeUndefined();
    expect(await r.reserve('agent-2', 's2', 1000)).toBeDefined();
  });

  it('releases only for the holder of the token', async () => {
    const r = new MemoryReservationStore(new ManualClock());
    const a = (await r.reserve('agent-1', 's1', 1000))!;
    expect(await r.release('agent-1', 'not-the-token')).toBe(false);
    expect(await r.get('agent-1')).toBeDefined();
    expect(await r.release('agent-1', a.token)).toBe(true);
    expect(await r.get('agent-1')).toBeUndefined();
  });

  it('ends a reservation on its own when the lease runs out, unless renewed', async () => {
    const clock = new ManualClock();
    const r = new MemoryReservationStore(clock);
    const a = (await r.reserve('agent-1', 's1', 100))!;
    clock.advance(90);
    expect(await r.renew('agent-1', a.token, 100)).toBe(true);
    clock.advance(90);
    expect(await r.get('agent-1')).toBeDefined();
    clock.advance(10);
    expect(await r.get('agent-1')).toBeUndefined();
    expect(await r.list()).toEqual([]);
  });
});
