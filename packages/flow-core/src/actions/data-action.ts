/**
 * Data actions: the lookups, payments and messages a flow calls with `invoke`, registered
 * in code with zod schemas for their input and output. Each call goes through the limits a
 * back end deserves: a concurrency and rate limit (p-queue), retries with exponential
 * backoff, a circuit breaker so a failing back end is not hammered, and a per-try time-out
 * delivered as an AbortSignal (cockatiel). The outcome is always one of success, error or
 * timeout: a data action can never crash a call.
 */
import type { ActionSecurity } from '../secure/information-flow.js';
import {
  BrokenCircuitError,
  ConsecutiveBreaker,
  ExponentialBackoff,
  TaskCancelledError,
  TimeoutStrategy,
  circuitBreaker,
  handleWhen,
  retry,
  timeout as timeoutPolicy,
  wrap,
  type IPolicy,
} from 'cockatiel';
import { randomUUID } from 'node:crypto';
import PQueue from 'p-queue';
import type { z } from 'zod';

/** What a data action's handler receives besides its input. */
export interface ActionContext {
  /** Aborted when the try times out or the runtime shuts down: pass it to fetch and friends. */
  signal: AbortSignal;
  /** The session calling it. */
  sessionId: string;
  /** Which try this is (1-based). */
  attempt: number;
  /**
   * The same for every try of this call and for the same call run again (a worker that died
   * mid-turn, the turn re-run on another): `<session>:<turn>:<state>:<n>`. Hand it to a payment
   * gateway or any back end that dedupes (an `Idempotency-Key` header) so that a charge whose
   * answer was lost with its worker is not made twice.
   */
  idempotencyKey: string;
}

/** Limits of one data action (all optional). */
export interface ActionLimits {
  /** Per-try time-out, ms (default 5000; a flow's `invoke.timeout` overrides it). */
  timeoutMs?: number;
  /** Extra tries after a failure (default 0; a flow's `invoke.retries` overrides it). */
  retries?: number;
  /** First backoff delay, ms (default 100), doubling up to maxBackoffMs (default 2000). */
  backoffMs?: number;
  maxBackoffMs?: number;
  /**
   * Calls at once (default 16). A call holds its slot while a try's handler still runs, even
   * past its time-out, for at most `timeoutGraceMs` more: see `timeoutGraceMs`.
   */
  concurrency?: number;
  /**
   * How long a try's handler may go on after the call's last time-out, holding the call's
   * concurrency slot, before the slot is released anyway, ms (default 1000). The caller gets
   * its `timeout` outcome at the time-out itself; only the next call waiting for a slot waits
   * longer. A handler that honours its AbortSignal gives the slot back as soon as it stops.
   */
  timeoutGraceMs?: number;
  /** Calls per second at most (default: unlimited). */
  ratePerSecond?: number;
  /** Consecutive failures that open the breaker (default 5) and how long it stays open, ms (default 10000). */
  breakerThreshold?: number;
  breakerResetMs?: number;
}

/** A data action as the host registers it. */
export interface DataActionDefinition<I extends z.ZodType = z.ZodType, O extends z.ZodType = z.ZodType> {
  name: string;
  description?: string;
  input: I;
  output: O;
  /** May receive secure values (a PCI-scoped payment gateway, say). Others never get one. */
  secure?: boolean;
  /** Output fields that hold secure values (a card token): whatever a flow assigns from them is secure. */
  secureOutput?: readonly string[];
  limits?: ActionLimits;
  handler: (input: z.infer<I>, context: ActionContext) => Promise<z.input<O>> | z.input<O>;
}

/** Define a data action with its types inferred from the schemas. */
export function defineAction<I extends z.ZodType, O extends z.ZodType>(
  definition: DataActionDefinition<I, O>,
): DataActionDefinition<I, O> {
  return definition;
}

/** How one call ended. */
export type ActionOutcome =
  | { outcome: 'success'; output: Record<string, unknown>; attempts: number; ms: number }
  | { outcome: 'error'; code: ActionErrorCode; message: string; attempts: number; ms: number }
  | { outcome: 'timeout'; attempts: number; ms: number };

/** Why a call failed. */
export type ActionErrorCode =
  | 'ACTION_NOT_REGISTERED'
  | 'ACTION_INPUT_INVALID'
  | 'ACTION_OUTPUT_INVALID'
  | 'ACTION_FAILED'
  | 'ACTION_CIRCUIT_OPEN'
  | 'ACTION_NOT_SECURE';

/** The default of `ActionLimits.timeoutGraceMs`. */
const DEFAULT_TIMEOUT_GRACE_MS = 1000;

class InvalidOutput extends Error {}

/** One registered action with its queue and policies. */
class RegisteredAction {
  readonly queue: PQueue;
  readonly breaker: ReturnType<typeof circuitBreaker>;
  private readonly policies = new Map<string, IPolicy>();

  constructor(readonly definition: DataActionDefinition) {
    const l = definition.limits ?? {};
    const rate = l.ratePerSecond;
    this.queue = new PQueue({
      concurrency: l.concurrency ?? 16,
      ...(rate !== undefined && rate > 0 ? { intervalCap: Math.max(1, Math.floor(rate)), interval: 1000 } : {}),
    });
    this.breaker = circuitBreaker(handleWhen((e) => !(e instanceof InvalidOutput)), {
      halfOpenAfter: l.breakerResetMs ?? 10_000,
      breaker: new ConsecutiveBreaker(l.breakerThreshold ?? 5),
    });
  }

  /** retry(breaker(timeout)) for a given time-out and retry count, built once per pair. */
  policy(timeoutMs: number, retries: number): IPolicy {
    const key = `${timeoutMs}/${retries}`;
    let p = this.policies.get(key);
    if (!p) {
      const l = this.definition.limits ?? {};
      const retryPolicy = retry(
        handleWhen((e) => !(e instanceof BrokenCircuitError) && !(e instanceof InvalidOutput)),
        {
          maxAttempts: retries,
          backoff: new ExponentialBackoff({ initialDelay: l.backoffMs ?? 100, maxDelay: l.maxBackoffMs ?? 2000 }),
        },
      );
      p = wrap(retryPolicy, this.breaker, timeoutPolicy(timeoutMs, TimeoutStrategy.Aggressive));
      this.policies.set(key, p);
    }
    return p;
  }
}

/** Options of one data action call. */
export interface ActionCallOptions {
  sessionId: string;
  timeoutMs?: number;
  retries?: number;
  /** The input holds a secure value: only an action marked secure may receive it. */
  carriesSecure?: boolean;
  signal?: AbortSignal;
  /** See `ActionContext.idempotencyKey` (default: one of its own per call). */
  idempotencyKey?: string;
}

/** What the runtime calls data actions through (the registry, or a simulator's mocks). */
export interface ActionCaller {
  call(name: string, input: Record<string, unknown>, options: ActionCallOptions): Promise<ActionOutcome>;
  /**
   * What an action may receive and what it answers (see information-flow.ts); undefined for an
   * action the caller does not know, which the runtime treats as not secure.
   */
  securityOf?(name: string): ActionSecurity | undefined;
}

/** The registry the runtime calls data actions through. */
export class ActionRegistry implements ActionCaller {
  private readonly actions = new Map<string, RegisteredAction>();

  constructor(definitions: readonly DataActionDefinition[] = []) {
    for (const d of definitions) this.register(d);
  }

  /** Register (or replace) an action. */
  register(definition: DataActionDefinition): this {
    this.actions.set(definition.name, new RegisteredAction(definition));
    return this;
  }

  /** Is the action registered? */
  has(name: string): boolean {
    return this.actions.has(name);
  }

  /** Is the action allowed to receive secure values? */
  isSecure(name: string): boolean {
    return this.actions.get(name)?.definition.secure === true;
  }

  /** What a registered action may receive and what it answers. */
  securityOf(name: string): ActionSecurity | undefined {
    const def = this.actions.get(name)?.definition;
    if (!def) return undefined;
    return { secure: def.secure === true, secureOutputs: def.secureOutput ?? [] };
  }

  /** The registered definitions. */
  list(): DataActionDefinition[] {
    return [...this.actions.values()].map((a) => a.definition);
  }

  /**
   * Call an action. Never throws: every failure is an `error` or `timeout` outcome whose
   * message names the action and the field, never a value.
   */
  async call(
    name: string,
    input: Record<string, unknown>,
    options: ActionCallOptions,
  ): Promise<ActionOutcome> {
    const started = performance.now();
    const ms = () => Math.round(performance.now() - started);
    const action = this.actions.get(name);
    if (!action) return { outcome: 'error', code: 'ACTION_NOT_REGISTERED', message: `data action '${name}' is not registered`, attempts: 0, ms: 0 };
    const def = action.definition;
    if (options.carriesSecure && def.secure !== true) {
      return { outcome: 'error', code: 'ACTION_NOT_SECURE', message: `data action '${name}' is not marked secure and may not receive secure values`, attempts: 0, ms: 0 };
    }
    const parsedInput = def.input.safeParse(input);
    if (!parsedInput.success) {
      return { outcome: 'error', code: 'ACTION_INPUT_INVALID', message: `data action '${name}': input ${describeIssues(parsedInput.error)}`, attempts: 0, ms: ms() };
    }
    const timeoutMs = options.timeoutMs ?? def.limits?.timeoutMs ?? 5000;
    const retries = options.retries ?? def.limits?.retries ?? 0;
    const graceMs = Math.max(0, def.limits?.timeoutGraceMs ?? DEFAULT_TIMEOUT_GRACE_MS);
    let attempts = 0;
    const idempotencyKey = options.idempotencyKey ?? `${options.sessionId}:${randomUUID()}`;
    // The tries' handlers that have not settled: a try that timed out may still be running.
    const running = new Set<Promise<unknown>>();
    try {
      const output = await new Promise<Record<string, unknown>>((resolve, reject) => {
        // The caller has its outcome when the tries end (at a time-out at the latest); the
        // queue's slot is given back only when their handlers have stopped, or the grace
        // after the time-out has run out: once, when this task settles.
        void action.queue
          .add(async () => {
            try {
              resolve(
                await action.policy(timeoutMs, retries).execute(async ({ signal }) => {
                  attempts++;
                  const handler = Promise.resolve(
                    def.handler(parsedInput.data, { signal, sessionId: options.sessionId, attempt: attempts, idempotencyKey }),
                  );
                  running.add(handler);
                  const done = () => running.delete(handler);
                  handler.then(done, done);
                  const parsed = def.output.safeParse(await handler);
                  if (!parsed.success) throw new InvalidOutput(`output ${describeIssues(parsed.error)}`);
                  return parsed.data as Record<string, unknown>;
                }, options.signal),
              );
            } catch (error) {
              reject(error);
            }
            await stoppedOrGrace(running, graceMs);
          })
          .catch(reject);
      });
      return { outcome: 'success', output: output ?? {}, attempts, ms: ms() };
    } catch (error) {
      if (error instanceof TaskCancelledError) return { outcome: 'timeout', attempts, ms: ms() };
      if (error instanceof BrokenCircuitError) {
        return { outcome: 'error', code: 'ACTION_CIRCUIT_OPEN', message: `data action '${name}' is failing; its circuit breaker is open`, attempts, ms: ms() };
      }
      if (error instanceof InvalidOutput) {
        return { outcome: 'error', code: 'ACTION_OUTPUT_INVALID', message: `data action '${name}': ${error.message}`, attempts, ms: ms() };
      }
      // The handler's own message may carry anything: the caller redacts it before it goes anywhere.
      const message = error instanceof Error ? error.message : String(error);
      return { outcome: 'error', code: 'ACTION_FAILED', message: `data action '${name}' failed: ${message}`, attempts, ms: ms() };
    }
  }
}

/** Resolves when every handler in `running` has settled, or after `graceMs`, whichever is first. */
function stoppedOrGrace(running: ReadonlySet<Promise<unknown>>, graceMs: number): Promise<void> {
  if (running.size === 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, graceMs);
    void Promise.allSettled([...running]).then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.length > 0 ? i.path.join('.') : '(value)'}: ${i.code === 'invalid_type' ? `expected ${(i as { expected?: string }).expected ?? 'another type'}` : i.code}`)
    .join('; ');
}
