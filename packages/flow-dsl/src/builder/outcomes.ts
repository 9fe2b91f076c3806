/**
 * The ways out of each action, as literal types for the builder. flow-core's ACTIONS table
 * is the source of truth at run time; this copy exists because its outcome names are not
 * literal types. A test (test/builder.test.ts) checks the two agree.
 */

/** Outcomes of the actions that take `on:`. `byOnError`: required unless the flow has `onError`. */
export const ON_OUTCOMES = {
  collect: { required: ['success', 'failure'], optional: ['noInput', 'noMatch'], byOnError: [] },
  menu: { required: ['failure'], optional: ['noInput', 'noMatch'], byOnError: [] },
  invoke: { required: ['success', 'error'], optional: ['timeout'], byOnError: ['error'] },
  authenticate: { required: ['verified', 'failed'], optional: ['lockedOut'], byOnError: [] },
  connect: { required: ['completed', 'failed'], optional: ['busy', 'noAnswer'], byOnError: [] },
  pay: { required: ['success', 'failure'], optional: [], byOnError: [] },
} as const;

/** Actions with one way out, written `next:`. */
export const NEXT_ACTIONS = ['say', 'play', 'set', 'log', 'recording', 'callFlow'] as const;

/** Actions that end the flow: no `next`, no `on`. */
export const TERMINAL_ACTIONS = ['transfer', 'enterSecureFlow', 'disconnect', 'returnToAgent', 'return'] as const;

/** An action that takes `on:`. */
export type OnAction = keyof typeof ON_OUTCOMES;
/** An action that takes `next:`. */
export type NextAction = (typeof NEXT_ACTIONS)[number];
/** A terminal action. */
export type TerminalAction = (typeof TERMINAL_ACTIONS)[number];
