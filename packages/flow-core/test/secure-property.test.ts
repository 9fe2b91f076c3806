/**
 * Property: whatever path a caller takes through a secure flow — random card numbers and
 * names, wrong inputs, silence, hang-ups, back ends that fail or time out — no byte the
 * runtime emits (log records, events, errors, stored snapshots, simulator transcripts)
 * holds a secure value, and the agent reservation never outlives the secure session.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
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
  luhnValid,
  simulate,
  type CallEvent,
  type Flow,
} from '../src/index.js';

const flow = parse(readFileSync(join(import.meta.dirname, 'fixtures', 'named-payment.yaml'), 'utf8')) as Flow;

/** A Luhn-valid card number of 16 digits. */
const cardArb = fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 15, maxLength: 15 }).map((digits) => {
  const body = [4, ...digits.slice(1)].join('');
  for (let check = 0; check <= 9; check++) if (luhnValid(body + check)) return body + check;
  throw new Error('unreachable');
});
/** A name of two capitalised words, long enough not to occur by chance. */
const word = fc.stringMatching(/^[A-Z][a-z]{5,9}$/);
const nameArb = fc.tuple(word, word).map(([a, b]) => `${a} ${b}`);
const cvvArb = fc.stringMatching(/^[1-9]\d{2}$/);
const outcomeArb = fc.constantFrom('success', 'error', 'timeout', 'throwsWithSecret');
type Step = 'name' | 'card' | 'badCard' | 'cvv' | 'noinput' | 'hangup' | 'garbage';
const stepsArb = fc.array(fc.constantFrom<Step>('name', 'card', 'badCard', 'cvv', 'noinput', 'hangup', 'garbage'), { maxLength: 12 });

/** The windows of a secret that must never be seen: the whole, spaced and dashed forms, 6-character pieces. */
function needles(secret: string): string[] {
  const out = new Set([secret, secret.replace(/(\d{4})(?=\d)/g, '$1 '), secret.replace(/(\d{4})(?=\d)/g, '$1-')]);
  for (let i = 0; i + 6 <= secret.length; i++) out.add(secret.slice(i, i + 6));
  return [...out];
}

const envSeed = Number(process.env.CALLFLOW_PROPERTY_SEED);
const SEED = Number.isFinite(envSeed) ? envSeed : process.env.CI ? 20261202 : undefined;

describe('secure flows under random callers', () => {
  it('never emit a secure value and never leave the agent reserved', async () => {
    await fc.assert(
      fc.asyncProperty(cardArb, nameArb, cvvArb, outcomeArb, stepsArb, async (card, name, cvv, outcome, steps) => {
        const clock = new ManualClock(1_767_225_600_000);
        const store = new MemorySessionStore(clock);
        const reservations = new MemoryReservationStore(clock);
        const logger = new MemoryLogger();
        const chargeCard = defineAction({
          name: 'chargeCard',
          secure: true,
          input: z.object({ card: z.string(), cvv: z.string(), holder: z.string(), amount: z.number() }),
          output: z.object({ reference: z.string() }),
          limits: { timeoutMs: 5, breakerThreshold: 1000 },
          handler: async (input, { signal }) => {
            if (outcome === 'error') throw new Error('gateway unavailable');
            if (outcome === 'throwsWithSecret') throw new Error(`declined ${input.card} for ${input.holder} cvv ${input.cvv}`);
            if (outcome === 'timeout') await new Promise((r) => signal.addEventListener('abort', r));
            return { reference: 'REF-77' };
          },
        });
        const runtime = createRuntime({ flows: [flow], actions: [chargeCard], clock, store, reservations, logger });
        const emitted: string[] = [];
        for (const name of ['session.started', 'state.entered', 'command', 'input', 'action.started', 'action.succeeded', 'action.failed', 'reservation.reserved', 'reservation.released', 'secure.entered', 'secure.exited', 'alert', 'session.ended', 'error'] as const) {
          runtime.events.on(name, (p: unknown) => emitted.push(JSON.stringify(p)));
        }
        const errors: string[] = [];
        let turn = await runtime.startSecureSession({
          conversationId: 'conv', agentId: 'agent-1', flow: 'named-payment', inputs: { amount: 12.5 }, reserveAgent: true,
          call: { caller: '+15555550142', callId: 'CA-prop' },
        });
        const toEvent = (s: Step): CallEvent =>
          s === 'name' ? { type: 'speech', text: name }
            : s === 'card' ? { type: 'digits', digits: card }
              : s === 'badCard' ? { type: 'digits', digits: `${card.slice(0, -1)}${(Number(card.at(-1)) + 1) % 10}` }
                : s === 'cvv' ? { type: 'digits', digits: cvv }
                  : s === 'noinput' ? { type: 'noInput' }
                    : s === 'hangup' ? { type: 'hangup' }
                      : { type: 'digits', digits: '*' };
        for (const s of steps) {
          if (turn.status === 'ended') break;
          try {
            turn = await runtime.handle(turn.sessionId, toEvent(s));
          } catch (error) {
            errors.push(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
          }
        }
        if (turn.status !== 'ended') turn = await runtime.handle(turn.sessionId, { type: 'hangup' });

        const sim = await simulate([flow], {
          inputs: steps.map((s) => (s === 'name' ? name : s === 'card' ? card : s === 'cvv' ? cvv : s === 'noinput' ? 'noinput' : s === 'hangup' ? 'hangup' : '*')),
          actions: { chargeCard: outcome === 'success' ? { reference: 'REF-77' } : outcome === 'timeout' ? { timeout: true } : { error: `declined ${card}` } },
          flowInputs: { amount: 12.5 },
        });

        // Timestamps and ids are the runtime's own digits: drop them so that a card number that
        // happens to share six digits with a timestamp is not mistaken for a leak.
        const everything = [emitted.join('\n'), logger.text(), store.rawValues().join('\n'), errors.join('\n'), JSON.stringify(sim), JSON.stringify(await runtime.inspect(turn.sessionId))]
          .join('\n')
          .replace(/\b1[67]\d{11}\b/g, '<time>')
          .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uuid>');
        for (const needle of [...needles(card), name, ...name.split(' ')]) {
          expect(everything.includes(needle), `found '${needle}' of a secret`).toBe(false);
        }
        expect(everything).not.toMatch(new RegExp(`cvv ${cvv}|"${cvv}"`));
        expect(turn.status).toBe('ended');
        expect(await runtime.isReserved('agent-1')).toBe(false);
        expect(await reservations.list()).toEqual([]);
      }),
      // CI runs one fixed seed (a red CI is a finding, never luck); CALLFLOW_PROPERTY_SEED replays a failure
      { numRuns: Number(process.env.PROPERTY_RUNS ?? 150), ...(SEED !== undefined ? { seed: SEED } : {}) },
    );
  }, 120_000);
});
