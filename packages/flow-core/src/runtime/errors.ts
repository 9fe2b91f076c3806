/**
 * The typed errors of the runtime: a bug in the flows or an outage, each with a code and a
 * message a person can act on, never a secure value.
 */

/** A flow set that cannot run: every problem with its flow, state and field. */
export class FlowValidationError extends Error {
  readonly code = 'FLOW_INVALID';
  constructor(readonly problems: string[]) {
    super(`${problems.length} problem(s) in the flows: ${problems.slice(0, 5).join('; ')}`);
    this.name = 'FlowValidationError';
  }
}

/** Inputs a flow does not take, lacks, or cannot use (the values themselves are never in it). */
export class FlowInputError extends Error {
  readonly code = 'FLOW_INPUT_INVALID';
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
    this.name = 'FlowInputError';
  }
}

/** A turn for a session the store does not hold (ended long ago, or never started). */
export class SessionNotFoundError extends Error {
  readonly code = 'SESSION_NOT_FOUND';
  constructor(sessionId: string) {
    super(`no session '${sessionId}'`);
    this.name = 'SessionNotFoundError';
  }
}

/** A request for a session from another call (or from none): refused before anything of the session is read out or runs. */
export class CallMismatchError extends Error {
  readonly code = 'CALL_MISMATCH';
  constructor(sessionId: string) {
    super(`a request for session '${sessionId}' came from another call`);
    this.name = 'CallMismatchError';
  }
}

/**
 * A request further ahead than the session's next one (`strictOrder`), for a session that has
 * answered no request yet, so that there is no last turn to answer it with: nothing runs.
 */
export class RequestOutOfOrderError extends Error {
  readonly code = 'REQUEST_OUT_OF_ORDER';
  constructor(sessionId: string) {
    super(`a request for session '${sessionId}' is ahead of its next turn`);
    this.name = 'RequestOutOfOrderError';
  }
}

/** The agent is already reserved by another secure session. */
export class AgentBusyError extends Error {
  readonly code = 'AGENT_RESERVED';
  constructor(agentId: string) {
    super(`agent '${agentId}' is already reserved by another secure session`);
    this.name = 'AgentBusyError';
  }
}

/**
 * Another turn of the same session got in the way: it wrote the session first (`conflict`: this
 * turn's write was refused), or it still held the session lock when this turn's wait ran out
 * (`busy`: nothing of this turn ran). Trying the same request again is safe: a request the
 * other turn already answered is replayed, not run again.
 */
export class ConcurrentTurnError extends Error {
  readonly code = 'SESSION_CONFLICT';
  constructor(
    sessionId: string,
    readonly reason: 'conflict' | 'busy' = 'conflict',
  ) {
    super(
      reason === 'busy'
        ? `session '${sessionId}' is busy with another turn (its session lock was not free in time)`
        : `session '${sessionId}' was updated by another turn at the same time`,
    );
    this.name = 'ConcurrentTurnError';
  }
}

/** The codes of `SessionRecordError`. */
export type SessionRecordErrorCode = 'SESSION_RECORD_INVALID' | 'SESSION_SLOT_MISMATCH';

/**
 * A stored session the runtime refuses to run: a record that is damaged or altered
 * (`SESSION_RECORD_INVALID`: not JSON, a field of the wrong type or missing, another session's
 * record, a flow or state this runtime does not run, a slot sealed in an older format or with a
 * key the ring no longer holds), or whose sealed slot or replay does not open for this session
 * (`SESSION_SLOT_MISMATCH`: sealed for another session, or its bytes altered). The message names
 * the field or the rule, never a value of the record.
 */
export class SessionRecordError extends Error {
  constructor(
    readonly code: SessionRecordErrorCode,
    readonly sessionId: string,
    problem: string,
  ) {
    super(`the stored session '${sessionId}' is refused: ${problem}`);
    this.name = 'SessionRecordError';
  }
}
