/**
 * The types behind `defineFlow`: a flow definition is checked against a mapped type built
 * from the definition itself, so a transition to a state that does not exist, a missing
 * required outcome, an outcome the action does not have, or `next` on a terminal state is a
 * compile-time error, with no annotations in the definition.
 */
import type {
  ActionName,
  AuthenticateBody,
  CallFlowBody,
  CollectBody,
  ConnectBody,
  DisconnectBody,
  PayBody,
  EnterSecureFlowBody,
  ExpressionSpec,
  FlowKindName,
  InputDeclaration,
  InvokeBody,
  LogBody,
  MenuBody,
  OutputDeclaration,
  PlayBody,
  RecordingBody,
  ReturnBody,
  ReturnToAgentBody,
  SayBody,
  SetBody,
  TransferBody,
  VariableDeclaration,
} from '@callflow/flow-core';
import type { NextAction, ON_OUTCOMES, OnAction, TerminalAction } from './outcomes.js';

/** `T` with every array readonly, so `const` definitions (readonly tuples) fit. */
export type DeepReadonly<T> = T extends readonly (infer E)[]
  ? readonly DeepReadonly<E>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/** A menu key. */
export type MenuKey = '0' | '1' | '2' | '3' | '4' | '5' | '6' | '7' | '8' | '9' | '*' | '#';

/** The body of each action, with state references narrowed to the flow's state names `N`. */
export interface ActionBodies<N extends string> {
  say: SayBody;
  play: PlayBody;
  collect: CollectBody;
  menu: Omit<MenuBody, 'options'> & { options: { [K in MenuKey]?: N } };
  switch: { cases: { when: ExpressionSpec; goto: N }[]; default?: N };
  set: SetBody;
  invoke: InvokeBody;
  callFlow: CallFlowBody;
  authenticate: AuthenticateBody;
  connect: ConnectBody;
  pay: PayBody;
  recording: RecordingBody;
  log: LogBody;
  transfer: TransferBody;
  enterSecureFlow: EnterSecureFlowBody;
  disconnect: DisconnectBody;
  returnToAgent: ReturnToAgentBody;
  return: ReturnBody;
}

// Every action is exactly one of: next, on, terminal (a compile-time check of outcomes.ts).
type Partitioned = [ActionName] extends [NextAction | OnAction | TerminalAction | 'switch']
  ? [NextAction | OnAction | TerminalAction | 'switch'] extends [ActionName]
    ? true
    : false
  : false;
const partitioned: Partitioned = true;
void partitioned;

type Outcomes<A extends OnAction> = (typeof ON_OUTCOMES)[A];
type RequiredOutcome<A extends OnAction, HasOnError extends boolean> = HasOnError extends true
  ? Exclude<Outcomes<A>['required'][number], Outcomes<A>['byOnError'][number]>
  : Outcomes<A>['required'][number];
type AnyOutcome<A extends OnAction> = Outcomes<A>['required'][number] | Outcomes<A>['optional'][number];

/**
 * `Shape`, plus every key of `S` that `Shape` does not have, typed as a message saying so:
 * an extra key fails to type-check, and the compiler's error quotes the message.
 */
export type Exact<S, Shape, What extends string> = Shape & {
  [K in Exclude<keyof S, keyof Shape>]: `'${K & string}' is not ${What}`;
};

/** `on:` of an action: required outcomes, optional ones, nothing else. */
export type OnOf<A extends OnAction, S, N extends string, HasOnError extends boolean> = Exact<
  S extends { on: infer O } ? O : unknown,
  { [O in RequiredOutcome<A, HasOnError>]: N } & { [O in Exclude<AnyOutcome<A>, RequiredOutcome<A, HasOnError>>]?: N },
  `an outcome of ${A}`
>;

type SwitchHasDefault<S> = S extends { switch: { default: string } } ? true : false;

/** The transitions a state of action `A` takes. */
export type TransitionsOf<A extends ActionName, S, N extends string, HasOnError extends boolean> = A extends OnAction
  ? { on: OnOf<A, S, N, HasOnError>; next?: `${A} takes on: { outcome: state }, not next` }
  : A extends NextAction
    ? { next: N; on?: `${A} takes next, not on` }
    : A extends 'switch'
      ? SwitchHasDefault<S> extends true
        ? { next?: 'give the switch default once: switch.default or next, not both'; on?: 'switch takes cases, default or next, not on' }
        : { next: N; on?: 'switch takes cases, default or next, not on' }
      : { next?: `${A} ends the flow: no next`; on?: `${A} ends the flow: no on` };

/** A valid state holding action `A`. */
export type StateOf<A extends ActionName, S, N extends string, HasOnError extends boolean> = Exact<
  S,
  { [K in A]: DeepReadonly<ActionBodies<N>[A]> } & { description?: string } & TransitionsOf<A, S, N, HasOnError>,
  `a key of a ${A} state`
>;

type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;
type IsSingle<K> = [K] extends [never] ? false : [K] extends [UnionToIntersection<K>] ? true : false;

/** What a state must look like, given what it holds. */
export type ValidState<S, N extends string, HasOnError extends boolean> =
  IsSingle<Extract<keyof S, ActionName>> extends true
    ? StateOf<Extract<keyof S, ActionName>, S, N, HasOnError>
    : { [A in ActionName]: StateOf<A, S, N, HasOnError> }[ActionName];

type StateNames<T> = T extends { states: infer S } ? keyof S & string : never;
type HasOnError<T> = T extends { onError: string } ? true : false;

/** The shape every flow definition has before its transitions are checked. */
export interface FlowDefinitionBase {
  readonly flow: string;
  readonly kind: FlowKindName;
  readonly start: string;
  readonly states: { readonly [name: string]: object };
}

/** What a flow definition `T` must look like: the flow model with state names taken from `T`. */
export type ValidFlow<T, N extends string = StateNames<T>> = Exact<T, {
  $schema?: string;
  flow: string;
  kind: FlowKindName;
  description?: string;
  reservation?: 'agent' | 'none';
  inputs?: { readonly [name: string]: DeepReadonly<InputDeclaration> };
  outputs?: { readonly [name: string]: DeepReadonly<OutputDeclaration> };
  variables?: { readonly [name: string]: DeepReadonly<VariableDeclaration> };
  onError?: N;
  onHangup?: N;
  start: N;
  states: T extends { states: infer S } ? { [K in keyof S]: ValidState<S[K], N, HasOnError<T>> } : never;
}, 'a key of a flow'>;

/** The argument type of `defineFlow`: the definition when it is valid, else what it should be. */
export type CheckedFlow<T> = T extends ValidFlow<T> ? T : ValidFlow<T>;
