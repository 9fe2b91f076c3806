import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { ActionRegistry, defineAction } from '../src/actions/data-action.js';

const lookup = (handler: (input: { id: string }, ctx: { signal: AbortSignal; attempt: number }) => Promise<{ status: string }>, limits = {}) =>
  defineAction({
    name: 'lookup',
    input: z.object({ id: z.string() }),
    output: z.object({ status: z.string() }),
    limits,
    handler,
  });

describe('data actions', () => {
  it('returns the validated output on success', async () => {
    const r = new ActionRegistry([lookup(async ({ id }) => ({ status: `ok-${id}` }))]);
    expect(await r.call('lookup', { id: '7' }, { sessionId: 's' })).toMatchObject({ outcome: 'success', output: { status: 'ok-7' }, attempts: 1 });
  });

  it('rejects input that does not match the schema without calling the handler', async () => {
    let called = false;
    const r = new ActionRegistry([lookup(async () => { called = true; return { status: 'x' }; })]);
    const out = await r.call('lookup', { id: 7 }, { sessionId: 's' });
    expect(out).toMatchObject({ outcome: 'error', code: 'ACTION_INPUT_INVALID' });
    expect(called).toBe(false);
  });

  it('reports an unregistered action as an error outcome', async () => {
    expect(await new ActionRegistry().call('nope', {}, { sessionId: 's' })).toMatchObject({ outcome: 'error', code: 'ACTION_NOT_REGISTERED' });
  });

  it('times out a slow try through its AbortSignal', async () => {
    let aborted = false;
    const r = new ActionRegistry([
      lookup((_, { signal }) => new Promise((resolve) => {
        signal.addEventListener('abort', () => { aborted = true; });
        setTimeout(() => resolve({ status: 'late' }), 500);
      })),
    ]);
    expect(await r.call('lookup', { id: '1' }, { sessionId: 's', timeoutMs: 20 })).toMatchObject({ outcome: 'timeout' });
    expect(aborted).toBe(true);
  });

  it('retries with backoff, then succeeds', async () => {
    const r = new ActionRegistry([
      lookup(async (_, { attempt }) => {
        if (attempt < 3) throw new Error('flaky');
        return { status: 'ok' };
      }, { backoffMs: 1, maxBackoffMs: 2 }),
    ]);
    expect(await r.call('lookup', { id: '1' }, { sessionId: 's', retries: 2 })).toMatchObject({ outcome: 'success', attempts: 3 });
  });

  it('opens the circuit after consecutive failures and stops calling the back end', async () => {
    let calls = 0;
    const r = new ActionRegistry([
      lookup(async () => { calls++; throw new Error('down'); }, { breakerThreshold: 3, breakerResetMs: 60_000 }),
    ]);
    for (let i = 0; i < 3; i++) expect(await r.call('lookup', { id: '1' }, { sessionId: 's' })).toMatchObject({ outcome: 'error', code: 'ACTION_FAILED' });
    const open = await r.call('lookup', { id: '1' }, { sessionId: 's' });
    expect(open).toMatchObject({ outcome: 'error', code: 'ACTION_CIRCUIT_OPEN' });
    expect(calls).toBe(3);
  });

  it('limits concurrency', async () => {
    let running = 0;
    let peak = 0;
    const r = new ActionRegistry([
      lookup(async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((res) => setTimeout(res, 10));
        running--;
        return { status: 'ok' };
      }, { concurrency: 2 }),
    ]);
    await Promise.all(Array.from({ length: 6 }, () => r.call('lookup', { id: '1' }, { sessionId: 's' })));
    expect(peak).toBe(2);
  });

  it('holds calls beyond limits.ratePerSecond until the next second (counted under fake timers)', async () => {
    vi.useFakeTimers();
    try {
      let calls = 0;
      const r = new ActionRegistry([lookup(async () => { calls++; return { status: 'ok' }; }, { ratePerSecond: 2 })]);
      const all = Promise.all(Array.from({ length: 5 }, () => r.call('lookup', { id: '1' }, { sessionId: 's' })));
      await vi.advanceTimersByTimeAsync(0);
      expect(calls).toBe(2);
      await vi.advanceTimersByTimeAsync(1000);
      expect(calls).toBe(4);
      await vi.advanceTimersByTimeAsync(1000);
      expect(calls).toBe(5);
      expect((await all).every((o) => o.outcome === 'success')).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it('refuses secure values for an action not marked secure', async () => {
    const r = new ActionRegistry([lookup(async () => ({ status: 'ok' }))]);
    expect(await r.call('lookup', { id: '1' }, { sessionId: 's', carriesSecure: true })).toMatchObject({ outcome: 'error', code: 'ACTION_NOT_SECURE' });
  });

  it('reports output that breaks the schema as an error', async () => {
    const r = new ActionRegistry([lookup(async () => ({ status: 5 }) as unknown as { status: string })]);
    expect(await r.call('lookup', { id: '1' }, { sessionId: 's' })).toMatchObject({ outcome: 'error', code: 'ACTION_OUTPUT_INVALID' });
  });
});

describe('the concurrency slot of a call whose handler does not answer', () => {
  /** A lookup whose handlers never settle (nor heed their signal) unless `answer` is called; counts the handlers started. */
  function hanging(limits: Record<string, number>) {
    const started: { answer: () => void }[] = [];
    const registry = new ActionRegistry([
      lookup(() => new Promise((resolve) => started.push({ answer: () => resolve({ status: 'late' }) })), limits),
    ]);
    const call = () => registry.call('lookup', { id: '1' }, { sessionId: 's' });
    return { started, call };
  }

  it('is held past the time-out while the handler runs, for the default grace of 1000 ms, then given to the next call', async () => {
    vi.useFakeTimers();
    try {
      const { started, call } = hanging({ concurrency: 1, timeoutMs: 100 });
      const first = call();
      const second = call();
      await vi.advanceTimersByTimeAsync(0);
      expect(started).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(100);
      // The caller hears `timeout` at the time-out; the hung handler keeps the slot.
      expect(await first).toMatchObject({ outcome: 'timeout' });
      expect(started).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(999);
      expect(started).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(1);
      expect(started).toHaveLength(2);
      await vi.advanceTimersByTimeAsync(100);
      expect(await second).toMatchObject({ outcome: 'timeout' });
    } finally {
      vi.useRealTimers();
    }
  });

  it('keeps hung handlers to the concurrency limit until their time-out plus grace, however many calls wait', async () => {
    vi.useFakeTimers();
    try {
      // (A breaker that opened after five time-outs would spare the back end the seventh call.)
      const { started, call } = hanging({ concurrency: 2, timeoutMs: 100, timeoutGraceMs: 50, breakerThreshold: 100 });
      const calls = Array.from({ length: 7 }, () => call());
      let now = 0;
      for (const [at, expected] of [[0, 2], [100, 2], [149, 2], [150, 4], [299, 4], [300, 6], [449, 6], [450, 7]] as const) {
        await vi.advanceTimersByTimeAsync(at - now);
        now = at;
        expect(started, `at ${at} ms`).toHaveLength(expected);
      }
      await vi.advanceTimersByTimeAsync(150);
      expect((await Promise.all(calls)).every((o) => o.outcome === 'timeout')).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it('is given back once: a hung handler that answers after the grace frees no second slot', async () => {
    vi.useFakeTimers();
    try {
      const { started, call } = hanging({ concurrency: 1, timeoutMs: 100, timeoutGraceMs: 50 });
      const calls = [call(), call(), call()];
      await vi.advanceTimersByTimeAsync(150);
      expect(started).toHaveLength(2);
      started[0]!.answer();
      await vi.advanceTimersByTimeAsync(10);
      expect(started).toHaveLength(2);
      await vi.advanceTimersByTimeAsync(139);
      expect(started).toHaveLength(2);
      await vi.advanceTimersByTimeAsync(1);
      expect(started).toHaveLength(3);
      await vi.advanceTimersByTimeAsync(150);
      expect((await Promise.all(calls)).map((o) => o.outcome)).toEqual(['timeout', 'timeout', 'timeout']);
    } finally {
      vi.useRealTimers();
    }
  });

  it('is given back at the time-out by a handler that stops when its signal aborts', async () => {
    vi.useFakeTimers();
    try {
      let started = 0;
      const registry = new ActionRegistry([
        lookup((_, { signal }) => {
          started++;
          return new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(new Error('aborted'))));
        }, { concurrency: 1, timeoutMs: 100 }),
      ]);
      const calls = [registry.call('lookup', { id: '1' }, { sessionId: 's' }), registry.call('lookup', { id: '2' }, { sessionId: 's' })];
      await vi.advanceTimersByTimeAsync(100);
      expect(started).toBe(2);
      await vi.advanceTimersByTimeAsync(100);
      expect((await Promise.all(calls)).map((o) => o.outcome)).toEqual(['timeout', 'timeout']);
    } finally {
      vi.useRealTimers();
    }
  });
});
