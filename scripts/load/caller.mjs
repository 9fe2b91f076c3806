// The simulated callers of the load test: which line a call dials (or whether an agent hands
// the caller to the secure card payment), and what the caller answers at each prompt — digits,
// silence, a wrong entry, a hang-up — drawn from the call's own seeded generator. The data
// actions' outcomes follow from the digits (examples/twilio-server/lines.mjs), so they are seeded too.
import { LINES } from '../../examples/twilio-server/lines.mjs';
import { luhnDigit } from './random.mjs';

/** How often each kind of call is made. */
export const CALL_MIX = { billing: 30, partner: 20, bank: 20, protectedIdentity: 10, agentPayment: 20 };

/** The number each kind of call dials (the agent payment is started by the agent's app, on the partner line's caller). */
export const LINE_OF = { billing: LINES.billing, partner: LINES.partner, bank: LINES.bank, protectedIdentity: LINES.protectedIdentity, agentPayment: LINES.partner };

/**
 * The secure values callers key in, drawn from fixed pools so that the set the Redis scan looks
 * for stays bounded however long the run. Card numbers are Luhn-valid with last four digits
 * starting with 9, so that the masked card a flow may keep (its last four) never looks like an
 * expiry the scan looks for.
 */
export class SecurePools {
  constructor(random, size = 1_000) {
    this.cards = Array.from({ length: size }, () => {
      const body = `4${random.digits(11)}9${random.digits(2)}`;
      return body + luhnDigit(body);
    });
    this.expiries = [];
    for (let month = 1; month <= 12; month++) for (let year = 27; year <= 33; year++) this.expiries.push(`${String(month).padStart(2, '0')}${year}`);
  }
}

/**
 * A caller for one call: answers each Gather and Dial of the TwiML it gets. Every secure value it
 * keys in goes to `typed` (the Redis scan looks for each of them). When `stopping()` is true
 * (the run's time is up) the caller hangs up at the next prompt.
 *
 * @param {{ random: import('./random.mjs').Random; pools: SecurePools; typed: { add(v: string): void };
 *           code: () => Promise<string>; stopping: () => boolean; thinkMs: number }} context
 */
export function callerScript(context) {
  const { random, pools, typed, stopping } = context;
  const secure = (value) => {
    typed.add(value);
    return { secure: value };
  };
  let code;
  return async ({ verb }) => {
    const prompt = verb.children.map((c) => c.text).join(' ');
    const asksForCode = verb.name === 'Gather' && /code/i.test(prompt) && !/security code/i.test(prompt);
    // The SMS reached the caller's phone (a worker told the load script): read it first, whatever
    // the caller then does, so that no code is left waiting to be read.
    if (asksForCode && code === undefined) {
      code = await context.code();
      typed.add(code);
    }
    if (context.thinkMs > 0) await new Promise((resolve) => setTimeout(resolve, random.next() * 2 * context.thinkMs));
    if (verb.name === 'Dial') {
      if (stopping()) return { dial: 'completed' };
      return { dial: random.pick(['completed', 'completed', 'completed', 'busy', 'busy', 'no-answer', 'no-answer', 'failed']) };
    }
    if (stopping()) return undefined;
    const r = random.next();
    if (r < 0.015) return undefined; // the caller hangs up
    if (r < 0.055) return { noInput: true };
    const wrong = r < 0.095;
    if (/card number/i.test(prompt)) {
      const card = random.pick(pools.cards);
      return secure(wrong ? card.slice(0, -1) + String((Number(card.at(-1)) + 1) % 10) : card);
    }
    if (/expiry/i.test(prompt)) return secure(wrong ? `13${random.int(27, 33)}` : random.pick(pools.expiries));
    if (/security code/i.test(prompt)) return secure(wrong ? random.digits(5) : String(random.int(100, 999)));
    if (/account number/i.test(prompt)) return wrong ? random.digits(6) : random.digits(10);
    if (/application number/i.test(prompt)) return wrong ? random.digits(4) : random.digits(8);
    if (asksForCode) return secure(wrong ? random.digits(5) : code);
    const options = [...prompt.matchAll(/press (\d)/gi)].map((m) => m[1]);
    if (options.length > 0) return wrong ? '9' : random.pick(options);
    return random.digits(1);
  };
}
