/**
 * A flow's inputs are checked against its declarations before a session starts: a missing,
 * unknown or mistyped input is refused at once with every problem named (never the value), and
 * nothing starts — no session stored, no agent reserved.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { FlowInputError, MemoryReservationStore, MemorySessionStore, createRuntime, type Flow } from '../src/index.js';

const load = (name: string): Flow => parse(readFileSync(join(import.meta.dirname, 'fixtures', `${name}.yaml`), 'utf8')) as Flow;
const CARD = '4916338506082832';

describe('flow inputs', () => {
  const store = new MemorySessionStore();
  const reservations = new MemoryReservationStore();
  const runtime = createRuntime({ flows: [load('take-payment'), load('get-balance'), load('ivr'), load('self-pay')], store, reservations });
  const secure = (inputs: Record<string, unknown>) =>
    runtime.startSecureSession({ conversationId: 'c1', agentId: 'agent-9', flow: 'take-payment', reserveAgent: true, inputs });

  it('refuses a missing required input, and reserves nobody', async () => {
    const refused = secure({});
    await expect(refused).rejects.toBeInstanceOf(FlowInputError);
    await expect(refused).rejects.toMatchObject({ code: 'FLOW_INPUT_INVALID', problems: ["take-payment: the input 'amount' (number) is required"] });
    expect(await runtime.isReserved('agent-9')).toBe(false);
    expect(store.ids()).toEqual([]);
  });

  it('refuses a mistyped or unknown input, naming each problem but never the value', async () => {
    const error = (await secure({ amount: '42.50', card: CARD }).then(
      () => undefined,
      (e: unknown) => e,
    )) as FlowInputError;
    expect(error).toBeInstanceOf(FlowInputError);
    expect(error.problems).toEqual([
      "take-payment: no input named 'card' (inputs: amount)",
      "take-payment: the input 'amount' must be a number, not a string",
    ]);
    expect((error.message).includes(CARD), 'must not be there').toBe(false);
    expect((error.message).includes('42.50'), 'must not be there').toBe(false);
    expect(await runtime.isReserved('agent-9')).toBe(false);
  });

  it('checks IVR starts too, and takes good inputs (an int is a number; defaults fill the rest)', async () => {
    await expect(runtime.startSession({ flow: 'get-balance', inputs: { account: 123456 } })).rejects.toMatchObject({
      problems: ["get-balance: the input 'account' must be a string, not an int"],
    });
    const ok = await secure({ amount: 42 });
    expect(ok.status).toBe('waiting');
    expect(await runtime.isReserved('agent-9')).toBe(true);
  });
});
