/**
 * What the example server (server.mjs), the cluster test's workers and the load test's callers
 * share: the example flows' phone lines (555 test numbers), the cluster's fallback queue of the
 * fail-safe answer, and the data actions' scripted outcomes. The outcome of a data action
 * follows from its input (the last digit of an account, application, phone number or security
 * code), so a caller who chooses its digits — by hand, or from a seeded generator — chooses,
 * reproducibly, the path the flow takes; and every worker answers the same way, whichever of
 * them runs the turn.
 */

/** Called number → example flow. */
export const LINES = {
  billing: '+15555550130',
  protectedIdentity: '+15555550131',
  partner: '+15555550199',
  bank: '+15555550123',
};

export const FLOW_BY_NUMBER = {
  [LINES.billing]: 'billing-line',
  [LINES.protectedIdentity]: 'protected-identity',
  [LINES.partner]: 'masked-callback',
  [LINES.bank]: 'sms-otp',
};

/** The example flows the workers load: [project directory, file name]. */
export const EXAMPLE_FLOWS = [
  ['self-service-payment', 'billing-line'],
  ['self-service-payment', 'card-payment'],
  ['protected-identity', 'protected-identity'],
  ['masked-callback', 'masked-callback'],
  ['agent-card-payment', 'agent-card-payment'],
  ['sms-otp', 'sms-otp'],
];

/**
 * The example flows of EXAMPLE_FLOWS, loaded from their YAML files (the built flow-dsl, imported
 * here only when asked for: the load test's callers share this module and need no loader). A
 * file that does not load throws an Error naming it and each problem's line and column.
 * @returns {Promise<import('@callflow/flow-core').Flow[]>}
 */
export async function loadExampleFlows() {
  const [{ readFileSync }, { join }, { loadFlowText }] = await Promise.all([import('node:fs'), import('node:path'), import('@callflow/flow-dsl')]);
  const examples = join(import.meta.dirname, '..');
  return EXAMPLE_FLOWS.map(([dir, name]) => {
    const file = join(examples, dir, `${name}.yaml`);
    const loaded = loadFlowText(readFileSync(file, 'utf8'), file);
    if (!loaded.flow) throw new Error(`${file} does not load: ${loaded.diagnostics.map((d) => `${d.line}:${d.column} ${d.message}`).join('; ')}`);
    return loaded.flow;
  });
}

/** Where the fail-safe answer puts a caller through; no flow transfers there, so it marks a call that could not go on. */
export const FALLBACK_QUEUE = 'cluster-fallback';

/** The masked-callback client's number and the sms-otp customer's mobile (secure values the data actions hand out). */
export const CLIENT_PHONE = '+15555550142';
export const CUSTOMER_MOBILE = '+15555550177';

const last = (value) => String(value ?? '').slice(-1);

/**
 * The scripted outcome of a data action as flow-core's `ActionOutcome` (what an `ActionCaller`
 * answers), taking `ms` (a worker's simulated back-end time).
 * @param {string} name
 * @param {Record<string, unknown>} input
 */
export function scriptedActionOutcome(name, input, ms = 0) {
  const scripted = scriptedOutcome(name, input);
  if ('timeout' in scripted) return { outcome: 'timeout', attempts: 1, ms };
  if ('error' in scripted) return { outcome: 'error', code: 'ACTION_FAILED', message: scripted.error, attempts: 1, ms };
  return { outcome: 'success', output: scripted.output, attempts: 1, ms };
}

/**
 * What each data action answers for an input: `{ output }`, `{ error }` or `{ timeout: true }`.
 * @param {string} name
 * @param {Record<string, unknown>} input
 */
export function scriptedOutcome(name, input) {
  switch (name) {
    case 'findAccount': {
      const d = last(input.accountNumber);
      if (d === '0') return { output: { found: false, accountId: '', balance: 0 } };
      if (d === '1') return { error: 'accounts unavailable' };
      if (d === '2') return { timeout: true };
      if (d === '3') return { output: { found: true, accountId: 'ACC-1003', balance: 0 } };
      return { output: { found: true, accountId: `ACC-100${d}`, balance: 60 + Number(d) + 0.5 } };
    }
    case 'takePayment':
    case 'chargeCard': {
      const d = last(input.cvv);
      const card = String(input.cardNumber ?? '');
      if (d === '7') return { output: { approved: false, reference: '', maskedCard: card.slice(-4) } };
      if (d === '8') return { error: 'gateway unavailable' };
      if (d === '9') return { timeout: true };
      return { output: { approved: true, reference: `PAY-${7000 + Number(d)}`, maskedCard: card.slice(-4) } };
    }
    case 'lookupCaller': {
      const d = last(input.phone);
      if (d === '0' || d === '1') return { output: { found: true, protectedIdentity: true, name: 'Ada Lovelace' } };
      if (d === '2') return { output: { found: false, protectedIdentity: false, name: '' } };
      if (d === '3') return { error: 'directory unavailable' };
      return { output: { found: true, protectedIdentity: false, name: 'Grace Hopper' } };
    }
    case 'lookupApplication': {
      const d = last(input.applicationNumber);
      if (d === '0') return { output: { status: 'closed', clientPhone: CLIENT_PHONE } };
      if (d === '1') return { output: { status: 'notFound', clientPhone: '' } };
      if (d === '2') return { error: 'applications unavailable' };
      if (d === '3') return { timeout: true };
      return { output: { status: 'open', clientPhone: CLIENT_PHONE } };
    }
    case 'findCaller': {
      const d = last(input.phone);
      if (d === '0') return { output: { found: false, customerId: '', mobile: '' } };
      if (d === '1') return { error: 'customer directory unavailable' };
      return { output: { found: true, customerId: 'CUST-1001', mobile: CUSTOMER_MOBILE } };
    }
    case 'getBalance':
      return { output: { balance: 1250.5 } };
    case 'blockCard':
      return { output: { blocked: true } };
    default:
      return { error: `no script for ${name}` };
  }
}
