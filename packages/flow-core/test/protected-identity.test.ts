import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { MemoryLogger, MemorySessionStore, createRuntime, defineAction, type Flow } from '../src/index.js';

const flow = parse(readFileSync(join(import.meta.dirname, 'fixtures', 'vetted.yaml'), 'utf8')) as Flow;

function run(isProtected: boolean) {
  const logger = new MemoryLogger();
  const store = new MemorySessionStore();
  const events: string[] = [];
  const lookupCaller = defineAction({
    name: 'lookupCaller',
    input: z.object({ phone: z.string() }),
    output: z.object({ protected: z.boolean(), name: z.string(), tier: z.string() }),
    handler: async () => ({ protected: isProtected, name: 'Rosalind Whitcombe', tier: 'gold' }),
  });
  const runtime = createRuntime({ flows: [flow], actions: [lookupCaller], logger, store });
  for (const name of ['command', 'state.entered', 'session.ended', 'action.succeeded'] as const) runtime.events.on(name, (p: unknown) => events.push(JSON.stringify(p)));
  return { runtime, logger, store, events };
}

describe('protected identity', () => {
  it('keeps a protected caller\'s personal data off the agent\'s screen and out of every log and event', async () => {
    const { runtime, logger, store, events } = run(true);
    const turn = await runtime.startSession({ flow: 'vetted', call: { caller: '+15555550177' } });
    const transfer = turn.commands.find((c) => c.type === 'transfer');
    expect(transfer).toEqual({ type: 'transfer', queue: 'vetted', data: { tier: 'gold', protectedIdentity: true } });
    const all = logger.text() + events.join('\n') + store.rawValues().join('\n');
    expect((all).includes('Rosalind'), 'must not be there').toBe(false);
    expect((all).includes('Whitcombe'), 'must not be there').toBe(false);
    expect((all).includes('5555550177'), 'must not be there').toBe(false);
  });

  it('hands an ordinary caller\'s name to the agent but still never logs it', async () => {
    const { runtime, logger } = run(false);
    const turn = await runtime.startSession({ flow: 'vetted', call: { caller: '+15555550177' } });
    expect(turn.commands.find((c) => c.type === 'transfer')).toEqual({ type: 'transfer', queue: 'care', data: { name: 'Rosalind Whitcombe', tier: 'gold' } });
    expect((logger.text()).includes('Rosalind'), 'must not be there').toBe(false);
    expect(logger.text()).toContain('is gold');
  });
});
