/**
 * Data actions get an idempotency key that a turn run again makes again: a worker that died
 * mid-turn (its charge's answer lost) and another worker running the retried webhook on the
 * same stored session pass the gateway the same key, so the gateway can refuse a second charge.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { MemorySessionStore, createRuntime, defineAction, keyRing, type Flow } from '../src/index.js';

const load = (name: string): Flow => parse(readFileSync(join(import.meta.dirname, 'fixtures', `${name}.yaml`), 'utf8')) as Flow;
const CARD = '4916338506082832';

function charging(keys: string[], hang: boolean) {
  return defineAction({
    name: 'chargeCard',
    secure: true,
    input: z.object({ card: z.string(), cvv: z.string(), amount: z.number() }),
    output: z.object({ reference: z.string() }),
    limits: { retries: 1, backoffMs: 1 },
    handler: async (_input, { idempotencyKey, attempt, signal }) => {
      keys.push(idempotencyKey);
      // The dying worker: the gateway's answer never comes back to it.
      if (hang) await new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(new Error('cut off')), { once: true }));
      if (attempt === 1 && keys.length === 1) throw new Error('gateway hiccup');
      return { reference: 'PAY-0042' };
    },
  });
}

describe('idempotency keys of data actions', () => {
  it('are the same for every try and for the same turn run again by another worker; shutdown cuts a hanging call off', async () => {
    const store = new MemorySessionStore();
    const secrets = keyRing({ k1: Buffer.alloc(32, 3) }, 'k1');
    const flows = [load('take-payment')];
    const dying: string[] = [];
    const survivor: string[] = [];
    const a = createRuntime({ flows, store, secrets, actions: [charging(dying, true)] });
    const b = createRuntime({ flows, store, secrets, actions: [charging(survivor, false)] });
    const s = await a.startSecureSession({ conversationId: 'c1', agentId: 'agent-1', flow: 'take-payment', reserveAgent: false, inputs: { amount: 10 } });
    await a.handle(s.sessionId, { type: 'digits', digits: CARD }, { requestId: '1' });
    // Worker a takes the CVV and calls the gateway, and dies before the answer comes back.
    const lost = a.handle(s.sessionId, { type: 'digits', digits: '123' }, { requestId: '2' });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(dying.length).toBeGreaterThanOrEqual(1);
    // Worker b gets Twilio's retry of the same webhook, on the session as stored before a's turn.
    const turn = await b.handle(s.sessionId, { type: 'digits', digits: '123' }, { requestId: '2' });
    expect(turn.status).toBe('ended');
    expect(survivor).toHaveLength(2); // a failed first try, then the charge: one key for both
    expect(new Set(survivor).size).toBe(1);
    expect(survivor[0]).toBe(dying[0]);
    expect(survivor[0]).toMatch(new RegExp(`^${s.sessionId}:\\d+:0\\.charge:1$`));
    // Nothing of the card in the key.
    expect((survivor[0] ?? '').includes(CARD.slice(-4)), 'must not be there').toBe(false);
    await a.shutdown();
    await lost.catch(() => undefined);
  });
});
