/**
 * The clock port: the runtime reads time only through it, so tests and the simulator can
 * move time by hand and leases and time-outs never depend on timers inside a state machine.
 */

/** Where the runtime gets the time. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

/** The system clock. */
export const systemClock: Clock = { now: () => Date.now() };

/** A clock that moves only when told (tests, the simulator). */
export class ManualClock implements Clock {
  constructor(private t = 0) {}
  now(): number {
    return this.t;
  }
  /** Move time forward by `ms`. */
  advance(ms: number): void {
    this.t += ms;
  }
  /** Set the time. */
  set(ms: number): void {
    this.t = ms;
  }
}
