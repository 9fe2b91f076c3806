/**
 * The states that wait on the caller — collect, menu, authenticate — as one concern: the
 * collect command they send, the tries they count (per-try outcomes included), what an
 * answer does (validated value, menu key, one-time code with lock-out), and re-prompts.
 */
import { optionEvent } from '../compile/machine.js';
import { parseDuration } from '../expr/duration.js';
import { passesValidation } from '../expr/validate.js';
import { codeMatches, generateCode, hashCode, lockoutKey } from '../secure/otp.js';
import type { PromptSpec } from '../model/primitives.js';
import { FlowRuntimeError } from './program.js';
import type { Wait } from './session.js';
import type { TurnRunner } from './turn.js';
import { stripFinish, type AuthBody, type CollectBody, type MenuBody, type PayStateBody, type Step } from './turn-parts.js';
import type { CallEvent, Command, Speech } from './types.js';

const DEFAULT_ATTEMPTS = 3;
const DEFAULT_INPUT_TIMEOUT_MS = 5000;
/**
 * The most digits a collect takes when its `digits` give no `max` or `length` (the most the
 * schema lets a flow ask for): the provider is told to stop there, and a longer answer is a
 * no match, never stored.
 */
export const DEFAULT_MAX_DIGITS = 64;
/** The longest speech transcript a collect takes, in characters; a longer one is a no match. */
export const MAX_SPEECH_CHARS = 1000;

/** The waiting states of one turn. */
export class WaitingStates {
  constructor(private readonly t: TurnRunner) {}

  collectCommand(purpose: 'collect' | 'menu' | 'authenticate', prompts: Speech[], secure: boolean): Command {
    const s = this.t.state as Record<string, unknown>;
    const body = (s.collect ?? s.menu ?? s.authenticate) as {
      digits?: { min?: number; max?: number; length?: number; finishOnKey?: string } | number;
      timeout?: string | number;
      input?: 'dtmf' | 'speech' | 'dtmf speech';
      speech?: { hints?: string[] };
    };
    const cmd: Command = {
      type: 'collect',
      purpose,
      prompt: prompts,
      input: body.input ?? (body.speech ? 'dtmf speech' : 'dtmf'),
      timeoutMs: body.timeout !== undefined ? parseDuration(body.timeout) : DEFAULT_INPUT_TIMEOUT_MS,
      secure,
    };
    if (purpose === 'menu') {
      cmd.maxDigits = 1;
    } else if (typeof body.digits === 'number') {
      cmd.minDigits = body.digits;
      cmd.maxDigits = body.digits;
    } else {
      const min = body.digits?.length ?? body.digits?.min;
      const max = body.digits?.length ?? body.digits?.max;
      if (min !== undefined) cmd.minDigits = min;
      // Keys are the caller's to press: without a maximum the provider would take any number of them.
      if (max !== undefined) cmd.maxDigits = max;
      else if (cmd.input !== 'speech') cmd.maxDigits = DEFAULT_MAX_DIGITS;
      if (body.digits?.finishOnKey !== undefined) cmd.finishOnKey = body.digits.finishOnKey;
    }
    if (body.speech?.hints) cmd.hints = body.speech.hints;
    return cmd;
  }

  /**
   * The try a collect or menu starts at. A per-try outcome (`noInput`, `noMatch`) that leads
   * back to the state keeps counting: its tries are remembered until the state is left for good.
   */
  startingTry(attempts: number | undefined): number | 'exhausted' {
    const used = this.t.top.tries?.[this.t.stateName] ?? 0;
    if (used >= (attempts ?? DEFAULT_ATTEMPTS)) {
      this.clearTries();
      return 'exhausted';
    }
    return used + 1;
  }

  clearTries(): void {
    if (this.t.top.tries) {
      delete this.t.top.tries[this.t.stateName];
      if (Object.keys(this.t.top.tries).length === 0) delete this.t.top.tries;
    }
  }

  enterCollect(): Step {
    const body = (this.t.state as { collect: CollectBody }).collect;
    const attempt = this.startingTry(body.attempts);
    if (attempt === 'exhausted') return { take: 'failure' };
    const secure = this.t.program.secureNames.has(body.into) || this.t.promptReadsSecure(body.prompt);
    this.t.command(this.collectCommand('collect', this.t.speech(body.prompt), secure));
    return { wait: { kind: 'collect', attempt } };
  }

  enterMenu(): Step {
    const body = (this.t.state as { menu: MenuBody }).menu;
    const attempt = this.startingTry(body.attempts);
    if (attempt === 'exhausted') return { take: 'failure' };
    this.t.command(this.collectCommand('menu', this.t.speech(body.prompt), this.t.waitIsSecure() || this.t.promptReadsSecure(body.prompt)));
    return { wait: { kind: 'menu', attempt } };
  }

  async enterAuthenticate(): Promise<Step> {
    const body = (this.t.state as { authenticate: AuthBody }).authenticate;
    const to = this.t.destination(String(this.t.evaluate(body.to)), 'authenticate', 'to');
    const key = lockoutKey(to);
    if (await this.t.rt.lockouts.isLocked(key)) {
      this.t.rt.emit(this.t, 'alert', { code: 'auth.locked', message: 'a caller tried to authenticate a locked-out number', count: 1 });
      return { take: 'lockedOut' };
    }
    const digits = body.digits ?? this.t.rt.otp.digits;
    const code = generateCode(digits);
    this.t.redactor.addSecret(code);
    const { hash, salt } = hashCode(code);
    const ttl = body.ttl !== undefined ? parseDuration(body.ttl) : this.t.rt.otp.ttlMs;
    this.t.session.slot.otp = { hash, salt, expiresAt: this.t.rt.clock.now() + ttl, to };
    const text = body.message !== undefined ? this.t.render(body.message) : 'Your verification code is {code}.';
    this.t.command({ type: 'sendSms', to, body: text.includes('{code}') ? text.replaceAll('{code}', code) : `${text} ${code}`, code, secure: true });
    const prompt = body.prompt !== undefined ? this.t.speech(body.prompt) : [{ text: 'Please key in the code we have sent you by text message.' }];
    const cmd = this.collectCommand('authenticate', prompt, true);
    if (cmd.type === 'collect') {
      cmd.minDigits = digits;
      cmd.maxDigits = digits;
    }
    this.t.command(cmd);
    return { wait: { kind: 'authenticate', attempt: 1 } };
  }

  /** `pay`: hand the capture to the provider and wait for its result. */
  enterPay(): Step {
    const body = (this.t.state as { pay: PayStateBody }).pay;
    const amount = Number(this.t.evaluate(body.amount));
    if (!Number.isFinite(amount) || amount <= 0) {
      throw new FlowRuntimeError('PAY_AMOUNT', `${this.t.top.flow}: states.${this.t.stateName}.pay.amount: the amount must be a positive number`, this.t.stateName);
    }
    const cmd: Command = { type: 'pay', amount: Math.round(amount * 100) / 100, currency: (body.currency ?? 'USD').toUpperCase(), prompt: this.t.speech(body.prompt) };
    if (body.description !== undefined) cmd.description = this.t.render(body.description);
    if (body.attempts !== undefined) cmd.attempts = body.attempts;
    if (body.timeout !== undefined) cmd.timeoutMs = parseDuration(body.timeout);
    this.t.command(cmd);
    return { wait: { kind: 'pay', attempt: 1 } };
  }

  /** An event for a waiting state: a way out, or the same wait again (re-prompted). */
  async resume(wait: Wait, event: CallEvent): Promise<Step | undefined> {
    if (wait.kind === 'connect') {
      return event.type === 'connectResult' ? { take: event.status } : undefined;
    }
    if (wait.kind === 'pay') {
      if (event.type !== 'paymentResult') return undefined;
      if (event.status !== 'success') return { take: 'failure' };
      const body = (this.t.state as { pay: PayStateBody }).pay;
      const result = { status: event.status, reference: event.reference ?? '', token: event.token ?? '' };
      for (const [name, expr] of Object.entries(body.output ?? {})) this.t.assign(name, this.t.evaluate(expr, 'result', { result }));
      return { take: 'success' };
    }
    const s = this.t.state as Record<string, unknown>;
    if (wait.kind === 'authenticate') return this.resumeAuthenticate(wait, event);
    const body = (s.collect ?? s.menu) as (CollectBody | MenuBody) & { attempts?: number };
    const on = (s.on ?? {}) as Record<string, string | undefined>;
    const attempts = body.attempts ?? DEFAULT_ATTEMPTS;
    let problem: 'noInput' | 'noMatch';
    if (event.type === 'noInput' || (event.type === 'digits' && stripFinish(event.digits, body) === '')) {
      problem = 'noInput';
    } else if (event.type === 'digits' || event.type === 'speech') {
      const raw = event.type === 'digits' ? stripFinish(event.digits, body) : event.text.trim();
      if (wait.kind === 'menu') {
        const key = raw.slice(0, 1);
        if ((body as MenuBody).options[key] !== undefined) {
          this.clearTries();
          return { take: optionEvent(key) };
        }
      } else if (this.valid(raw, body as CollectBody, event.type)) {
        this.clearTries();
        this.t.assign((body as CollectBody).into, raw);
        return { take: 'success' };
      }
      problem = 'noMatch';
    } else {
      // Not an answer to this state (a late or out-of-order callback): ask again, count nothing.
      return this.reprompt(wait, []);
    }
    if (wait.attempt >= attempts) {
      this.clearTries();
      return { take: 'failure' };
    }
    if (on[problem] !== undefined) {
      (this.t.top.tries ??= {})[this.t.stateName] = wait.attempt;
      return { take: problem };
    }
    const extra = problem === 'noInput' ? body.noInputPrompt : body.noMatchPrompt;
    return this.reprompt({ kind: wait.kind, attempt: wait.attempt + 1 }, this.t.speech(extra));
  }

  reprompt(wait: Wait, before: Speech[]): Step {
    const s = this.t.state as Record<string, unknown>;
    const body = (s.collect ?? s.menu ?? s.authenticate) as { prompt?: PromptSpec; into?: string };
    const secure = this.t.waitIsSecure() || this.t.promptReadsSecure(body.prompt);
    const prompt = wait.kind === 'authenticate' && body.prompt === undefined ? [{ text: 'Please key in the code we have sent you by text message.' }] : this.t.speech(body.prompt);
    const cmd = this.collectCommand(wait.kind === 'connect' || wait.kind === 'pay' ? 'collect' : wait.kind, [...before, ...prompt], secure);
    if (wait.kind === 'authenticate' && cmd.type === 'collect') {
      const digits = (body as AuthBody).digits ?? this.t.rt.otp.digits;
      cmd.minDigits = digits;
      cmd.maxDigits = digits;
    }
    this.t.command(cmd);
    return { wait };
  }

  valid(value: string, body: CollectBody, kind: 'digits' | 'speech'): boolean {
    const d = body.digits;
    const min = d?.length ?? d?.min;
    const max = d?.length ?? d?.max;
    if (kind === 'digits' ? value.length > (max ?? DEFAULT_MAX_DIGITS) : value.length > MAX_SPEECH_CHARS) return false;
    if (min !== undefined && value.length < min) return false;
    if (max !== undefined && value.length > max) return false;
    if (body.validate === undefined) return true;
    const validation = this.t.program.validation(body.validate);
    return passesValidation(validation, value, (expr, v) => {
      // Fix: the caller decides what `value` holds (`int(value)` on "12*" throws). Input the
      // validation cannot even evaluate does not validate: a no match, not a flow error.
      try {
        return this.t.evaluate(expr, 'value', { value: v }) === true;
      } catch (error) {
        if (error instanceof FlowRuntimeError && error.code === 'EXPRESSION_FAILED') return false;
        throw error;
      }
    });
  }

  async resumeAuthenticate(wait: Wait, event: CallEvent): Promise<Step | undefined> {
    const body = (this.t.state as { authenticate: AuthBody }).authenticate;
    const attempts = body.attempts ?? DEFAULT_ATTEMPTS;
    const otp = this.t.session.slot.otp;
    if (event.type === 'smsResult') {
      if (event.status === 'failed') {
        delete this.t.session.slot.otp;
        return { take: 'failed' };
      }
      return undefined;
    }
    if (event.type !== 'digits' && event.type !== 'noInput') return this.reprompt(wait, []);
    if (event.type === 'digits' && otp && this.t.rt.clock.now() <= otp.expiresAt && codeMatches(event.digits.replace(/#$/, ''), otp.hash, otp.salt)) {
      await this.t.rt.lockouts.reset(lockoutKey(otp.to));
      delete this.t.session.slot.otp;
      return { take: 'verified' };
    }
    if (event.type === 'digits' && otp) {
      const { locked } = await this.t.rt.lockouts.recordFailure(lockoutKey(otp.to), this.t.rt.lockoutPolicy);
      this.t.rt.recordFailure(this.t, 'auth.failed', 'repeated failed one-time codes from this caller');
      if (locked) {
        delete this.t.session.slot.otp;
        this.t.rt.emit(this.t, 'alert', { code: 'auth.lockout', message: 'a number was locked out after repeated wrong one-time codes', count: this.t.rt.lockoutPolicy.maxFailures });
        return { take: 'lockedOut' };
      }
    }
    if (!otp || wait.attempt >= attempts || this.t.rt.clock.now() > otp.expiresAt) {
      delete this.t.session.slot.otp;
      return { take: 'failed' };
    }
    return this.reprompt({ kind: 'authenticate', attempt: wait.attempt + 1 }, []);
  }

}
