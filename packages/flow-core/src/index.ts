/**
 * @callflow/flow-core: the flow model (zod schemas and inferred types), its JSON Schema and
 * the flow graph helpers.
 *
 * @packageDocumentation
 */
export {
  Identifier,
  VariableName,
  StateRef,
  Duration,
  Expression,
  Template,
  ValueType,
  InputDecl,
  OutputDecl,
  VariableDecl,
  Prompt,
  type ValueTypeName,
  type InputDeclaration,
  type OutputDeclaration,
  type VariableDeclaration,
  type PromptSpec,
  type DurationSpec,
  type ExpressionSpec,
} from './model/primitives.js';
export {
  SayAction,
  PlayAction,
  CollectAction,
  MenuAction,
  SwitchAction,
  SetAction,
  InvokeAction,
  CallFlowAction,
  AuthenticateAction,
  ConnectAction,
  RecordingAction,
  PayAction,
  LogAction,
  TransferAction,
  EnterSecureFlowAction,
  DisconnectAction,
  ReturnToAgentAction,
  ReturnAction,
  ACTIONS,
  ACTION_NAMES,
  isActionName,
  type ActionName,
  type ActionSpec,
  type OutcomeSpec,
  type TransitionStyle,
  type SayBody,
  type PlayBody,
  type CollectBody,
  type MenuBody,
  type SwitchBody,
  type SetBody,
  type InvokeBody,
  type CallFlowBody,
  type AuthenticateBody,
  type ConnectBody,
  type RecordingBody,
  type PayBody,
  type LogBody,
  type TransferBody,
  type EnterSecureFlowBody,
  type DisconnectBody,
  type ReturnToAgentBody,
  type ReturnBody,
} from './model/actions.js';
export {
  FlowSchema,
  ConfigSchema,
  State,
  FlowKind,
  ActionDecl,
  ActionField,
  RuleSetting,
  STATE_SCHEMAS,
  type Flow,
  type FlowState,
  type ProjectConfig,
  type ActionDeclaration,
  type ActionFieldSpec,
  type FlowKindName,
} from './model/flow.js';
export { flowJsonSchema, configJsonSchema } from './model/json-schema.js';
export {
  actionOf,
  specOf,
  bodyOf,
  transitionsOf,
  missingOutcomes,
  resolveOutcome,
  type Transition,
  type MissingOutcome,
  type ModelPath,
} from './model/graph.js';
export {
  createFlowEnvironment,
  parseExpression,
  checkExpression,
  identifiersOf,
  evaluateExpression,
  toCelValue,
  fromCelValue,
  mask,
  last4,
  luhn,
  EXPRESSION_LIMITS,
  CEL_TYPES,
  LIBRARY_FUNCTIONS,
  type ExpressionScope,
  type FlowDeclarations,
  type FlowEnvironment,
  type ExpressionError,
  type ParsedExpression,
  type ParseFailure,
  type CheckResult,
  type IdentifierRead,
  type CelNode,
} from './expr/cel.js';
export {
  parseTemplate,
  isTemplate,
  renderTemplate,
  formatTemplateValue,
  TemplateSyntaxError,
  type TemplatePart,
  type TemplateText,
  type TemplateExpression,
  type TemplateError,
  type ParsedTemplate,
} from './expr/template.js';
export { parseValidation, passesValidation, type Validation } from './expr/validate.js';
export { parseDuration } from './expr/duration.js';

// ---- runtime ----
export {
  createRuntime,
  FlowValidationError,
  SessionNotFoundError,
  AgentBusyError,
  ConcurrentTurnError,
  CallMismatchError,
  RequestOutOfOrderError,
  FlowInputError,
  SessionRecordError,
  type SessionRecordErrorCode,
  type Runtime,
  type RuntimeOptions,
  type StartSessionOptions,
  type SecureSessionOptions,
  type SessionView,
  type HandleOptions,
} from './runtime/runtime.js';
export type { CallEvent, CallInfo, Command, SessionEnd, Speech, TraceStep, Turn } from './runtime/types.js';
export { RuntimeEvents, type RuntimeEventMap, type RuntimeEventName, type EventBase } from './runtime/events.js';
export { pinoLogger, silentLogger, MemoryLogger, type Logger, type LogRecord, type LogLevel } from './runtime/logger.js';
export { systemClock, ManualClock, type Clock } from './runtime/clock.js';
export type { FailSafe } from './runtime/context.js';
export { FlowRuntimeError } from './runtime/program.js';
export { compileMachine, type CompiledMachine, type MachineCursor } from './compile/machine.js';
export type { SessionRecord, Frame, Wait, HeldReservation } from './runtime/session.js';
export { DEFAULT_ALERT_POLICY, type AlertPolicy } from './runtime/alerts.js';
export {
  ActionRegistry,
  defineAction,
  type DataActionDefinition,
  type ActionContext,
  type ActionLimits,
  type ActionOutcome,
  type ActionErrorCode,
  type ActionCaller,
  type ActionCallOptions,
} from './actions/data-action.js';
export { Redactor, REDACTED, luhnValid, type RedactorOptions } from './secure/redact.js';
export {
  seal,
  open,
  keyRing,
  ephemeralKeyRing,
  checkSecrets,
  isSealed,
  SecretsError,
  type SecretsErrorCode,
  type Sealed,
  type SecretsProvider,
} from './secure/crypto.js';
export {
  MemoryReservationStore,
  type Reservation,
  type ReservationStore,
  type ReservationMirror,
  type ReleaseReason,
} from './secure/reservations.js';
export { MemoryLockoutStore, DEFAULT_LOCKOUT, type LockoutStore, type LockoutPolicy } from './secure/otp.js';
export {
  MemorySessionStore,
  StoreUnavailableError,
  type SessionStore,
  type StoredSession,
  type PutOptions,
  type PutResult,
} from './store/session-store.js';
export { MemorySessionLock, type SessionLock, type SessionLockOptions, type HeldSessionLock } from './store/session-lock.js';
export {
  simulate,
  type SimulationScript,
  type SimulationResult,
  type SimulationEnd,
  type TranscriptLine,
  type MockResult,
} from './runtime/simulate.js';
export {
  expressionSites,
  type SitePath,
  type ExpressionRole,
  type ExpressionPiece,
  type FlowExpression,
  type FlowExpressions,
  type VariableWrite,
} from './model/sites.js';
export {
  analyseSecurity,
  labelAst,
  CLEAR,
  MASKED,
  SECURE,
  MIN_DECLASSIFY_LENGTH,
  type Label,
  type ActionSecurity,
  type ActionSecurityLookup,
  type Culprit,
  type SiteLabel,
  type FindingKind,
  type LeakFinding,
  type FlowSecurity,
  type SecurityAnalysis,
} from './secure/information-flow.js';
export { SINKS, sinkOf, sinkWhere, type SinkClass } from './secure/sinks.js';
