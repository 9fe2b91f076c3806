/**
 * A stored session checked when it is read back. The store is outside the process (Redis, a
 * database): a record that was damaged, altered, or moved from another session must be refused
 * with a typed error before the runtime acts on it, not crash a turn half-way through nor run on
 * another session's values. The schema is compiled once; the checks that need the flows (a
 * frame's flow and state) follow it. Messages name a field or a rule, never a value.
 *
 * This runs on every turn, so the schema only checks: the record used is the parsed JSON itself
 * (fields a later version adds pass through untouched). Objects are plain `z.object`s (a
 * `looseObject` would also walk the keys it does not know) and maps of values are checked as
 * maps, not entry by entry (the values are the flow's, checked where they are used).
 */
import { z } from 'zod';
import { FlowKind, type Flow } from '../model/flow.js';
import { SecretsError, open, type Sealed, type SecretsProvider } from '../secure/crypto.js';
import { SessionRecordError } from './errors.js';
import type { HeldReservation, SessionRecord } from './session.js';

// Any format version passes here: `open` refuses the ones it does not read, with a clearer reason.
const sealedValue = z.object({ v: z.number(), kid: z.string(), iv: z.string(), ct: z.string(), tag: z.string() });
const values = z.custom<Record<string, unknown>>((v) => typeof v === 'object' && v !== null && !Array.isArray(v));
const optionalText = z.string().optional();

const frame = z.object({
  flow: z.string(),
  machine: z.object({ value: z.string() }),
  vars: values,
  wait: z.object({ kind: z.enum(['collect', 'menu', 'authenticate', 'connect', 'pay']), attempt: z.number().int().nonnegative() }).optional(),
  tries: z.record(z.string(), z.number()).optional(),
});

const heldReservation = z.object({ agentId: z.string(), token: z.string(), expiresAt: z.number(), conversationId: optionalText });

const sessionEnd = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('transfer'),
    queue: optionalText,
    number: optionalText,
    user: optionalText,
    sip: optionalText,
    flow: optionalText,
    sessionId: optionalText,
    data: values.optional(),
  }),
  z.object({ type: z.literal('enterSecureFlow'), flow: z.string(), sessionId: z.string() }),
  z.object({ type: z.literal('disconnect'), reason: optionalText }),
  z.object({ type: z.literal('returnToAgent'), outputs: values }),
  z.object({ type: z.literal('return'), outputs: values }),
  z.object({ type: z.literal('hangup'), state: optionalText }),
  z.object({ type: z.literal('error'), code: z.string(), message: z.string(), state: optionalText }),
]);

/** What a session record must look like (`SessionRecord`). */
const sessionRecord = z.object({
  v: z.literal(1),
  id: z.string(),
  flow: z.string(),
  kind: FlowKind,
  status: z.enum(['active', 'ended']),
  frames: z.array(frame).min(1),
  sealed: sealedValue.optional(),
  reservation: z.enum(['agent', 'none']).optional(),
  agent: heldReservation.optional(),
  conversationId: optionalText,
  handedOverBy: optionalText,
  recordingPaused: z.boolean().optional(),
  protectedIdentity: z.boolean().optional(),
  parentSessionId: optionalText,
  startedAt: z.number(),
  turns: z.number().int().nonnegative(),
  end: sessionEnd.optional(),
  lastRequestId: optionalText,
  lastRequestOrder: z.number().optional(),
  replay: sealedValue.optional(),
});

// The schema and the type say the same (but for the sealed values' format, which `open` checks):
// a field changed in one and not the other fails to compile here.
type Unsealed<T> = Omit<T, 'sealed' | 'replay'>;
const agreesWithType: [Unsealed<z.output<typeof sessionRecord>>] extends [Unsealed<SessionRecord>] ? true : never = true;
void agreesWithType;

/** Field names a message may quote: anything else in a path (a variable's name, a map's key) is shown as `*`. */
const FIELD_NAMES = new Set([
  ...Object.keys(sessionRecord.shape),
  ...Object.keys(frame.shape),
  ...Object.keys(heldReservation.shape),
  ...Object.keys(sealedValue.shape),
  'value',
  'kind',
  'attempt',
  'type',
  'outputs',
  'data',
  'code',
  'message',
  'state',
  'reason',
]);

function describe(issue: z.core.$ZodIssue): string {
  const path = issue.path.map((p) => (typeof p === 'number' ? String(p) : typeof p === 'string' && FIELD_NAMES.has(p) ? p : '*'));
  const at = path.length > 0 ? path.join('.') : 'the record';
  switch (issue.code) {
    case 'invalid_type':
      return `${at} is missing or not ${/^[aeiou]/.test(issue.expected) ? 'an' : 'a'} ${issue.expected}`;
    case 'invalid_value':
    case 'invalid_union':
      return `${at} is not one of the values it may take`;
    case 'too_small':
      return `${at} is too small`;
    case 'custom':
      return `${at} is missing or not a map`;
    default:
      return `${at} is not valid (${issue.code})`;
  }
}

/**
 * Read a stored session: JSON, the schema, then the rules the schema cannot say (the record is
 * the one of `sessionId`, its flows are run here, each frame stands in a state of its flow). The
 * secure slot is not opened here. Throws `SessionRecordError` (`SESSION_RECORD_INVALID`).
 */
export function readSessionRecord(sessionId: string, text: string, version: number, flows: ReadonlyMap<string, Flow>): SessionRecord {
  const refuse = (problem: string) => new SessionRecordError('SESSION_RECORD_INVALID', sessionId, problem);
  if (!Number.isSafeInteger(version) || version < 1) throw refuse('its stored version is not a positive whole number');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw refuse('it is not JSON');
  }
  const checked = sessionRecord.safeParse(raw);
  if (!checked.success) throw refuse(checked.error.issues.slice(0, 3).map(describe).join('; '));
  const record = raw as SessionRecord;
  if (record.id !== sessionId) throw refuse('it is the record of another session');
  const root = flows.get(record.flow);
  if (!root) throw refuse('its flow is not one this runtime runs');
  if (root.kind !== record.kind) throw refuse(`its kind is not the kind of flow '${root.flow}'`);
  if (record.frames[0]!.flow !== record.flow) throw refuse('its first frame is not its flow');
  for (let i = 0; i < record.frames.length; i++) {
    const f = record.frames[i]!;
    const flow = flows.get(f.flow);
    if (!flow) throw refuse(`frames.${i}.flow is not a flow this runtime runs`);
    if (!Object.hasOwn(flow.states, f.machine.value)) throw refuse(`frames.${i}.machine.value is not a state of flow '${flow.flow}'`);
  }
  return record;
}

/**
 * Open a sealed value of the stored session `sessionId` (its secure slot, its replay), bound to
 * `context`. A value sealed for another owner or altered is `SESSION_SLOT_MISMATCH`; one sealed
 * in the older format or with a key the ring no longer holds, `SESSION_RECORD_INVALID`. A key of
 * the wrong length is the host's mistake, not the record's: its `SecretsError` goes through.
 */
export function openStored<T>(sealed: Sealed, secrets: SecretsProvider, context: string, sessionId: string, what: string): T {
  try {
    return open<T>(sealed, secrets, context);
  } catch (error) {
    if (!(error instanceof SecretsError)) throw error;
    switch (error.code) {
      case 'SECRETS_TAMPERED':
        throw new SessionRecordError('SESSION_SLOT_MISMATCH', sessionId, `its ${what} does not open for this session (sealed for another session, or altered)`);
      case 'SECRETS_UNSUPPORTED_FORMAT':
        throw new SessionRecordError('SESSION_RECORD_INVALID', sessionId, `its ${what} was sealed in an older format, before sealed values were bound to their session (${error.code})`);
      case 'SECRETS_UNKNOWN_KEY':
        throw new SessionRecordError('SESSION_RECORD_INVALID', sessionId, `its ${what} was sealed with a key the key ring no longer holds (${error.code})`);
      default:
        throw error;
    }
  }
}

/**
 * What a refused record still tells, read leniently: the flow it names (when this runtime runs
 * it) and the reservation it holds (when its agent and token are text), so that the agent can
 * be let go. Nothing else of a refused record is trusted.
 */
export function salvage(text: string, flows: ReadonlyMap<string, Flow>): { flow: string; agent?: Pick<HeldReservation, 'agentId' | 'token'> } {
  let raw: { flow?: unknown; agent?: { agentId?: unknown; token?: unknown } } | null;
  try {
    raw = JSON.parse(text) as typeof raw;
  } catch {
    return { flow: '' };
  }
  if (typeof raw !== 'object' || raw === null) return { flow: '' };
  const flow = typeof raw.flow === 'string' && flows.has(raw.flow) ? raw.flow : '';
  const agent = raw.agent;
  if (typeof agent === 'object' && agent !== null && typeof agent.agentId === 'string' && typeof agent.token === 'string') {
    return { flow, agent: { agentId: agent.agentId, token: agent.token } };
  }
  return { flow };
}
