/**
 * @callflow/adapters-twilio: runs Callflow flows behind Twilio Voice webhooks. Twilio's
 * requests become runtime events (`webhook.ts`), runtime commands become TwiML (`twiml.ts`),
 * and what Twilio only takes through its REST API goes through a port (`rest.ts`); agent
 * reservations are mirrored into TaskRouter worker activities (`mirror.ts`). Depends on
 * @callflow/flow-core and `twilio` only.
 *
 * @packageDocumentation
 */

/** The provider this adapter speaks to, as named in `callflow.config.yaml` (`provider:`). */
export const provider = 'twilio' as const;

export {
  createTwilioWebhook,
  type TwilioWebhook,
  type TwilioWebhookOptions,
  type StartSecureCallOptions,
  type FlowChoice,
  type WebhookProblem,
} from './webhook.js';
export { RecordingNotPausedError, type RecordingMode } from './recording.js';
export type { RefusalKind } from './refusals.js';
export {
  MemoryCallRegistry,
  CallInSessionError,
  CallEndedError,
  DEFAULT_CALL_RETENTION_MS,
  type CallEntry,
  type CallRegistry,
  type ClaimWhen,
  type MemoryCallRegistryOptions,
} from './calls.js';
export {
  renderTurn,
  apologyTwiml,
  failSafeTwiml,
  DEFAULT_APOLOGY,
  DEFAULT_FALLBACK_APOLOGY,
  type FailSafeTarget,
  type RenderedTurn,
  type RestSideEffect,
  type ReturnToAgentCommand,
  type ReturnToAgentHook,
  type TaskRouterOptions,
  type TwimlOptions,
  type TwimlResponse,
} from './twiml.js';
export {
  twilioRest,
  TwilioRestError,
  TwilioRestTimeoutError,
  DEFAULT_REST_TIMEOUT_MS,
  type TwilioRestPort,
  type TwilioRestClient,
  type TwilioRestOptions,
  type RestCallContext,
} from './rest.js';
export {
  twilioReservationMirror,
  WorkerNotFoundError,
  type TwilioReservationMirror,
  type TwilioReservationMirrorOptions,
  type TaskRouterWorkerClient,
  type MirrorFailure,
  type StuckWorker,
} from './mirror.js';
export {
  parseForm,
  signatureValid,
  type FormParams,
  type WebhookRequest,
  type WebhookResponse,
} from './http.js';
