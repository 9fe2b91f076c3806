/**
 * Sessions kept open between turns (`sessionCacheSize`): a turn may skip parsing and opening
 * its stored session only when the store holds exactly what this process wrote last. Another
 * process's write, a deleted session, a changed returned turn: each must be seen. Sessions that
 * hold a secure value are never kept open.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { MemorySessionStore, createRuntime, keyRing, type Flow, type RuntimeOptions } from '../src/index.js';

const load = (name: string): Flow => parse(readFileSync(join(import.meta.dirname, 'fixtures', `${name}.yaml`), 'utf8')) as Flow;
const CARD = '4916338506082832';

function pair(extra: Partial<RuntimeOptions> = {}) {
  const store = new MemorySessionStore();
  const secrets = keyRing({ k1: Buffer.alloc(32, 7) }, 'k1');
  const options: RuntimeOptions = { flows: [load('ivr'), load('get-balance'), load('self-pay'), load('take-payment')], store, secrets, ...extra };
  return { store, a: createRuntime(options), b: createRuntime(options) };
}

/** What a runtime keeps open (an internal, read for the secure-values property below). */
const openIds = (runtime: unknown): string[] => [...(runtime as { openSessions: Map<string, unknown> }).openSessions.keys()];

describe('sessions kept open between turns', () => {
  it('sees a turn another process took in between (its own open copy is stale)', async () => {
    const { a, b } = pair();
    const start = await a.startSession({ flow: 'main-ivr', call: { caller: '+15555551001' } });
    expect(openIds(a)).toContain(start.sessionId);
    // Process b answers the menu with 2 (account number); then a gets the next event.
    const viaB = await b.handle(start.sessionId, { type: 'digits', digits: '2' });
    expect(viaB.commands.map((c) => c.type)).toEqual(['collect']);
    const viaA = await a.handle(start.sessionId, { type: 'digits', digits: '123456' });
    // a ran the collect b started (not the menu it had open): the lookup and the balance.
    expect(viaA.path).toContain('lookup');
    expect((await a.inspect(start.sessionId))?.turns).toBe(3);
  });

  it('does not revive a session the store no longer has', async () => {
    const { a, store } = pair();
    const start = await a.startSession({ flow: 'main-ivr' });
    await store.delete(start.sessionId);
    await expect(a.handle(start.sessionId, { type: 'digits', digits: '2' })).rejects.toMatchObject({ code: 'SESSION_NOT_FOUND' });
  });

  it('keeps a repeat answer as it was even when the caller changes the turn it was given', async () => {
    const { a } = pair();
    const start = await a.startSession({ flow: 'main-ivr' });
    const first = await a.handle(start.sessionId, { type: 'digits', digits: '2' }, { requestId: '1' });
    const said = JSON.stringify(first.commands);
    first.commands.length = 0;
    first.commands.push({ type: 'say', text: 'changed' });
    const again = await a.handle(start.sessionId, { type: 'digits', digits: '2' }, { requestId: '1' });
    expect(again.replayed).toBe(true);
    expect(JSON.stringify(again.commands)).toBe(said);
  });

  it('never keeps open a session that holds a secure value: it is opened from the store each turn', async () => {
    const { a } = pair();
    const s = await a.startSecureSession({ conversationId: 'conv-1', agentId: 'agent-1', flow: 'take-payment', reserveAgent: false, inputs: { amount: 10 } });
    expect(openIds(a)).toContain(s.sessionId); // nothing secure held yet
    await a.handle(s.sessionId, { type: 'digits', digits: CARD });
    expect((openIds(a)).includes(s.sessionId), 'must not be there').toBe(false);
    const next = await a.handle(s.sessionId, { type: 'digits', digits: '123' });
    expect(next.status).toBe('ended');
    expect((openIds(a)).includes(s.sessionId), 'must not be there').toBe(false);
  });

  it('keeps at most sessionCacheSize sessions, and none with 0', async () => {
    const small = pair({ sessionCacheSize: 2 });
    for (let i = 0; i < 5; i++) await small.a.startSession({ flow: 'main-ivr' });
    expect(openIds(small.a)).toHaveLength(2);
    const none = pair({ sessionCacheSize: 0 });
    const s = await none.a.startSession({ flow: 'main-ivr' });
    expect(openIds(none.a)).toHaveLength(0);
    expect((await none.a.handle(s.sessionId, { type: 'digits', digits: '2' })).commands.map((c) => c.type)).toEqual(['collect']);
  });
});

describe('the recording state a turn reports', () => {
  it('is paused from a secure flow start to its end, in a replay too, and follows a hand-off', async () => {
    const { a } = pair();
    const s = await a.startSecureSession({ conversationId: 'conv-1', agentId: 'agent-1', flow: 'take-payment', reserveAgent: false, inputs: { amount: 10 } });
    expect(s.recordingPaused).toBe(true);
    const card = await a.handle(s.sessionId, { type: 'digits', digits: CARD }, { requestId: '1', requestOrder: 1 });
    expect(card.recordingPaused).toBe(true);
    // A late callback gets the last turn again, with the state it left the recording in.
    const late = await a.handle(s.sessionId, { type: 'noInput' }, { requestId: '0', requestOrder: 0 });
    expect([late.replayed, late.recordingPaused]).toEqual([true, true]);
    const end = await a.handle(s.sessionId, { type: 'digits', digits: '123' }, { requestId: '2', requestOrder: 2 });
    expect([end.status, end.recordingPaused]).toEqual(['ended', false]);

    const ivr = await a.startSession({ flow: 'main-ivr' });
    expect(ivr.recordingPaused).toBe(false);
    const handedOn = await a.handle(ivr.sessionId, { type: 'digits', digits: '1' });
    expect(handedOn.nextSessionId).toBeDefined();
    expect(handedOn.recordingPaused).toBe(true);
  });
});
