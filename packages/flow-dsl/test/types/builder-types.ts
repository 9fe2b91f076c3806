/**
 * Type tests of `defineFlow`: the valid definitions must compile, and every line marked
 * `@ts-expect-error` must be an error. test/builder-types.test.ts compiles this file with
 * tsc and requires zero diagnostics, so an expected error that goes away fails the suite.
 */
import type { Flow } from '@callflow/flow-core';
import { defineFlow } from '../../src/builder/index.js';

// ── valid definitions ─────────────────────────────────────────────────────────────────

defineFlow({
  flow: 'take-payment',
  kind: 'secure',
  reservation: 'agent',
  inputs: { amount: { type: 'number', required: true } },
  outputs: { paymentRef: { type: 'string' } },
  variables: {
    cardNumber: { type: 'string', secure: true },
    paymentRef: { type: 'string' },
  },
  onError: 'sorry',
  start: 'askCard',
  states: {
    askCard: {
      collect: { prompt: 'Card number, please.', into: 'cardNumber', digits: { min: 13, max: 19, finishOnKey: '#' } },
      on: { success: 'charge', failure: 'sorry' },
    },
    charge: {
      invoke: { action: 'chargeCard', input: { card: 'cardNumber' }, output: { paymentRef: 'result.reference' } },
      on: { success: 'backToAgent', timeout: 'sorry' }, // error may be left out: the flow has onError
    },
    backToAgent: { returnToAgent: { outputs: { paymentRef: 'paymentRef' } } },
    sorry: { say: 'Sorry.', next: 'toBilling' },
    toBilling: { transfer: { queue: 'billing' } },
  },
});

defineFlow({
  flow: 'every-action',
  kind: 'inbound',
  onHangup: 'bye',
  start: 'menu',
  states: {
    menu: {
      menu: { prompt: 'Press 1 or 2.', options: { '1': 'route', '2': 'auth' }, attempts: 3 },
      on: { failure: 'bye', noInput: 'bye' },
    },
    route: {
      switch: { cases: [{ when: 'true', goto: 'set' }, { when: 'false', goto: 'log' }], default: 'bye' },
    },
    set: { set: { n: '1' }, next: 'log' },
    log: { log: { message: 'routed', level: 'info' }, next: 'play' },
    play: { play: 'https://example.com/a.wav', next: 'rec' },
    rec: { recording: 'pause', next: 'sub' },
    sub: { callFlow: { flow: 'lookup', inputs: { a: 'n' } }, next: 'noDefault' },
    noDefault: { switch: { cases: [{ when: 'true', goto: 'dial' }] }, next: 'dial' },
    dial: { connect: { number: 'n', callerId: '+15550100100' }, on: { completed: 'bye', failed: 'secure', busy: 'bye' } },
    auth: { authenticate: { to: 'n' }, on: { verified: 'secure', failed: 'bye' } },
    secure: { enterSecureFlow: { flow: 'take-payment' } },
    bye: { disconnect: null, description: 'The end' },
  },
});

// The example of docs/builder.md.
defineFlow({
  flow: 'billing-line',
  kind: 'inbound',
  variables: { account: { type: 'string' } },
  start: 'askAccount',
  states: {
    askAccount: {
      collect: { prompt: 'Please key in your account number.', into: 'account', digits: { length: 8 } },
      on: { success: 'toBilling', failure: 'toBilling' },
    },
    toBilling: { transfer: { queue: 'billing', data: { account: 'account' } } },
  },
});

// A definition declared first keeps its literal types with `as const`.
const helloDefinition = {
  flow: 'hello',
  kind: 'inbound',
  start: 'greet',
  states: { greet: { say: 'Hello.', next: 'bye' }, bye: { disconnect: null } },
} as const;
const hello: Flow = defineFlow(helloDefinition);
void hello;

// ── transitions to states that do not exist ───────────────────────────────────────────

defineFlow({
  flow: 'unknown-in-next',
  kind: 'inbound',
  start: 'hello',
  states: {
    // @ts-expect-error next names a state that does not exist
    hello: { say: 'Hi', next: 'nowhere' },
    bye: { disconnect: null },
  },
});

defineFlow({
  flow: 'unknown-in-on',
  kind: 'inbound',
  start: 'ask',
  states: {
    ask: {
      collect: { into: 'x' },
      // @ts-expect-error on.failure names a state that does not exist
      on: { success: 'bye', failure: 'nowhere' },
    },
    bye: { disconnect: null },
  },
});

defineFlow({
  flow: 'unknown-in-menu',
  kind: 'inbound',
  start: 'choose',
  states: {
    choose: {
      // @ts-expect-error a menu option names a state that does not exist
      menu: { prompt: 'Press 1.', options: { '1': 'nowhere' } },
      on: { failure: 'bye' },
    },
    bye: { disconnect: null },
  },
});

defineFlow({
  flow: 'unknown-in-switch-case',
  kind: 'inbound',
  start: 'route',
  states: {
    route: {
      // @ts-expect-error a switch case goes to a state that does not exist
      switch: { cases: [{ when: 'true', goto: 'nowhere' }], default: 'bye' },
    },
    bye: { disconnect: null },
  },
});

defineFlow({
  flow: 'unknown-in-switch-default',
  kind: 'inbound',
  start: 'route',
  states: {
    route: {
      // @ts-expect-error switch.default names a state that does not exist
      switch: { cases: [{ when: 'true', goto: 'bye' }], default: 'nowhere' },
    },
    bye: { disconnect: null },
  },
});

defineFlow({
  flow: 'unknown-start',
  kind: 'inbound',
  // @ts-expect-error start names a state that does not exist
  start: 'nowhere',
  states: { bye: { disconnect: null } },
});

defineFlow({
  flow: 'unknown-on-error',
  kind: 'inbound',
  // @ts-expect-error onError names a state that does not exist
  onError: 'nowhere',
  start: 'bye',
  states: { bye: { disconnect: null } },
});

defineFlow({
  flow: 'unknown-on-hangup',
  kind: 'inbound',
  // @ts-expect-error onHangup names a state that does not exist
  onHangup: 'nowhere',
  start: 'bye',
  states: { bye: { disconnect: null } },
});

// ── missing required outcomes ─────────────────────────────────────────────────────────

defineFlow({
  flow: 'collect-without-failure',
  kind: 'inbound',
  start: 'ask',
  states: {
    ask: {
      collect: { into: 'x' },
      // @ts-expect-error collect needs on.failure
      on: { success: 'bye' },
    },
    bye: { disconnect: null },
  },
});

defineFlow({
  flow: 'invoke-without-error-or-on-error',
  kind: 'inbound',
  start: 'call',
  states: {
    call: {
      invoke: { action: 'lookup' },
      // @ts-expect-error invoke needs on.error when the flow has no onError
      on: { success: 'bye' },
    },
    bye: { disconnect: null },
  },
});

defineFlow({
  flow: 'say-without-next',
  kind: 'inbound',
  start: 'hello',
  states: {
    // @ts-expect-error say needs next
    hello: { say: 'Hi' },
    bye: { disconnect: null },
  },
});

defineFlow({
  flow: 'switch-without-default',
  kind: 'inbound',
  start: 'route',
  states: {
    // @ts-expect-error a switch needs a default (switch.default or next)
    route: { switch: { cases: [{ when: 'true', goto: 'bye' }] } },
    bye: { disconnect: null },
  },
});

// ── outcomes the action does not have ─────────────────────────────────────────────────

defineFlow({
  flow: 'unknown-outcome',
  kind: 'inbound',
  start: 'ask',
  states: {
    ask: {
      collect: { into: 'x' },
      // @ts-expect-error collect has no outcome 'verified'
      on: { success: 'bye', failure: 'bye', verified: 'bye' },
    },
    bye: { disconnect: null },
  },
});

defineFlow({
  flow: 'on-on-a-next-action',
  kind: 'inbound',
  start: 'hello',
  states: {
    // @ts-expect-error say takes next, not on
    hello: { say: 'Hi', on: { success: 'bye' } },
    bye: { disconnect: null },
  },
});

// ── transitions on terminal states ────────────────────────────────────────────────────

defineFlow({
  flow: 'next-on-terminal',
  kind: 'inbound',
  start: 'toQueue',
  states: {
    // @ts-expect-error transfer ends the flow: no next
    toQueue: { transfer: { queue: 'billing' }, next: 'bye' },
    bye: { disconnect: null },
  },
});

defineFlow({
  flow: 'on-on-terminal',
  kind: 'subflow',
  start: 'done',
  states: {
    // @ts-expect-error return ends the flow: no on
    done: { return: null, on: { success: 'done' } },
  },
});

// ── a state must hold exactly one action ──────────────────────────────────────────────

defineFlow({
  flow: 'two-actions',
  kind: 'inbound',
  start: 'hello',
  states: {
    // @ts-expect-error a state holds one action, not say and play
    hello: { say: 'Hi', play: 'https://example.com/a.wav', next: 'bye' },
    bye: { disconnect: null },
  },
});

defineFlow({
  flow: 'unknown-key-in-state',
  kind: 'inbound',
  start: 'hello',
  states: {
    // @ts-expect-error nxt is not a key of a state
    hello: { say: 'Hi', nxt: 'bye', next: 'bye' },
    bye: { disconnect: null },
  },
});
