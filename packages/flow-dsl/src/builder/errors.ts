/**
 * The error `defineFlow` and `validateFlow` throw for a definition that is not a valid flow:
 * a bug in the code that built it, so an exception, with a code and every problem found.
 */

/** One problem of a flow definition. */
export interface FlowIssue {
  /** `schema` (the flow model), `unknown-state` or `dead-end` (the lint rules of the same name). */
  code: 'schema' | 'unknown-state' | 'dead-end';
  /** Where, from the flow's root. */
  path: (string | number)[];
  /** What is wrong, starting with the dotted path. */
  message: string;
}

/** A flow definition that is not a valid flow. Never carries a value of the flow, only names. */
export class FlowValidationError extends Error {
  /** Stable code for callers that branch on errors. */
  readonly code = 'FLOW_VALIDATION' as const;
  override readonly name = 'FlowValidationError';

  constructor(
    /** The flow's name, when it has one. */
    readonly flow: string | undefined,
    /** Every problem found. */
    readonly issues: readonly FlowIssue[],
  ) {
    const first = issues[0]?.message ?? 'not a valid flow';
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? 's' : ''})` : '';
    super(`${flow === undefined ? 'flow' : `flow '${flow}'`}: ${first}${more}`);
  }
}

/** `states.ask.on.success` from a path. */
export function dottedPath(path: readonly PropertyKey[]): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.').replace(/\.\[/g, '[') || '(root)';
}
