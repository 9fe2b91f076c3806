/** Worker processes behind the round-robin proxy, sharing Redis through a cutter (see cluster.mjs). */
import type { HistogramData } from './histogram.mjs';
import type { RoundRobinProxy } from './proxy.mjs';
import type { RedisCutter } from './redis-cutter.mjs';

export interface ClusterOptions {
  /** How many workers (default 2). */
  workers?: number;
  /** The run's key prefix. */
  prefix: string;
  /** The Twilio auth token requests are signed with. */
  authToken: string;
  /** The real Redis (default 127.0.0.1:6379). */
  redis?: { host?: string; port?: number };
  /** `events`: every report kept in `messages` (tests); `counts`: totals on request only (load). */
  report?: 'events' | 'counts';
  /** How long each data action takes, ms (default 0). */
  actionMs?: number;
  /** The runtime's recoveryIntervalMs (default 250). */
  recoveryMs?: number;
  /** The agent reservation lease, ms. */
  leaseMs?: number;
  /** How long a session lock outlives a worker that died holding it, ms. */
  lockTtlMs?: number;
  /** The proxy's socket pool per worker (default 64). */
  maxSocketsPerTarget?: number;
  /** The proxy records which worker answered each request. */
  record?: boolean;
}

/** A report from a worker. */
export type WorkerReport =
  | { type: 'action'; worker: string; name: string; sessionId: string; idempotencyKey?: string }
  | { type: 'error'; worker: string; code: string; sessionId: string }
  | { type: 'problem'; worker: string; code: string; sessionId?: string }
  | { type: 'reserved'; worker: string; agentId: string; sessionId: string }
  | { type: 'released'; worker: string; agentId: string; reason: string; sessionId: string }
  | { type: 'ended'; worker: string; sessionId: string; end: string }
  | { type: 'rest'; worker: string; effect: string; callSid: string };

/** A worker's totals (`stats`). */
export interface WorkerCounts {
  actions: Record<string, number>;
  problems: Record<string, number>;
  errors: Record<string, number>;
  released: Record<string, number>;
  reserved: number;
  requests: number;
  /** How long the worker took over each webhook. */
  latency: HistogramData;
}

export declare class Cluster {
  static start(options: ClusterOptions): Promise<Cluster>;
  readonly prefix: string;
  readonly authToken: string;
  readonly proxy: RoundRobinProxy;
  readonly cutter: RedisCutter;
  readonly messages: WorkerReport[];
  /** The URL Twilio would be configured with (the proxy's + /twilio). */
  readonly publicBaseUrl: string;
  startWorker(id: string): Promise<string>;
  waitFor<T extends WorkerReport>(what: string, match: (m: WorkerReport) => m is T, withinMs?: number): Promise<T>;
  waitFor(what: string, match: (m: WorkerReport) => boolean, withinMs?: number): Promise<WorkerReport>;
  /** The one-time code texted on a call. */
  codeFor(callSid: string, withinMs?: number): Promise<string>;
  ask(workerId: string, cmd: 'startSecureCall', extra: { options: Record<string, unknown> }): Promise<{ sessionId: string; twiml: string }>;
  ask(workerId: string, cmd: 'stats'): Promise<WorkerCounts>;
  ask(workerId: string, cmd: 'sweep'): Promise<number>;
  /** The worker's calls of this data action wait (until `unhold`, or the worker dies mid-turn). */
  ask(workerId: string, cmd: 'hold', extra: { action: string }): Promise<true>;
  ask(workerId: string, cmd: 'unhold'): Promise<true>;
  liveWorkers(): string[];
  /** Kill a worker (SIGKILL by default); the proxy finds out by itself. */
  kill(workerId: string, signal?: NodeJS.Signals): Promise<void>;
  stop(): Promise<void>;
}
