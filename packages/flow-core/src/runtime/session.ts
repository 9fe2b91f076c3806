/**
 * A session as stored between turns (`SessionRecord`) and as held during one turn
 * (`LiveSession`). Everything secure — secure variables, the call's numbers, a pending
 * one-time code — lives in one slot that is sealed with AES-256-GCM in the stored form and
 * wiped when the secure session ends. Nothing else of a session is secret. The slot is sealed
 * for its session (`session:<id>`), an ended session's replay for it too (`replay:<id>`): moved
 * to another session's record, neither opens.
 */
import type { Flow, FlowKindName } from '../model/flow.js';
import { seal, type Sealed, type SecretsProvider } from '../secure/crypto.js';
import { openStored, readSessionRecord } from './session-record.js';
import type { CallInfo, SessionEnd } from './types.js';

/** What a waiting state waits for, and how many tries it has used. */
export interface Wait {
  kind: 'collect' | 'menu' | 'authenticate' | 'connect' | 'pay';
  attempt: number;
}

/** One flow on the session's stack (the root flow, then subflows called with callFlow). */
export interface Frame {
  flow: string;
  /** The xstate persisted snapshot of this frame's machine. */
  machine: { value: string } & Record<string, unknown>;
  /** Non-secure variables and inputs (JSON values). */
  vars: Record<string, unknown>;
  wait?: Wait;
  /** Tries used at collect/menu states left through a per-try outcome (noInput, noMatch). */
  tries?: Record<string, number>;
}

/** What the sealed slot holds. */
export interface SecureSlot {
  call: CallInfo;
  /** Secure values per frame index. */
  vars: Record<string, Record<string, unknown>>;
  /** A pending one-time code (its hash) and when it expires. */
  otp?: { hash: string; salt: string; expiresAt: number; to: string };
  /** The last turn, for a repeat of its request (see Runtime.handle). */
  replay?: import('./types.js').Turn;
}

/** The agent a secure session holds reserved. */
export interface HeldReservation {
  agentId: string;
  token: string;
  expiresAt: number;
  conversationId?: string;
}

/** A session as the store keeps it (JSON). */
export interface SessionRecord {
  v: 1;
  id: string;
  flow: string;
  kind: FlowKindName;
  status: 'active' | 'ended';
  frames: Frame[];
  /** The sealed secure slot. */
  sealed?: Sealed;
  reservation?: 'agent' | 'none';
  agent?: HeldReservation;
  /** The agent's conversation, for returnToAgent (agent-side secure sessions). */
  conversationId?: string;
  /**
   * The agent who handed the caller over (agent-side secure sessions), whom returnToAgent puts
   * the caller back to — reserved or not, and also after the reservation's lease ran out.
   */
  handedOverBy?: string;
  /** The call's recording is paused (this session paused it, or the session it came from). */
  recordingPaused?: boolean;
  protectedIdentity?: boolean;
  parentSessionId?: string;
  startedAt: number;
  turns: number;
  end?: SessionEnd;
  /** The request the last turn answered, and that turn, sealed (see Runtime.handle). */
  lastRequestId?: string;
  lastRequestOrder?: number;
  replay?: Sealed;
}

/** A session during a turn: the record with its secure slot open. */
export interface LiveSession {
  record: SessionRecord;
  slot: SecureSlot;
  /** The version read from the store (undefined for a new session). */
  version: number | undefined;
}

/** The owner a session's secure slot is sealed for. */
export function slotContext(sessionId: string): string {
  return `session:${sessionId}`;
}

/** The owner an ended session's replay is sealed for. */
export function replayContext(sessionId: string): string {
  return `replay:${sessionId}`;
}

/** Serialize a session for the store, sealing its secure slot for it (wiped slots are not stored). */
export function serializeSession(session: LiveSession, secrets: SecretsProvider): string {
  const hasSecrets =
    Object.keys(session.slot.call).length > 0 ||
    Object.values(session.slot.vars).some((v) => Object.keys(v).length > 0) ||
    session.slot.otp !== undefined ||
    session.slot.replay !== undefined;
  const record: SessionRecord = { ...session.record };
  if (hasSecrets && session.record.status === 'active') record.sealed = seal(session.slot, secrets, slotContext(record.id));
  else delete record.sealed;
  return JSON.stringify(record);
}

/**
 * Read the stored session `sessionId` and open its secure slot. A record that is damaged,
 * altered, another session's, or not runnable by `flows`, and a slot that does not open for
 * this session, are refused with `SessionRecordError`.
 */
export function deserializeSession(
  sessionId: string,
  text: string,
  version: number,
  secrets: SecretsProvider,
  flows: ReadonlyMap<string, Flow>,
): LiveSession {
  const record = readSessionRecord(sessionId, text, version, flows);
  const slot: SecureSlot = record.sealed
    ? openStored<SecureSlot>(record.sealed, secrets, slotContext(sessionId), sessionId, 'secure slot')
    : { call: {}, vars: {} };
  return { record, slot, version };
}
