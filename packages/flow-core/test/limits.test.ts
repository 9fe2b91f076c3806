/**
 * The runtime's limits: no flow and no input can grow a session without bound, overflow the
 * stack or take the call down. Subflow calls nest at most `maxCallDepth` deep; a ring of
 * hand-ons ends like any busy loop; tries stay one count per waiting state; a collect takes
 * at most 64 digits (unless the flow says otherwise) and 1,000 characters of speech; inputs
 * and data action answers nest at most 32 levels; a listener that throws is logged and the
 * call goes on.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ManualClock,
  MemoryLogger,
  MemoryReservationStore,
  MemorySessionStore,
  createRuntime,
  defineAction,
  type Command,
  type Flow,
  type RuntimeOptions,
  type Turn,
} from '../src/index.js';

const CARD = '4916338506082832';
const load = (name: string): Flow => parse(readFileSync(join(import.meta.dirname, 'fixtures', `${name}.yaml`), 'utf8')) as Flow;
const FLOWS: Flow[] = [
  'limit-deep-call', 'limit-deep-call-handled', 'limit-echo-sub', 'limit-ping-sub', 'limit-pong-sub', 'limit-chain',
  'limit-chain-two', 'limit-ring-a', 'limit-ring-b', 'limit-retry-ring', 'limit-deep-data', 'act-secure-desk',
].map(load);

function harness(extra: Partial<RuntimeOptions> = {}) {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const store = new MemorySessionStore(clock);
  const logger = new MemoryLogger();
  const runtime = createRuntime({ flows: FLOWS, clock, store, reservations: new MemoryReservationStore(clock), logger, ...extra });
  return { runtime, store, logger, clock };
}

const flowsEntered = (t: Turn) => t.trace.map((s) => s.flow);
const collectOf = (t: Turn) => t.commands.find((c) => c.type === 'collect') as Extract<Command, { type: 'collect' }> | undefined;

describe('callFlow depth (maxCallDepth)', () => {
  it('fails a subflow that calls itself on its 17th call with CALL_DEPTH, and the caller gets the fail-safe', async () => {
    const { runtime } = harness();
    const t = await runtime.startSession({ flow: 'deep-call', inputs: { via: 'self' } });
    expect(t.status).toBe('ended');
    expect(t.end).toMatchObject({ type: 'error', code: 'CALL_DEPTH' });
    expect(flowsEntered(t).filter((f) => f === 'echo-sub')).toHaveLength(16);
    expect(t.commands.map((c) => c.type)).toEqual(['say', 'disconnect', 'end']);
    expect(t.commands[1]).toEqual({ type: 'disconnect', reason: 'error' });
  });

  it('counts the calls of flows that call each other (ping-sub → pong-sub → ping-sub) the same way', async () => {
    const { runtime } = harness();
    const t = await runtime.startSession({ flow: 'deep-call', inputs: { via: 'pair' } });
    expect(t.end).toMatchObject({ type: 'error', code: 'CALL_DEPTH' });
    expect(flowsEntered(t).filter((f) => f === 'ping-sub' || f === 'pong-sub')).toHaveLength(16);
  });

  it("sends CALL_DEPTH to the calling flow's onError, with the subflows' frames gone", async () => {
    const { runtime } = harness();
    const t = await runtime.startSession({ flow: 'deep-call-handled' });
    expect(t.end).toEqual({ type: 'disconnect', reason: 'too-deep' });
    expect(t.commands[0]).toEqual({ type: 'say', text: 'Sorry, that went too deep.' });
    expect((await runtime.inspect(t.sessionId))?.frames).toHaveLength(1);
  });

  it('takes its limit from createRuntime({ maxCallDepth })', async () => {
    const one = await harness({ maxCallDepth: 1 }).runtime.startSession({ flow: 'deep-call', inputs: { via: 'chain' } });
    expect(one.end).toMatchObject({ type: 'error', code: 'CALL_DEPTH' });
    const two = await harness({ maxCallDepth: 2 }).runtime.startSession({ flow: 'deep-call', inputs: { via: 'chain' } });
    expect(two.end).toEqual({ type: 'disconnect', reason: 'returned' });
    expect(two.commands[0]).toEqual({ type: 'say', text: 'Two calls deep.' });
  });

  it('never overflows the stack, however deep the calls go: with no depth limit the turn stops at maxStepsPerTurn', async () => {
    const { runtime } = harness({ maxCallDepth: Infinity, maxStepsPerTurn: 30_000 });
    const t = await runtime.startSession({ flow: 'deep-call', inputs: { via: 'self' } });
    expect(t.end).toMatchObject({ type: 'error', code: 'BUSY_LOOP' });
  });
});

describe('hand-ons within one turn', () => {
  it('ends a ring of flows that hand the call to each other without waiting, at maxStepsPerTurn', async () => {
    const { runtime } = harness({ maxStepsPerTurn: 50 });
    const t = await runtime.startSession({ flow: 'ring-a' });
    expect(t.status).toBe('ended');
    expect(t.end).toMatchObject({ type: 'error', code: 'BUSY_LOOP' });
    expect(t.path.length).toBeLessThanOrEqual(50);
  });
});

describe('frames and tries over a long call', () => {
  it('keep one frame and at most one count of tries per collect state, however long the caller goes round', async () => {
    const { runtime, store } = harness();
    let t = await runtime.startSession({ flow: 'retry-ring' });
    const sizes: number[] = [];
    for (let i = 0; i < 300; i++) {
      t = await runtime.handle(t.sessionId, collectOf(t)?.purpose === 'menu' ? { type: 'digits', digits: '1' } : { type: 'noInput' });
      expect(t.status).toBe('waiting');
      const view = (await runtime.inspect(t.sessionId))!;
      expect(view.frames).toHaveLength(1);
      const tries = view.frames[0]!.tries ?? {};
      expect(Object.keys(tries).every((s) => ['askFirst', 'askSecond', 'askThird'].includes(s))).toBe(true);
      expect(Object.values(tries).every((n) => n >= 1 && n <= 3)).toBe(true);
      sizes.push((await store.get(t.sessionId))!.value.length);
    }
    // The stored session does not grow with the call (its turn counter gains a digit or two).
    expect(Math.max(...sizes.slice(200))).toBeLessThanOrEqual(Math.max(...sizes.slice(0, 100)) + 4);
  });
});

describe('collect limits', () => {
  /** A retry-ring session waiting at askFree (the collect with no maximum). */
  async function atFreeCollect(h = harness()) {
    const first = await h.runtime.startSession({ flow: 'retry-ring' });
    const t = await h.runtime.handle(first.sessionId, { type: 'digits', digits: '12' });
    return { ...h, t };
  }

  it('asks the provider for at most 64 digits when the flow gives no maximum (and none for speech)', async () => {
    const { runtime, t } = await atFreeCollect();
    expect(collectOf(t)).toMatchObject({ input: 'dtmf', maxDigits: 64 });
    expect(collectOf(t)).not.toHaveProperty('minDigits');
    const spoken = await runtime.handle(t.sessionId, { type: 'digits', digits: '7#' });
    expect(collectOf(spoken)).toMatchObject({ input: 'speech' });
    expect(collectOf(spoken)).not.toHaveProperty('maxDigits');
  });

  it('takes a no match for more than 64 digits and stores none of them; 64 digits are taken', async () => {
    const { runtime, t } = await atFreeCollect();
    const flood = await runtime.handle(t.sessionId, { type: 'digits', digits: `${'1'.repeat(100_000)}#` });
    expect(flood.status).toBe('waiting');
    expect(flood.path).toEqual([]);
    expect(collectOf(flood)).toBeDefined();
    expect((await runtime.inspect(t.sessionId))!.frames[0]!.vars.free).toBeUndefined();
    const ok = await runtime.handle(t.sessionId, { type: 'digits', digits: `${'2'.repeat(64)}#` });
    expect(ok.path).toEqual(['askSpoken']);
    expect((await runtime.inspect(t.sessionId))!.frames[0]!.vars.free).toBe('2'.repeat(64));
  });

  it('takes a no match for a speech transcript over 1,000 characters and stores none of it', async () => {
    const { runtime, t } = await atFreeCollect();
    await runtime.handle(t.sessionId, { type: 'digits', digits: '7#' });
    const long = await runtime.handle(t.sessionId, { type: 'speech', text: 'a'.repeat(1001) });
    expect(long.path).toEqual([]);
    expect((await runtime.inspect(t.sessionId))!.frames[0]!.vars.spoken).toBeUndefined();
    const ok = await runtime.handle(t.sessionId, { type: 'speech', text: 'b'.repeat(1000) });
    expect(ok.path).toEqual(['bye']);
  });
});

describe('event listeners', () => {
  it('a listener that throws does not fail the call: every command is returned and the reserved agent is released', async () => {
    const { runtime, logger } = harness();
    const seen: Command[] = [];
    runtime.events.on('command', () => {
      throw new Error('dashboard offline');
    });
    runtime.events.on('command', (e) => seen.push(e.command));
    const first = await runtime.startSecureSession({
      conversationId: 'conv-1', agentId: 'agent-7', flow: 'secure-desk', inputs: { ending: 'return' }, reserveAgent: true,
    });
    expect(first.status).toBe('waiting');
    expect(await runtime.isReserved('agent-7')).toBe(true);
    const last = await runtime.handle(first.sessionId, { type: 'digits', digits: CARD });
    expect(last.end).toMatchObject({ type: 'returnToAgent', outputs: { last4: '2832' } });
    expect(last.commands.map((c) => c.type)).toEqual(['say', 'say', 'resumeRecording', 'returnToAgent', 'end']);
    expect(seen.map((c) => c.type)).toEqual([...first.commands, ...last.commands].map((c) => c.type));
    expect(await runtime.isReserved('agent-7')).toBe(false);

    const reports = logger.records.filter((r) => r.level === 'error');
    expect(reports.length).toBe(seen.length);
    expect(reports[0]).toMatchObject({ fields: { event: 'command', error: 'dashboard offline', sessionId: first.sessionId, flow: 'secure-desk' } });
    expect(reports[0]!.msg).toContain("'command'");
    expect((logger.text()).includes(CARD), 'must not be there').toBe(false);
    expect((logger.text()).includes('"command":'), 'must not be there').toBe(false);
  });

  it('off() and listeners() take and give the functions as registered', () => {
    const { runtime } = harness();
    const listener = () => undefined;
    runtime.events.on('alert', listener);
    expect(runtime.events.listeners('alert')).toEqual([listener]);
    runtime.events.off('alert', listener);
    expect(runtime.events.listenerCount('alert')).toBe(0);
  });
});

describe('values handed in (flow inputs, data action outputs)', () => {
  /** A list of lists `levels` deep. */
  const nested = (levels: number): unknown => {
    let value: unknown = 'x';
    for (let i = 0; i < levels; i++) value = [value];
    return value;
  };
  const withLookup = (data: unknown) =>
    harness({
      actions: [defineAction({ name: 'nestedLookup', input: z.object({}), output: z.object({ data: z.unknown() }), handler: () => ({ data }) })],
    });

  it('refuses a flow input that nests more than 32 levels before the session starts', async () => {
    const { runtime } = withLookup([]);
    await expect(runtime.startSession({ flow: 'deep-data', inputs: { items: nested(33) } })).rejects.toMatchObject({
      code: 'FLOW_INPUT_INVALID',
      message: "deep-data: the input 'items' nests lists and maps more than 32 levels deep",
    });
    const ok = await runtime.startSession({ flow: 'deep-data', inputs: { items: nested(32) } });
    expect(ok.commands[0]).toEqual({ type: 'say', text: 'Found 0 and 1.' });
  });

  it("takes a data action's output nested more than 32 levels as its error outcome", async () => {
    const deep = await withLookup(nested(32)).runtime.startSession({ flow: 'deep-data' });
    expect(deep.path).toEqual(['lookUp', 'failed', 'bye']);
    const ok = await withLookup(nested(31)).runtime.startSession({ flow: 'deep-data' });
    expect(ok.path).toEqual(['lookUp', 'found', 'bye']);
  });

  it('never overflows the stack on a value thousands of levels deep', async () => {
    const { runtime } = withLookup(nested(100_000));
    await expect(runtime.startSession({ flow: 'deep-data', inputs: { items: nested(100_000) } })).rejects.toMatchObject({ code: 'FLOW_INPUT_INVALID' });
    const t = await runtime.startSession({ flow: 'deep-data' });
    expect(t.path).toEqual(['lookUp', 'failed', 'bye']);
  });
});
