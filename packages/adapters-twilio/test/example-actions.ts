/**
 * The data actions the example flows call, registered as a host would: `defineAction` with zod
 * schemas for input and output, taken from each example's `callflow.config.yaml` (the e2e test
 * checks them against those files), called through flow-core's real `ActionRegistry` — so input
 * validation, the secure-only rule and output validation run as in production. The handlers
 * answer from a script set per call (the `actions:` of the examples' *.test.yaml).
 */
import { z } from 'zod';
import { ActionRegistry, defineAction, type ActionCallOptions, type ActionCaller, type ActionOutcome } from '@callflow/flow-core';

/** One scripted answer: an output, `{ error }` (the handler throws) or `{ timeout: true }`. */
export type ActionMock = Record<string, unknown>;

/** The schemas, by example project, exactly as each project's callflow.config.yaml declares them. */
export const EXAMPLE_ACTIONS = {
  'self-service-payment': {
    findAccount: {
      input: z.object({ accountNumber: z.string() }),
      output: z.object({ found: z.boolean(), accountId: z.string(), balance: z.number() }),
    },
    takePayment: {
      secure: true,
      input: z.object({ cardNumber: z.string(), expiry: z.string(), cvv: z.string(), amount: z.number(), accountId: z.string() }),
      output: z.object({ approved: z.boolean(), reference: z.string(), maskedCard: z.string() }),
    },
  },
  'protected-identity': {
    lookupCaller: {
      input: z.object({ phone: z.string() }),
      output: z.object({ found: z.boolean(), protectedIdentity: z.boolean(), name: z.string() }),
    },
  },
  'masked-callback': {
    lookupApplication: {
      input: z.object({ applicationNumber: z.string() }),
      output: z.object({ status: z.string(), clientPhone: z.string() }),
    },
  },
  'agent-card-payment': {
    chargeCard: {
      secure: true,
      input: z.object({ cardNumber: z.string(), expiry: z.string(), cvv: z.string(), amount: z.number(), invoiceId: z.string() }),
      output: z.object({ approved: z.boolean(), reference: z.string(), maskedCard: z.string() }),
    },
  },
  'sms-otp': {
    findCaller: {
      input: z.object({ phone: z.string() }),
      output: z.object({ found: z.boolean(), customerId: z.string(), mobile: z.string() }),
    },
    getBalance: { input: z.object({ customerId: z.string() }), output: z.object({ balance: z.number() }) },
    blockCard: { input: z.object({ customerId: z.string() }), output: z.object({ blocked: z.boolean() }) },
  },
} satisfies Record<string, Record<string, { secure?: boolean; input: z.ZodObject; output: z.ZodObject }>>;

/** Scripted time-outs wait for this long instead of the flow's own 3–15 s. */
const SCRIPTED_TIMEOUT_MS = 40;

/** Every example action in a real `ActionRegistry`, answering from `script`. */
export class ScriptedExampleActions implements ActionCaller {
  /** What each action answers on this call (reset per call). */
  script: Record<string, ActionMock> = {};
  /** Every handler call with the input it received (after the registry's validation). */
  readonly received: Array<{ name: string; input: Record<string, unknown> }> = [];
  private readonly registry = new ActionRegistry();

  constructor() {
    for (const actions of Object.values(EXAMPLE_ACTIONS)) {
      for (const [name, schema] of Object.entries(actions)) {
        this.registry.register(
          defineAction({
            name,
            input: schema.input,
            output: schema.output,
            secure: 'secure' in schema && schema.secure === true,
            // Scripted errors must not open the breaker for the next test's call.
            limits: { breakerThreshold: 1_000 },
            handler: (input, context) => this.answer(name, input as Record<string, unknown>, context.signal) as never,
          }),
        );
      }
    }
  }

  call(name: string, input: Record<string, unknown>, options: ActionCallOptions): Promise<ActionOutcome> {
    // A scripted time-out runs the registry's real time-out, only shorter than the flow's.
    const timeout = this.script[name]?.timeout === true;
    return this.registry.call(name, input, timeout ? { ...options, timeoutMs: SCRIPTED_TIMEOUT_MS } : options);
  }

  count(name: string): number {
    return this.received.filter((r) => r.name === name).length;
  }

  private async answer(name: string, input: Record<string, unknown>, signal: AbortSignal): Promise<Record<string, unknown>> {
    this.received.push({ name, input });
    const mock = this.script[name];
    if (mock === undefined) throw new Error(`no scripted answer for ${name}`);
    if (typeof mock.error === 'string') throw new Error(mock.error);
    if (mock.timeout === true) {
      return new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true }));
    }
    return mock;
  }
}
