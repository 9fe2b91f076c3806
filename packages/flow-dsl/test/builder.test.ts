/**
 * The builder at run time: `defineFlow` gives the same model as YAML, checks what the types
 * cannot, and `toYaml` writes a flow that loads and lints back to the same model.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ACTIONS, ACTION_NAMES, type Flow } from '@callflow/flow-core';
import { describe, expect, it } from 'vitest';
import { NEXT_ACTIONS, ON_OUTCOMES, TERMINAL_ACTIONS } from '../src/builder/outcomes.js';
import { defineFlow, FlowValidationError, lint, loadFlowText, toYaml, validateFlow } from '../src/index.js';

const takePaymentYaml = readFileSync(join(import.meta.dirname, 'fixtures', 'builder', 'take-payment.yaml'), 'utf8');

const takePayment = () =>
  defineFlow({
    flow: 'take-payment',
    kind: 'secure',
    description: 'Card payment with the agent reserved, then back to the agent',
    reservation: 'agent',
    inputs: { amount: { type: 'number', required: true } },
    outputs: { paymentRef: { type: 'string' } },
    variables: {
      cardNumber: { type: 'string', secure: true },
      cvv: { type: 'string', secure: true },
      paymentRef: { type: 'string' },
    },
    onError: 'sorry',
    start: 'askCard',
    states: {
      askCard: {
        collect: {
          prompt: 'Please key in your card number, then the hash key.',
          into: 'cardNumber',
          digits: { min: 13, max: 19, finishOnKey: '#' },
          validate: 'luhn',
          attempts: 3,
          timeout: '8s',
        },
        on: { success: 'askCvv', failure: 'sorry' },
      },
      askCvv: {
        collect: { prompt: 'And the security code.', into: 'cvv', digits: { min: 3, max: 4 } },
        on: { success: 'charge', failure: 'sorry' },
      },
      charge: {
        invoke: {
          action: 'chargeCard',
          input: { card: 'cardNumber', cvv: 'cvv', amount: 'amount' },
          output: { paymentRef: 'result.reference' },
          timeout: '5s',
        },
        on: { success: 'thanks', error: 'sorry', timeout: 'sorry' },
      },
      thanks: { say: 'Thank you. Your reference is ${paymentRef}.', next: 'backToAgent' },
      backToAgent: { returnToAgent: { outputs: { paymentRef: 'paymentRef' } } },
      sorry: { say: 'Sorry, we could not take the payment.', next: 'toBilling' },
      toBilling: { transfer: { queue: 'billing' } },
    },
  });

function thrown(f: () => unknown): FlowValidationError {
  try {
    f();
  } catch (error) {
    if (error instanceof FlowValidationError) return error;
    throw error;
  }
  throw new Error('expected a FlowValidationError');
}

describe('defineFlow', () => {
  it("builds the contract's take-payment flow as the same model as its YAML", () => {
    const loaded = loadFlowText(takePaymentYaml, 'take-payment.yaml');
    expect(loaded.flow).toBeDefined();
    expect(takePayment()).toEqual(loaded.flow);
  });

  it('returns a plain object, not the definition itself', () => {
    const definition = { flow: 'hello', kind: 'inbound', start: 'bye', states: { bye: { disconnect: null } } } as const;
    const flow = defineFlow(definition);
    expect(flow).toEqual(definition);
    expect(flow).not.toBe(definition);
  });

  it('throws a FlowValidationError naming the path of what the types cannot check', () => {
    const error = thrown(() =>
      defineFlow({
        flow: 'bad name!',
        kind: 'inbound',
        start: 'ask',
        states: {
          ask: { collect: { into: 'x', timeout: 'soon' }, on: { success: 'bye', failure: 'bye' } },
          bye: { disconnect: null },
        },
      }),
    );
    expect(error.code).toBe('FLOW_VALIDATION');
    expect(error.flow).toBe('bad name!');
    expect(error.issues.map((i) => [i.code, i.path.join('.')])).toContainEqual(['schema', 'flow']);
    expect(error.issues.some((i) => i.path.join('.').startsWith('states.ask.collect.timeout'))).toBe(true);
    expect(error.message).toMatch(/^flow 'bad name!': \S+: /);
  });

  it('never puts a value of the flow in the error message, only names and paths', () => {
    const error = thrown(() =>
      validateFlow({
        flow: 'leaky',
        kind: 'inbound',
        variables: { pin: { type: 'string', secure: true, default: 12345678 } },
        start: 'bye',
        states: { bye: { disconnect: { reason: 'x', extra: 'sensitive-4111111111111111' } } },
      }),
    );
    expect((error.message).includes('4111111111111111'), 'must not be there').toBe(false);
    expect((JSON.stringify(error.issues)).includes('4111111111111111'), 'must not be there').toBe(false);
  });
});

describe('validateFlow', () => {
  it('reports transitions to states that do not exist and missing required outcomes (for flows built without the types)', () => {
    const error = thrown(() =>
      validateFlow({
        flow: 'untyped',
        kind: 'inbound',
        start: 'ask',
        onHangup: 'gone',
        states: {
          ask: { collect: { into: 'x' }, on: { success: 'nowhere' } },
          route: { switch: { cases: [{ when: 'true', goto: 'ask' }] } },
          hello: { say: 'Hi' },
        },
      }),
    );
    expect(error.issues.map((i) => `${i.code} ${i.path.join('.')}`)).toEqual([
      'unknown-state onHangup',
      'unknown-state states.ask.on.success',
      'dead-end states.ask.on.failure',
      'dead-end states.route.switch.default',
      'dead-end states.hello.next',
    ]);
    expect(error.issues[1]!.message).toBe("states.ask.on.success: there is no state 'nowhere'");
  });

  it('accepts an invoke without on.error when the flow has onError', () => {
    const flow = validateFlow({
      flow: 'with-on-error',
      kind: 'inbound',
      onError: 'bye',
      start: 'call',
      states: { call: { invoke: { action: 'lookup' }, on: { success: 'bye' } }, bye: { disconnect: null } },
    });
    expect(flow.flow).toBe('with-on-error');
  });
});

describe('toYaml', () => {
  it('writes a flow that loads back to an equal model', () => {
    const flow = takePayment();
    const loaded = loadFlowText(toYaml(flow), 'take-payment.yaml');
    expect(loaded.diagnostics).toEqual([]);
    expect(loaded.flow).toEqual(flow);
  });

  it('adds the $schema comment for editors when asked', () => {
    const schema = '../node_modules/@callflow/flow-dsl/schema/flow.schema.json';
    const text = toYaml(takePayment(), { schema });
    expect(text.split('\n')[0]).toBe(`# yaml-language-server: $schema=${schema}`);
  });

  it('writes a flow that callflow lint can check', () => {
    const flow: Flow = defineFlow({
      flow: 'hello',
      kind: 'inbound',
      start: 'greet',
      states: { greet: { say: 'Hello.', next: 'bye' }, bye: { disconnect: null } },
    });
    const [result] = lint({ targets: [{ file: 'hello.yaml', text: toYaml(flow) }] });
    expect(result!.messages.filter((m) => m.ruleId === 'schema')).toEqual([]);
  });
});

describe("the builder's outcome table", () => {
  it("agrees with flow-core's ACTIONS table", () => {
    for (const name of ACTION_NAMES) {
      const spec = ACTIONS[name];
      if (spec.terminal) expect(TERMINAL_ACTIONS as readonly string[]).toContain(name);
      else if (spec.transitions === 'next' && name !== 'switch') expect(NEXT_ACTIONS as readonly string[]).toContain(name);
      else if (spec.transitions === 'on') {
        const table = ON_OUTCOMES[name as keyof typeof ON_OUTCOMES];
        expect(table, name).toBeDefined();
        expect([...table.required].sort(), name).toEqual(spec.outcomes.filter((o) => o.required).map((o) => o.name).sort());
        expect([...table.optional].sort(), name).toEqual(spec.outcomes.filter((o) => !o.required).map((o) => o.name).sort());
        expect([...table.byOnError].sort(), name).toEqual(
          spec.outcomes.filter((o) => o.required && o.fallback === 'onError').map((o) => o.name).sort(),
        );
      }
    }
  });
});
