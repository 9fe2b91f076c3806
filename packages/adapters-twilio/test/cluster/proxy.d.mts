/** A small round-robin HTTP reverse proxy on loopback in front of webhook workers (see proxy.mjs). */
export interface ProxyRecord {
  method: string;
  path: string;
  /** The worker that answered; undefined when none could (502). */
  target: string | undefined;
  callSid: string | undefined;
  status: number;
  /** Workers tried (more than 1: the first could not take it). */
  attempts: number;
}

export declare class RoundRobinProxy {
  constructor(options?: { maxSocketsPerTarget?: number; record?: boolean; retryDownMs?: number });
  readonly port: number;
  /** The proxy's origin, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** Every request with the worker that answered it (when constructed with `record: true`). */
  readonly records: ProxyRecord[];
  /** Requests sent on to another worker after one failed. */
  readonly retried: number;
  /** Requests no worker could take (answered 502). */
  readonly failed: number;
  record: boolean;
  start(): Promise<number>;
  addTarget(id: string, port: number): void;
  removeTarget(id: string): void;
  /** Send every request to this worker (others only when it cannot take one). */
  pin(id: string): void;
  /** Back to strict round robin over the live workers. */
  alternate(): void;
  /** How many requests each worker answered. */
  servedBy(): Record<string, number>;
  close(): Promise<void>;
}
