/**
 * The call recording around secure input. A secure flow (and a `recording: pause` state) asks
 * for the recording to be paused before the caller keys anything in; on Twilio that is a REST
 * call. Card digits must never be asked for while the recording may still be running, so the
 * webhook answers such a turn only once Twilio confirmed the pause — or when the deployment
 * declared that its calls are not recorded at all.
 */

/**
 * Whether the deployment's calls may be recorded:
 * - `pause` (default): they may be. A turn that pauses the recording is answered only after
 *   the pause was confirmed through the REST port; without a port, or when the pause fails,
 *   the secure flow is not entered (the fail-safe answer, `RECORDING_NOT_PAUSED`).
 * - `none`: the deployment declares that no call is recorded (no recording on the number, its
 *   trunk or through the API). Pause and resume are then skipped: there is nothing to pause.
 */
export type RecordingMode = 'pause' | 'none';

/** A secure flow was not entered because the call recording could not be confirmed paused. */
export class RecordingNotPausedError extends Error {
  readonly code = 'RECORDING_NOT_PAUSED';
  constructor(
    /** Why: no REST port, or the REST call's own (fact-only) message. */
    readonly reason: string,
  ) {
    super(`a secure flow was not entered: the call recording could not be paused (${reason})`);
    this.name = 'RecordingNotPausedError';
  }
}
