/**
 * The whole flow file and the project configuration as zod schemas. The TypeScript types
 * are inferred from them and the JSON Schema that editors and `callflow lint` use is
 * generated from them (see `flowJsonSchema`): the model is written once.
 */
import { z } from 'zod';
import { ACTIONS, type ActionName } from './actions.js';
import * as A from './actions.js';
import { Identifier, InputDecl, OutputDecl, StateRef, ValueType, VariableDecl, VariableName } from './primitives.js';

const stateDescription = z.string().optional().describe('What this state is for (documentation only)');

function capitalise(name: string): string {
  return name[0]!.toUpperCase() + name.slice(1);
}

function outcomesOf(action: ActionName) {
  const shape: Record<string, z.ZodOptional<typeof StateRef>> = {};
  for (const o of ACTIONS[action].outcomes) shape[o.name] = StateRef.describe(o.description).optional();
  return z.object(shape).strict();
}

/** The schema of a state that holds `action`, with the transitions that action takes. */
function stateOf<K extends ActionName, S extends z.ZodType, T extends z.ZodRawShape>(
  action: K,
  body: S,
  transitions: T,
) {
  return z
    .object({ [action]: body, description: stateDescription, ...transitions } as { [P in K]: S } & {
      description: typeof stateDescription;
    } & T)
    .strict()
    .meta({ id: `${capitalise(action)}State`, description: ACTIONS[action].description });
}

const next = { next: StateRef.optional().describe('The state that follows') };
const on = <K extends ActionName>(action: K) => ({ on: outcomesOf(action).optional().describe('Outcome → state') });

export const SayState = stateOf('say', A.SayAction, next);
export const PlayState = stateOf('play', A.PlayAction, next);
export const CollectState = stateOf('collect', A.CollectAction, on('collect'));
export const MenuState = stateOf('menu', A.MenuAction, on('menu'));
export const SwitchState = stateOf('switch', A.SwitchAction, {
  next: StateRef.optional().describe('Where to go when no case holds (same as switch.default)'),
});
export const SetState = stateOf('set', A.SetAction, next);
export const InvokeState = stateOf('invoke', A.InvokeAction, on('invoke'));
export const CallFlowState = stateOf('callFlow', A.CallFlowAction, next);
export const AuthenticateState = stateOf('authenticate', A.AuthenticateAction, on('authenticate'));
export const ConnectState = stateOf('connect', A.ConnectAction, on('connect'));
export const PayState = stateOf('pay', A.PayAction, on('pay'));
export const RecordingState = stateOf('recording', A.RecordingAction, next);
export const LogState = stateOf('log', A.LogAction, next);
export const TransferState = stateOf('transfer', A.TransferAction, {});
export const EnterSecureFlowState = stateOf('enterSecureFlow', A.EnterSecureFlowAction, {});
export const DisconnectState = stateOf('disconnect', A.DisconnectAction, {});
export const ReturnToAgentState = stateOf('returnToAgent', A.ReturnToAgentAction, {});
export const ReturnState = stateOf('return', A.ReturnAction, {});

/** The schema of each state, by the action it holds. */
export const STATE_SCHEMAS = {
  say: SayState,
  play: PlayState,
  collect: CollectState,
  menu: MenuState,
  switch: SwitchState,
  set: SetState,
  invoke: InvokeState,
  callFlow: CallFlowState,
  authenticate: AuthenticateState,
  connect: ConnectState,
  pay: PayState,
  recording: RecordingState,
  log: LogState,
  transfer: TransferState,
  enterSecureFlow: EnterSecureFlowState,
  disconnect: DisconnectState,
  returnToAgent: ReturnToAgentState,
  return: ReturnState,
} as const satisfies { [K in ActionName]: z.ZodType };

/** A state: exactly one action key plus its transitions. */
export const State = z
  .union([
    SayState,
    PlayState,
    CollectState,
    MenuState,
    SwitchState,
    SetState,
    InvokeState,
    CallFlowState,
    AuthenticateState,
    ConnectState,
    PayState,
    RecordingState,
    LogState,
    TransferState,
    EnterSecureFlowState,
    DisconnectState,
    ReturnToAgentState,
    ReturnState,
  ])
  .meta({ id: 'State', description: 'Exactly one action key, plus `next` or `on` as the action takes' });

/** The kind of a flow. */
export const FlowKind = z.enum(['inbound', 'secure', 'subflow']).meta({
  id: 'FlowKind',
  description: 'inbound: a call flow; secure: a secure call flow; subflow: reusable, ends with return',
});

/** A whole flow file. */
export const FlowSchema = z
  .object({
    $schema: z.string().optional(),
    flow: Identifier.describe('Unique name; other flows refer to it by this name'),
    kind: FlowKind,
    description: z.string().optional(),
    reservation: z
      .enum(['agent', 'none'])
      .optional()
      .describe('Secure flows only. agent: the agent stays reserved until returnToAgent; none: secure IVR'),
    inputs: z.record(VariableName, InputDecl).optional(),
    outputs: z.record(VariableName, OutputDecl).optional(),
    variables: z.record(VariableName, VariableDecl).optional(),
    protectedIdentity: VariableName.optional().describe(
      'A bool variable: once it holds true the caller is a protected identity, and their personal data is kept off agent screens',
    ),
    onError: StateRef.optional().describe('Flow-level fallback state for unhandled errors'),
    onHangup: StateRef.optional().describe('Runs after the caller hangs up (no caller actions there)'),
    start: StateRef.describe('The first state'),
    states: z.record(Identifier, State),
  })
  .strict()
  .meta({ id: 'Flow', title: 'Callflow flow file', description: 'One file, one flow (Callflow flow language v1)' });

/** A field of a data action's input or output in the project config. */
export const ActionField = z.union([
  ValueType,
  z
    .object({ type: ValueType, secure: z.boolean().optional(), required: z.boolean().optional() })
    .strict(),
]);

/** A data action declared in the project config. */
export const ActionDecl = z
  .object({
    description: z.string().optional(),
    secure: z.boolean().optional().describe('May receive secure values (e.g. a PCI-scoped payment gateway)'),
    input: z.record(z.string(), ActionField).optional(),
    output: z.record(z.string(), ActionField).optional(),
  })
  .strict();

/** A rule's severity in the project config. */
export const RuleSetting = z.union([z.enum(['off', 'warn', 'error']), z.literal(0), z.literal(1), z.literal(2)]);

/** `callflow.config.yaml`. */
export const ConfigSchema = z
  .object({
    $schema: z.string().optional(),
    provider: z.enum(['twilio', 'genesys']).optional(),
    targets: z
      .object({
        queues: z.array(z.string()).optional(),
        numbers: z.array(z.string()).optional(),
        users: z.array(z.string()).optional(),
        sips: z.array(z.string()).optional(),
      })
      .strict()
      .optional(),
    actions: z.record(Identifier, ActionDecl).optional(),
    rules: z.record(z.string(), RuleSetting).optional(),
    ignore: z.array(z.string()).optional().describe('Globs of files under the project root that are not flows'),
  })
  .strict()
  .meta({ id: 'Config', title: 'Callflow project configuration' });

/** A flow, as loaded from YAML or built with `defineFlow`. */
export type Flow = z.infer<typeof FlowSchema>;
/** One state of a flow. */
export type FlowState = z.infer<typeof State>;
/** `callflow.config.yaml`. */
export type ProjectConfig = z.infer<typeof ConfigSchema>;
/** A data action declared in the config. */
export type ActionDeclaration = z.infer<typeof ActionDecl>;
/** A field of a declared data action. */
export type ActionFieldSpec = z.infer<typeof ActionField>;
/** inbound | secure | subflow. */
export type FlowKindName = z.infer<typeof FlowKind>;
