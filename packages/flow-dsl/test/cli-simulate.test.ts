/**
 * `callflow simulate`, run as CI scripts and outside tests run it: `node dist/cli.js` in a
 * child process (build first: `npx tsup`). Checks the contract of
 * shared/design/flow-language.md: the JSON object (flow, path, transcript, end), the text
 * format, inputs, mocks, flow inputs, exit codes 0 / 1 / 2, the interactive mode with piped
 * stdin, and that no secure value keyed in ever reaches stdout or stderr.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { examplesRoot } from './example-projects.js';
import { CLI, callflow as run, expectNoStackTrace, type Run } from './cli-helpers.js';

// Every test starts node processes; a loaded CI machine can take seconds for each.
vi.setConfig({ testTimeout: 60_000 });

const AGENT_PAYMENT = join(examplesRoot, 'agent-card-payment', 'agent-card-payment.yaml');
const MASKED_CALLBACK = join(examplesRoot, 'masked-callback', 'masked-callback.yaml');
const PROTECTED = join(examplesRoot, 'protected-identity', 'protected-identity.yaml');
const BILLING_LINE = join(examplesRoot, 'self-service-payment', 'billing-line.yaml');

// Luhn-valid test cards; the expiry and code are secure too but too short to search for.
const CARD = '4111111111111111';
const CARD_2 = '4916338506082832';


const callflow = run;


/** No secure value keyed in may appear anywhere the CLI writes (nor in a failure's message). */
function expectNoSecrets(run: Run, ...secrets: string[]): void {
  for (const s of secrets) {
    expect(run.stdout.includes(s), 'a secure value on stdout').toBe(false);
    expect(run.stderr.includes(s), 'a secure value on stderr').toBe(false);
  }
}

interface Line {
  from: string;
  kind: string;
  text: string;
  state?: string;
}
interface SimJson {
  flow: string;
  path: string[];
  transcript: Line[];
  end: { type: string; [field: string]: unknown };
  error?: { code: string; message: string };
  unmocked?: string[];
}

function json(run: Run): SimJson {
  // One JSON object, nothing else on stdout.
  return JSON.parse(run.stdout) as SimJson;
}

let work: string;
/** A path under the work directory, written with `text`. */
function file(name: string, text: string): string {
  const path = join(work, name);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  return path;
}

const mocks: Record<string, string> = {};

const PAY_FLOW_INPUTS = ['--flow-input', 'amount=42.5', '--flow-input', 'invoiceId=INV-1001'];

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build the package first (npx tsup)`);
  work = mkdtempSync(join(tmpdir(), 'callflow-simulate-'));
  mocks.approved = file('mocks/approved.json', JSON.stringify({ approved: true, reference: 'PAY-7001', maskedCard: '1111' }));
  mocks.open = file('mocks/open.json', JSON.stringify({ status: 'open', clientPhone: '+15555550142' }));
  mocks.closed = file('mocks/closed.json', JSON.stringify({ status: 'closed', clientPhone: '+15555550142' }));
  mocks.flagged = file('mocks/flagged.json', JSON.stringify({ found: true, protectedIdentity: true, name: 'Ada Lovelace' }));
  mocks.error = file('mocks/error.json', JSON.stringify({ error: 'service unavailable' }));
  mocks.timeout = file('mocks/timeout.json', JSON.stringify({ timeout: true }));
  mocks.notJson = file('mocks/not-json.json', 'status: open\n');
  mocks.array = file('mocks/array.json', '[1, 2]');
  mocks.account = file('mocks/account.json', JSON.stringify({ found: true, accountId: 'ACC-1001', balance: 64.2 }));
  mocks.payment = file('mocks/payment.json', JSON.stringify({ approved: true, reference: 'PAY-9001', maskedCard: '2832' }));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

// A flow whose data action outcomes each end differently, and which reads its inputs back.
const PROBE = `flow: probe
kind: inbound
inputs:
  amount: { type: number, required: true }
  ref: { type: string, required: true }
  note: { type: string }
variables:
  status: { type: string }
start: hello
states:
  hello:
    say: Amount \${amount + 1.0}, reference \${ref}.
    next: check
  check:
    invoke:
      action: checkThing
      input: { ref: ref }
      output: { status: result.status }
    on: { success: ok, error: failed, timeout: slow }
  ok:
    say: Status \${status}.
    next: okEnd
  okEnd:
    disconnect: { reason: ok }
  failed:
    disconnect: { reason: failed }
  slow:
    transfer: { queue: slow-lane }
`;

// Clean of lint errors, but reads a variable that is never set: a run-time failure with no
// onError to catch it.
const FAILS = `flow: fails
kind: inbound
variables:
  name: { type: string }
start: hello
states:
  hello:
    say: Hello \${name}.
    next: bye
  bye:
    disconnect: {}
`;

// A lint error (unknown-state).
const BROKEN = `flow: broken
kind: inbound
start: hello
states:
  hello:
    say: Hello.
    next: nowhere
`;

// A secure flow handing back the last four digits of the card and the amount, which the
// agent's app sets to the same four digits.
const LAST4 = `flow: last4
kind: secure
reservation: agent
inputs:
  amount: { type: number, required: true }
outputs:
  cardLast4: { type: string }
  amount: { type: number }
variables:
  cardNumber: { type: string, secure: true }
  cardLast4: { type: string }
start: askCard
states:
  askCard:
    collect: { prompt: Your card number please., into: cardNumber, digits: { min: 13, max: 19 }, validate: luhn, attempts: 1 }
    on: { success: mask, failure: sorry }
  mask:
    set: { cardLast4: last4(cardNumber) }
    next: back
  back:
    returnToAgent: { outputs: { cardLast4: cardLast4, amount: amount } }
  sorry:
    transfer: { queue: billing }
`;

describe('callflow simulate --format json', () => {
  it('prints the end redacted like the log, each typed field with its type', async () => {
    const last4 = file('last4/last4.yaml', LAST4);
    const args = ['simulate', last4, '--input', CARD_2, '--flow-input', `amount=${CARD_2.slice(-4)}`];
    const asJson = await callflow([...args, '-f', 'json']);
    expect(asJson.code).toBe(0);
    const out = json(asJson);
    // The last four digits are a piece of the card the session held: a string, redacted. The
    // amount is a number, and a number is never rewritten, whatever its digits.
    expect(out.end).toEqual({ type: 'returnToAgent', outputs: { cardLast4: '[redacted]', amount: 2832 } });
    // A line is text: there the amount's digits are the card's.
    expect(out.transcript.map((l) => l.text)).toContain('returnToAgent {"cardLast4":"[redacted]","amount":[redacted]}');
    expectNoSecrets(asJson, CARD_2);

    const asText = await callflow(args);
    expect(asText.code).toBe(0);
    // Text only: the amount's digits are redacted too.
    expect(asText.stdout).toContain('end: returnToAgent {"outputs":{"cardLast4":"[redacted]","amount":[redacted]}}\n');
    expectNoSecrets(asText, CARD_2, CARD_2.slice(-4));
  });

  it('prints one object with flow, path, transcript and end; secure inputs show as [secure]', async () => {
    const run = await callflow([
      'simulate', AGENT_PAYMENT, '--input', CARD, '--input', '1228', '--input', '123',
      '--action', `chargeCard=${mocks.approved}`, ...PAY_FLOW_INPUTS, '--format', 'json',
    ]);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    const out = json(run);
    expect(out.flow).toBe('agent-card-payment');
    expect(out.path).toEqual(['intro', 'askCard', 'askExpiry', 'askCvv', 'charge', 'checkResult', 'confirm', 'backToAgent']);
    expect(out.end).toEqual({ type: 'returnToAgent', outputs: { paymentRef: 'PAY-7001', maskedCard: '[redacted]' } });
    const inputs = out.transcript.filter((l) => l.from === 'caller');
    expect(inputs.map((l) => l.text)).toEqual(['[secure]', '[secure]', '[secure]']);
    expect(out.transcript.map((l) => l.text)).toEqual(
      expect.arrayContaining(['Please key in your card number, then the hash key.', 'collect (secure)', 'pauseRecording', 'resumeRecording']),
    );
    expect(out.unmocked).toBeUndefined();
    expectNoSecrets(run, CARD);
  });

  it('gives the terminal action fields: a transfer queue, a disconnect reason', async () => {
    const closed = await callflow(['simulate', MASKED_CALLBACK, '--input', '12345678', '--action', `lookupApplication=${mocks.closed}`, '-f', 'json']);
    expect(closed.code).toBe(0);
    expect(json(closed).end).toEqual({ type: 'transfer', queue: 'partner-desk' });

    // A connect wait takes completed / busy / noAnswer / failed from the inputs.
    const open = await callflow([
      'simulate', MASKED_CALLBACK, '--input', '12345678', '--input', 'busy', '--input', '1', '--input', 'completed',
      '--action', `lookupApplication=${mocks.open}`, '-f', 'json',
    ]);
    expect(open.code).toBe(0);
    const out = json(open);
    expect(out.path).toEqual([
      'welcome', 'askApplication', 'countLookup', 'findApplication', 'checkApplication', 'dialClient', 'connectClient',
      'clientBusy', 'offerRetry', 'retryMenu', 'dialClient', 'connectClient', 'goodbye',
    ]);
    expect(out.end).toEqual({ type: 'disconnect', reason: 'completed' });
    expect(out.transcript.filter((l) => l.from === 'caller').map((l) => l.text)).toEqual(['12345678', 'busy', '1', 'completed']);
    // The client's (secure) number is dialled, never shown.
    expectNoSecrets(open, '+15555550142', '5555550142');
  });

  it('follows enterSecureFlow into the secure flow it hands the caller to', async () => {
    const run = await callflow([
      'simulate', BILLING_LINE, '--input', '1234567890', '--input', '1', '--input', CARD_2, '--input', '0327', '--input', '123',
      '--action', `findAccount=${mocks.account}`, '--action', `takePayment=${mocks.payment}`, '-f', 'json',
    ]);
    expect(run.code).toBe(0);
    const out = json(run);
    expect(out.flow).toBe('billing-line');
    expect(out.path).toEqual([
      'welcome', 'askAccount', 'findAccount', 'checkAccount', 'payMenu', 'toCardPayment',
      'askCard', 'askExpiry', 'askCvv', 'charge', 'checkResult', 'thanks', 'goodbye',
    ]);
    expect(out.end).toEqual({ type: 'disconnect', reason: 'paid' });
    expectNoSecrets(run, CARD_2);
  });

  it('ends in a hang-up (exit 0) on --input hangup, and when the inputs run out', async () => {
    const hangup = await callflow(['simulate', AGENT_PAYMENT, '--input', CARD, '--input', 'hangup', ...PAY_FLOW_INPUTS, '-f', 'json']);
    expect(hangup.code).toBe(0);
    const h = json(hangup);
    expect(h.path).toEqual(['intro', 'askCard', 'askExpiry']);
    expect(h.end.type).toBe('hangup');
    expect(h.transcript.map((l) => l.text)).toContain('agent simulator-agent released (hangup)');

    const ranOut = await callflow(['simulate', AGENT_PAYMENT, '--input', CARD, ...PAY_FLOW_INPUTS, '-f', 'json']);
    expect(ranOut.code).toBe(0);
    const r = json(ranOut);
    expect(r.path).toEqual(['intro', 'askCard', 'askExpiry']);
    expect(r.end.type).toBe('hangup');
    expect(r.transcript.map((l) => l.text)).toContain('the inputs ran out: the caller hangs up');
    expectNoSecrets(hangup, CARD);
    expectNoSecrets(ranOut, CARD);
  });

  it('answers noinput as silence until the time-out', async () => {
    const run = await callflow(['simulate', MASKED_CALLBACK, '--input', 'noinput', '--input', 'noinput', '--input', 'noinput', '-f', 'json']);
    expect(run.code).toBe(0);
    const out = json(run);
    expect(out.path).toEqual(['welcome', 'askApplication', 'sorry', 'toPartnerDesk']);
    expect(out.transcript.filter((l) => l.from === 'caller').map((l) => l.text)).toEqual(['noInput', 'noInput', 'noInput']);
  });

  it('takes the mocked result as the success outcome', async () => {
    const run = await callflow(['simulate', PROTECTED, '--action', `lookupCaller=${mocks.flagged}`, '-f', 'json']);
    expect(run.code).toBe(0);
    expect(json(run)).toMatchObject({ path: ['greet', 'lookup', 'route', 'logVetted', 'toVetted'], end: { type: 'transfer', queue: 'vetted-care', data: { protectedIdentity: true } } });
    expect(run.stdout.includes('Ada'), 'the protected caller\'s name on stdout').toBe(false);
  });

  it('takes {"error": ...} as the error outcome and {"timeout": true} as the timeout outcome', async () => {
    const probe = file('probe/probe.yaml', PROBE);
    const inputs = ['--flow-input', 'amount=41.5', '--flow-input', 'ref=R-1'];
    const error = await callflow(['simulate', probe, ...inputs, '--action', `checkThing=${mocks.error}`, '-f', 'json']);
    expect(error.code).toBe(0);
    expect(json(error)).toMatchObject({ path: ['hello', 'check', 'failed'], end: { type: 'disconnect', reason: 'failed' } });
    expect(json(error).unmocked).toBeUndefined();

    const timeout = await callflow(['simulate', probe, ...inputs, '--action', `checkThing=${mocks.timeout}`, '-f', 'json']);
    expect(timeout.code).toBe(0);
    expect(json(timeout)).toMatchObject({ path: ['hello', 'check', 'slow'], end: { type: 'transfer', queue: 'slow-lane' } });
  });

  it('gives an action with no mock its error outcome, and says it was not mocked', async () => {
    const run = await callflow(['simulate', PROTECTED, '-f', 'json']);
    expect(run.code).toBe(0);
    const out = json(run);
    expect(out.path).toEqual(['greet', 'lookup', 'lookupFailed', 'toVetted']);
    expect(out.unmocked).toEqual(['lookupCaller']);
    expect(out.transcript.some((l) => /lookupCaller.*not mocked/.test(l.text))).toBe(true);
  });

  it('sets the flow inputs: a value is JSON where it parses, else text; string inputs stay text', async () => {
    const probe = file('probe-inputs/probe.yaml', PROBE);
    const run = await callflow([
      'simulate', probe, '--flow-input', 'amount=41.5', '--flow-input', 'ref=007', '--action', `checkThing=${mocks.error}`, '-f', 'json',
    ]);
    expect(run.code).toBe(0);
    expect(json(run).transcript[0]!.text).toBe('Amount 42.5, reference 007.');
  });
});

describe('callflow simulate (text)', () => {
  it('shows prompts, inputs, commands, the path and the end, with no secure value', async () => {
    const run = await callflow([
      'simulate', AGENT_PAYMENT, '--input', '4111111111111112', '--input', CARD, '--input', '1228', '--input', '123',
      '--action', `chargeCard=${mocks.approved}`, ...PAY_FLOW_INPUTS,
    ]);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    const out = run.stdout;
    expect(out).toMatch(/^flow agent-card-payment \(secure, reservation: agent\)$/m);
    expect(out).toMatch(/^ {2}flow: +Please key in your card number, then the hash key\.$/m);
    expect(out).toMatch(/^ {2}flow: +That card number is not valid\. Please key it in again\.$/m);
    expect(out).toMatch(/^ {2}> collect \(secure\)$/m);
    expect(out).toMatch(/^ {2}caller: +\[secure\]$/m);
    expect(out).toMatch(/^ {2}> returnToAgent /m);
    expect(out).toContain('path: intro → askCard → askExpiry → askCvv → charge → checkResult → confirm → backToAgent\n');
    // The masked card the agent gets back, 1111, is a piece of the card: printed, it is redacted.
    expect(out).toContain('end: returnToAgent {"outputs":{"paymentRef":"PAY-7001","maskedCard":"[redacted]"}}\n');
    expectNoSecrets(run, CARD, '4111111111111112');
  });

  it('says when an action was not mocked', async () => {
    const run = await callflow(['simulate', PROTECTED]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^ {2}\(data action 'lookupCaller' is not mocked: it takes its error outcome\)$/m);
    expect(run.stdout).toContain('end: transfer {"queue":"vetted-care","data":{"customerName":""}}\n');
  });
});

describe('callflow simulate exit codes', () => {
  it('exits 1 when the flow fails at run time without a handler', async () => {
    const fails = file('fails/fails.yaml', FAILS);
    const asJson = await callflow(['simulate', fails, '-f', 'json']);
    expect(asJson.code).toBe(1);
    const out = json(asJson);
    expect(out.error?.code).toBe('EXPRESSION_FAILED');
    expect(out.path).toEqual(['hello']);
    expect(out.end.type).toBe('disconnect');

    const asText = await callflow(['simulate', fails]);
    expect(asText.code).toBe(1);
    expect(asText.stdout).toMatch(/^error: EXPRESSION_FAILED: /m);
    expectNoStackTrace(asText);
  });

  it('exits 2 when the flow does not lint clean of errors, saying why on stderr', async () => {
    const broken = file('broken/broken.yaml', BROKEN);
    const run = await callflow(['simulate', broken, '-f', 'json']);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('unknown-state');
    expect(run.stderr).toContain('does not lint clean');
  });

  const usage: [string, () => string[], RegExp][] = [
    ['no flow file', () => [], /name one flow file/],
    ['a flow file that does not exist', () => [join(work, 'nope.yaml')], /no such file/],
    ['a directory instead of a flow file', () => [work], /not a file/],
    ['a missing required --flow-input', () => [AGENT_PAYMENT, '--flow-input', 'amount=42.5'], /needs its input 'invoiceId'/],
    ['an unknown --flow-input', () => [AGENT_PAYMENT, ...PAY_FLOW_INPUTS, '--flow-input', 'colour=blue'], /has no input 'colour'/],
    ['a --flow-input without =', () => [AGENT_PAYMENT, ...PAY_FLOW_INPUTS, '--flow-input', 'amount'], /--flow-input takes NAME=VALUE/],
    ['an --action without =', () => [AGENT_PAYMENT, ...PAY_FLOW_INPUTS, '--action', 'chargeCard'], /--action takes NAME=FILE/],
    ['an --action file that cannot be read', () => [AGENT_PAYMENT, ...PAY_FLOW_INPUTS, '--action', `chargeCard=${join(work, 'missing.json')}`], /cannot read/],
    ['an --action file that is not JSON', () => [AGENT_PAYMENT, ...PAY_FLOW_INPUTS, '--action', `chargeCard=${mocks.notJson}`], /is not JSON/],
    ['an --action file that is not a JSON object', () => [AGENT_PAYMENT, ...PAY_FLOW_INPUTS, '--action', `chargeCard=${mocks.array}`], /must hold a JSON object/],
    ['an unknown format', () => [AGENT_PAYMENT, ...PAY_FLOW_INPUTS, '--format', 'xml'], /unknown format 'xml'/],
  ];
  it.each(usage)('exits 2 on a usage error: %s', async (_name, args, message) => {
    const run = await callflow(['simulate', ...args()]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(message);
    expect(run.stderr).toMatch(/^callflow simulate: /);
    expectNoStackTrace(run);
  });
});

describe('callflow simulate -i (interactive)', () => {
  it('reads each answer from a line of stdin (piped answers all arrive at once)', async () => {
    const run = await callflow(['simulate', AGENT_PAYMENT, '-i', '--action', `chargeCard=${mocks.approved}`, ...PAY_FLOW_INPUTS, '-f', 'json'], {
      stdin: `${CARD}\n1228\n123\n`,
    });
    expect(run.code).toBe(0);
    const out = json(run);
    expect(out.path).toEqual(['intro', 'askCard', 'askExpiry', 'askCvv', 'charge', 'checkResult', 'confirm', 'backToAgent']);
    expect(out.end).toEqual({ type: 'returnToAgent', outputs: { paymentRef: 'PAY-7001', maskedCard: '[redacted]' } });
    // The questions go to stderr, one per wait.
    expect(run.stderr.match(/caller \(digits, noinput, hangup\)> /g)).toHaveLength(3);
    expectNoSecrets(run, CARD);
  });

  it('takes an empty line as noinput, asks for connect results, and hangs up when stdin ends', async () => {
    const run = await callflow(['simulate', MASKED_CALLBACK, '-i', '--action', `lookupApplication=${mocks.open}`], {
      stdin: '\n12345678\nbusy\n',
    });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('path: welcome → askApplication → countLookup → findApplication → checkApplication → dialClient → connectClient → clientBusy → offerRetry → retryMenu\n');
    expect(run.stdout).toMatch(/^ {2}caller: +noInput$/m);
    expect(run.stdout).toMatch(/^ {2}caller: +busy$/m);
    expect(run.stdout).toMatch(/^end: hangup/m);
    expect(run.stderr).toContain('connect result (completed, busy, noAnswer, failed)> ');
  });
});
