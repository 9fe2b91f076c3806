/**
 * Agent reservations: while a secure flow an agent handed a caller to is running, the agent
 * is reserved (offered no new work). A reservation is a lease: it ends on returnToAgent,
 * transfer, disconnect, hang-up, an unhandled error, shutdown — or on its own when the lease
 * runs out, so a crashed process can never leave an agent reserved for good.
 *
 * The store is the port (in-memory here, Redis for many workers); the mirror is the port an
 * adapter implements to show the state in the provider (a TaskRouter activity, a Genesys status).
 */
import { randomUUID } from 'node:crypto';
import { systemClock, type Clock } from '../runtime/clock.js';

/** One agent's reservation. */
export interface Reservation {
  agentId: string;
  /** The secure session holding the agent. */
  sessionId: string;
  /** Proof of ownership: only the holder can renew or release. */
  token: string;
  reservedAt: number;
  expiresAt: number;
}

/** Where reservations live (shared by every worker of a deployment). */
export interface ReservationStore {
  /** Reserve the agent for the session, or undefined when another session holds it. */
  reserve(agentId: string, sessionId: string, leaseMs: number): Promise<Reservation | undefined>;
  /** Extend the lease; false when the token no longer holds the agent. */
  renew(agentId: string, token: string, leaseMs: number): Promise<boolean>;
  /** Release; false when the token no longer holds the agent (already released or expired). */
  release(agentId: string, token: string): Promise<boolean>;
  /** The agent's live reservation. */
  get(agentId: string): Promise<Reservation | undefined>;
  /** Every live reservation. */
  list(): Promise<Reservation[]>;
}

/** Why a reservation ended. */
export type ReleaseReason =
  | 'returnToAgent'
  | 'transfer'
  | 'disconnect'
  | 'hangup'
  | 'error'
  | 'expired'
  | 'shutdown'
  | 'ended';

/** The port an adapter implements to mirror reservations into the provider. */
export interface ReservationMirror {
  reserved(reservation: Reservation): Promise<void>;
  released(reservation: Reservation, reason: ReleaseReason): Promise<void>;
}

/** The embedded default reservation store. */
export class MemoryReservationStore implements ReservationStore {
  private readonly byAgent = new Map<string, Reservation>();

  constructor(private readonly clock: Clock = systemClock) {}

  async reserve(agentId: string, sessionId: string, leaseMs: number): Promise<Reservation | undefined> {
    const current = this.live(agentId);
    if (current) return current.sessionId === sessionId ? current : undefined;
    const now = this.clock.now();
    const r: Reservation = { agentId, sessionId, token: randomUUID(), reservedAt: now, expiresAt: now + leaseMs };
    this.byAgent.set(agentId, r);
    return r;
  }

  async renew(agentId: string, token: string, leaseMs: number): Promise<boolean> {
    const current = this.live(agentId);
    if (!current || current.token !== token) return false;
    current.expiresAt = this.clock.now() + leaseMs;
    return true;
  }

  async release(agentId: string, token: string): Promise<boolean> {
    const current = this.live(agentId);
    if (!current || current.token !== token) return false;
    this.byAgent.delete(agentId);
    return true;
  }

  async get(agentId: string): Promise<Reservation | undefined> {
    const r = this.live(agentId);
    return r ? { ...r } : undefined;
  }

  async list(): Promise<Reservation[]> {
    return [...this.byAgent.keys()].map((a) => this.live(a)).filter((r): r is Reservation => r !== undefined).map((r) => ({ ...r }));
  }

  private live(agentId: string): Reservation | undefined {
    const r = this.byAgent.get(agentId);
    if (r && r.expiresAt <= this.clock.now()) {
      this.byAgent.delete(agentId);
      return undefined;
    }
    return r;
  }
}
