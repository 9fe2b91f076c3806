/**
 * The actions of the flow language: the schema of each action's body, and the facts about
 * it that the linter and the runtime share (its ways out, whether it waits on the caller,
 * whether it ends the call). One table, so a new action is added in one place.
 */
import { z } from 'zod';
import {
  Duration,
  Expression,
  ExpressionMap,
  Identifier,
  Prompt,
  StateRef,
  Template,
  VariableName,
} from './primitives.js';

const Digits = z
  .object({
    min: z.number().int().min(1).max(64).optional(),
    max: z.number().int().min(1).max(64).optional(),
    length: z.number().int().min(1).max(64).optional().describe('Exactly this many digits'),
    finishOnKey: z.string().regex(/^[0-9*#]?$/, 'finishOnKey is one key: 0-9, * or #').optional(),
  })
  .strict();

const RetryFields = {
  attempts: z.number().int().min(1).max(20).optional().describe('Tries before the failure outcome (default 3)'),
  timeout: Duration.optional().describe('No-input time-out per try (default 5s)'),
  noInputPrompt: Prompt.optional(),
  noMatchPrompt: Prompt.optional(),
};

/** `say`: speak text. */
export const SayAction = z.union([
  Template,
  z.object({ text: Template, voice: z.string().optional(), language: z.string().optional() }).strict(),
]);
/** `play`: play an audio URL. */
export const PlayAction = z.union([
  Template,
  z.object({ url: Template, loop: z.number().int().min(0).max(100).optional() }).strict(),
]);
/** `collect`: prompt for digits or speech, validate, retry. */
export const CollectAction = z
  .object({
    prompt: Prompt.optional(),
    into: VariableName.describe('The variable that receives the collected value'),
    input: z.enum(['dtmf', 'speech', 'dtmf speech']).optional(),
    digits: Digits.optional(),
    speech: z
      .object({ hints: z.array(z.string()).optional(), language: z.string().optional() })
      .strict()
      .optional(),
    validate: z
      .string()
      .min(1)
      .optional()
      .describe('luhn | a regex string (/.../ or ^...$) | a CEL expression over `value`'),
    ...RetryFields,
  })
  .strict();
/** `menu`: prompt, one state per key, retries like `collect`. */
export const MenuAction = z
  .object({
    prompt: Prompt,
    options: z
      .record(z.string().regex(/^[0-9*#]$/, 'a menu option is one key: 0-9, * or #'), StateRef)
      .describe('Key pressed → state'),
    ...RetryFields,
  })
  .strict();
/** `switch`: first case whose `when` is true wins, else `default`. */
export const SwitchAction = z
  .object({
    cases: z.array(z.object({ when: Expression, goto: StateRef }).strict()).min(1),
    default: StateRef.optional(),
  })
  .strict();
/** `set`: assign variables from CEL expressions. */
export const SetAction = z.record(VariableName, Expression);
/** `invoke`: call a data action registered in code. */
export const InvokeAction = z
  .object({
    action: Identifier,
    input: ExpressionMap.optional().describe('Action input field → CEL'),
    output: z.record(VariableName, Expression).optional().describe('Variable → CEL over `result`'),
    timeout: Duration.optional(),
    retries: z.number().int().min(0).max(10).optional(),
  })
  .strict();
/** `callFlow`: run a subflow. */
export const CallFlowAction = z
  .object({
    flow: Identifier,
    inputs: ExpressionMap.optional().describe('Subflow input → CEL'),
    outputs: z
      .record(VariableName, Expression)
      .optional()
      .describe('Variable → CEL over `result` (the subflow outputs); a bare output name is short for result.NAME'),
  })
  .strict();
/** `authenticate`: one-time code by SMS. */
export const AuthenticateAction = z
  .object({
    to: Expression.describe('CEL: the number the code is sent to'),
    prompt: Prompt.optional(),
    message: Template.optional().describe('SMS text; {code} stands for the code'),
    digits: z.number().int().min(4).max(10).optional(),
    attempts: z.number().int().min(1).max(10).optional(),
    ttl: Duration.optional(),
    timeout: Duration.optional(),
  })
  .strict();
/** `connect`: outbound leg through a proxy number (number masking). */
export const ConnectAction = z
  .object({
    number: Expression.describe('CEL: the number to call (usually a secure variable)'),
    callerId: Template.describe('The proxy number shown to the called party'),
    timeout: Duration.optional(),
    prompt: Prompt.optional().describe('Said to the caller before dialling'),
    record: z.boolean().optional(),
  })
  .strict();
/** `pay`: the provider captures the card and charges it (Twilio `<Pay>`): no card data reaches the flow. */
export const PayAction = z
  .object({
    amount: Expression.describe('CEL: the amount to charge (a number)'),
    currency: z.string().regex(/^[A-Za-z]{3}$/, 'a three-letter currency code').optional(),
    description: Template.optional(),
    prompt: Prompt.optional().describe('Said before the card is asked for'),
    attempts: z.number().int().min(1).max(5).optional().describe('Tries the provider gives the caller (default 3)'),
    timeout: Duration.optional(),
    output: z.record(VariableName, Expression).optional().describe('Variable → CEL over `result` (reference, token, status)'),
  })
  .strict();
/** `recording`: pause or resume the call recording. */
export const RecordingAction = z.union([
  z.enum(['pause', 'resume']),
  z.object({ action: z.enum(['pause', 'resume']) }).strict(),
]);
/** `log`: write a log line (secure values are never written). */
export const LogAction = z.union([
  Template,
  z
    .object({ message: Template, level: z.enum(['debug', 'info', 'warn', 'error']).optional() })
    .strict(),
]);
/** `transfer`: hand the call to a queue, number, user, SIP address or another flow. */
export const TransferAction = z
  .object({
    queue: Template.optional(),
    number: Template.optional(),
    user: Template.optional(),
    sip: Template.optional(),
    flow: Identifier.optional(),
    inputs: ExpressionMap.optional().describe('For `flow:` transfers: the target flow inputs'),
    data: ExpressionMap.optional().describe('Attributes handed along (e.g. to the routing engine)'),
    prompt: Prompt.optional(),
  })
  .strict();
/** `enterSecureFlow`: hand the caller to a secure flow; this session ends. */
export const EnterSecureFlowAction = z
  .object({ flow: Identifier, inputs: ExpressionMap.optional() })
  .strict();
/** `disconnect`: hang up. */
export const DisconnectAction = z.union([
  z.null(),
  z.string(),
  z.object({ reason: z.string().optional(), prompt: Prompt.optional() }).strict(),
]);
/** `returnToAgent`: reconnect the caller to the reserved agent (secure flows, reservation agent). */
export const ReturnToAgentAction = z.union([
  z.null(),
  z.object({ outputs: ExpressionMap.optional(), prompt: Prompt.optional() }).strict(),
]);
/** `return`: end a subflow. */
export const ReturnAction = z.union([z.null(), z.object({ outputs: ExpressionMap.optional() }).strict()]);

/** How a state's transitions are written for an action. */
export type TransitionStyle = 'next' | 'on' | 'terminal';

/** One way out of an action. */
export interface OutcomeSpec {
  /** The outcome's name as written under `on:`. */
  readonly name: string;
  /** Must the flow say where it goes? */
  readonly required: boolean;
  /** Where an unlisted optional outcome goes instead: another outcome, or the flow's `onError`. */
  readonly fallback?: string | 'onError';
  /** One line for docs and editor hovers. */
  readonly description: string;
}

/** The facts about one action. */
export interface ActionSpec {
  readonly name: ActionName;
  readonly schema: z.ZodType;
  readonly transitions: TransitionStyle;
  /** For `on:` actions: the outcomes. */
  readonly outcomes: readonly OutcomeSpec[];
  /** It waits on the caller (input, or a leg the caller is on). */
  readonly waitsOnCaller: boolean;
  /** It speaks to or needs the caller: not allowed in an `onHangup` handler. */
  readonly needsCaller: boolean;
  /** It ends the flow. */
  readonly terminal: boolean;
  readonly description: string;
}

const out = (name: string, required: boolean, description: string, fallback?: string): OutcomeSpec =>
  fallback === undefined ? { name, required, description } : { name, required, description, fallback };

/** Every action key of the language. */
export const ACTION_NAMES = [
  'say',
  'play',
  'collect',
  'menu',
  'switch',
  'set',
  'invoke',
  'callFlow',
  'authenticate',
  'connect',
  'pay',
  'recording',
  'log',
  'transfer',
  'enterSecureFlow',
  'disconnect',
  'returnToAgent',
  'return',
] as const;

/** An action key. */
export type ActionName = (typeof ACTION_NAMES)[number];

/** The action table. */
export const ACTIONS: { readonly [K in ActionName]: ActionSpec } = {
  say: {
    name: 'say', schema: SayAction, transitions: 'next', outcomes: [], waitsOnCaller: false, needsCaller: true,
    terminal: false, description: 'Speak text (voice, language optional)',
  },
  play: {
    name: 'play', schema: PlayAction, transitions: 'next', outcomes: [], waitsOnCaller: false, needsCaller: true,
    terminal: false, description: 'Play an audio URL',
  },
  collect: {
    name: 'collect', schema: CollectAction, transitions: 'on',
    outcomes: [
      out('success', true, 'A valid value was collected into `into`'),
      out('failure', true, 'Attempts used up (no input / no match)'),
      out('noInput', false, 'A try timed out with no input (instead of retrying in place)'),
      out('noMatch', false, 'A try did not validate (instead of retrying in place)'),
    ],
    waitsOnCaller: true, needsCaller: true, terminal: false,
    description: 'Prompt and collect DTMF digits (or speech), validate, retry up to `attempts`',
  },
  menu: {
    name: 'menu', schema: MenuAction, transitions: 'on',
    outcomes: [
      out('failure', true, 'Attempts used up (no input / no valid key)'),
      out('noInput', false, 'A try timed out with no input'),
      out('noMatch', false, 'A key with no option was pressed'),
    ],
    waitsOnCaller: true, needsCaller: true, terminal: false,
    description: 'Prompt; one state per option key; retries like collect',
  },
  switch: {
    name: 'switch', schema: SwitchAction, transitions: 'next', outcomes: [], waitsOnCaller: false,
    needsCaller: false, terminal: false,
    description: 'First case whose `when` is true wins; else `default` (or the state\'s `next`)',
  },
  set: {
    name: 'set', schema: SetAction, transitions: 'next', outcomes: [], waitsOnCaller: false, needsCaller: false,
    terminal: false, description: 'Assign variables from CEL expressions',
  },
  invoke: {
    name: 'invoke', schema: InvokeAction, transitions: 'on',
    outcomes: [
      out('success', true, 'The action answered; `output` was assigned'),
      out('error', true, 'The action failed (or its input could not be built)', 'onError'),
      out('timeout', false, 'The action did not answer in time', 'error'),
    ],
    waitsOnCaller: false, needsCaller: false, terminal: false,
    description: 'Call a data action registered in code (lookups, payments, SMS)',
  },
  callFlow: {
    name: 'callFlow', schema: CallFlowAction, transitions: 'next', outcomes: [], waitsOnCaller: false,
    needsCaller: false, terminal: false, description: 'Run a subflow with inputs, map its outputs back',
  },
  authenticate: {
    name: 'authenticate', schema: AuthenticateAction, transitions: 'on',
    outcomes: [
      out('verified', true, 'The caller keyed in the code that was sent'),
      out('failed', true, 'Wrong code, or no code, after the attempts'),
      out('lockedOut', false, 'Too many failures for this number: locked out for a while', 'failed'),
    ],
    waitsOnCaller: true, needsCaller: true, terminal: false,
    description: 'One-time code by SMS to `to`, checked with attempts, ttl and lock-out',
  },
  connect: {
    name: 'connect', schema: ConnectAction, transitions: 'on',
    outcomes: [
      out('completed', true, 'The call was answered and has ended'),
      out('busy', false, 'The called party was busy', 'failed'),
      out('noAnswer', false, 'Nobody answered in time', 'failed'),
      out('failed', true, 'The leg could not be placed'),
    ],
    waitsOnCaller: true, needsCaller: true, terminal: false,
    description: 'Place an outbound leg to `number` with the proxy `callerId`: neither side learns the other\'s number',
  },
  pay: {
    name: 'pay', schema: PayAction, transitions: 'on',
    outcomes: [
      out('success', true, 'The payment was taken; `output` was assigned (reference, token)'),
      out('failure', true, 'The card was declined, or the caller gave up, or the provider failed'),
    ],
    waitsOnCaller: true, needsCaller: true, terminal: false,
    description: 'Take a card payment through the provider (Twilio <Pay>): the card never reaches the flow',
  },
  recording: {
    name: 'recording', schema: RecordingAction, transitions: 'next', outcomes: [], waitsOnCaller: false,
    needsCaller: false, terminal: false, description: 'Pause or resume the call recording',
  },
  log: {
    name: 'log', schema: LogAction, transitions: 'next', outcomes: [], waitsOnCaller: false, needsCaller: false,
    terminal: false, description: 'Write a log line; secure values are never written',
  },
  transfer: {
    name: 'transfer', schema: TransferAction, transitions: 'terminal', outcomes: [], waitsOnCaller: false,
    needsCaller: true, terminal: true, description: 'Transfer to a queue, number, user, SIP address or flow',
  },
  enterSecureFlow: {
    name: 'enterSecureFlow', schema: EnterSecureFlowAction, transitions: 'terminal', outcomes: [],
    waitsOnCaller: false, needsCaller: true, terminal: true,
    description: 'Hand the caller to a secure flow with inputs; this session ends',
  },
  disconnect: {
    name: 'disconnect', schema: DisconnectAction, transitions: 'terminal', outcomes: [], waitsOnCaller: false,
    needsCaller: false, terminal: true, description: 'Hang up, with an optional reason',
  },
  returnToAgent: {
    name: 'returnToAgent', schema: ReturnToAgentAction, transitions: 'terminal', outcomes: [],
    waitsOnCaller: false, needsCaller: true, terminal: true,
    description: 'Reconnect the caller to the reserved agent with outputs (secure flows, reservation: agent)',
  },
  return: {
    name: 'return', schema: ReturnAction, transitions: 'terminal', outcomes: [], waitsOnCaller: false,
    needsCaller: false, terminal: true, description: 'End a subflow with outputs',
  },
};

/** Is `key` an action name? */
export function isActionName(key: string): key is ActionName {
  return Object.prototype.hasOwnProperty.call(ACTIONS, key);
}

/** Keys a state may hold besides its action. */
export const STATE_META_KEYS = ['description', 'next', 'on'] as const;

export type SayBody = z.infer<typeof SayAction>;
export type PlayBody = z.infer<typeof PlayAction>;
export type CollectBody = z.infer<typeof CollectAction>;
export type MenuBody = z.infer<typeof MenuAction>;
export type SwitchBody = z.infer<typeof SwitchAction>;
export type SetBody = z.infer<typeof SetAction>;
export type InvokeBody = z.infer<typeof InvokeAction>;
export type CallFlowBody = z.infer<typeof CallFlowAction>;
export type AuthenticateBody = z.infer<typeof AuthenticateAction>;
export type ConnectBody = z.infer<typeof ConnectAction>;
export type RecordingBody = z.infer<typeof RecordingAction>;
export type PayBody = z.infer<typeof PayAction>;
export type LogBody = z.infer<typeof LogAction>;
export type TransferBody = z.infer<typeof TransferAction>;
export type EnterSecureFlowBody = z.infer<typeof EnterSecureFlowAction>;
export type DisconnectBody = z.infer<typeof DisconnectAction>;
export type ReturnToAgentBody = z.infer<typeof ReturnToAgentAction>;
export type ReturnBody = z.infer<typeof ReturnAction>;
// re-exported for the state schemas
export { Expression };
