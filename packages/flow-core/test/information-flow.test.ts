/**
 * The information-flow analysis (docs/rules/secure-data-leak.md): the label of expressions,
 * declassification, permitted facts, labels across variables and flows, the recording, and
 * the findings the linter reports and the runtime refuses.
 */
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { analyseSecurity, CLEAR, MASKED, SECURE, type Flow, type Label } from '../src/index.js';

const flowOf = (text: string): Flow => parse(text) as Flow;

/** A secure flow that collects a card (luhn), a CVV (3–4 digits) and a PIN twice, then runs `states`. */
function secureFlow(states: string, variables = ''): Flow {
  return flowOf(`flow: pay
kind: secure
reservation: agent
variables:
  card: { type: string, secure: true }
  cvv: { type: string, secure: true }
  pin: { type: string, secure: true }
  pin2: { type: string, secure: true }
  out: { type: string }
${variables}
start: askCard
states:
  askCard:
    collect: { into: card, validate: luhn }
    on: { success: askCvv, failure: bye }
  askCvv:
    collect: { into: cvv, digits: { min: 3, max: 4 } }
    on: { success: askPin, failure: bye }
  askPin:
    collect: { into: pin, digits: { length: 4 } }
    on: { success: askPin2, failure: bye }
  askPin2:
    collect: { into: pin2, digits: { length: 4 } }
    on: { success: probe, failure: bye }
${states}
  bye:
    disconnect: done
`);
}

/** The label of `expr` written into `returnToAgent.outputs.out`. */
function labelOf(expr: string, variables = ''): Label {
  const flow = secureFlow(`  probe:
    returnToAgent: { outputs: { out: ${JSON.stringify(expr)} } }`, variables);
  return analyseSecurity([flow]).flow('pay')!.siteAt(['states', 'probe', 'returnToAgent', 'outputs', 'out'])!.label;
}

describe('labels of expressions', () => {
  it.each([
    ['card', SECURE],
    ['card + ""', SECURE],
    ['card.substring(0, 4)', SECURE],
    ['int(card) % 10000', SECURE],
    ['[card][0]', SECURE],
    ['{"c": card}["c"]', SECURE],
    ['card.split("").map(d, d).join("")', SECURE],
    ['cel.bind(x, card, x)', SECURE],
    ['card.substring(0, 1) == "4" ? "4" : "?"', SECURE],
    ['card.matches("^4.*")', SECURE],
    ['card.contains("1234")', SECURE],
    ['card.endsWith("2832")', SECURE],
    ['card.startsWith("4916338")', SECURE],
    ['cvv == "737"', SECURE],
    ['size(card.substring(0, 3))', SECURE],
    ['"ok"', CLEAR],
    ['luhn(card)', CLEAR],
    ['size(card) >= 13 && card.size() <= 19', CLEAR],
    ['card == ""', CLEAR],
    ['pin == pin2', CLEAR],
    ['card.startsWith("491633")', CLEAR],
    ['last4(card)', MASKED],
    ['mask(card)', MASKED],
    ['"ending " + last4(card)', MASKED],
    ['last4(card) == "2832" ? "yes" : "no"', MASKED],
    ['last4(card.substring(0, 4))', SECURE],
    ['mask(card + "x")', SECURE],
    ['last4(cvv)', SECURE],
    ['mask(pin)', SECURE],
    ['cvv.startsWith("7")', SECURE],
  ] as [string, Label][])('%s is %s', (expr, label) => {
    expect(labelOf(expr)).toBe(label);
  });

  it('does not declassify a variable assigned from an expression, however long', () => {
    const flow = secureFlow(`  probe:
    set: { part: 'card.substring(0, 15)' }
    next: give
  give:
    returnToAgent: { outputs: { out: last4(part) } }`, '  part: { type: string, secure: true }');
    const facts = analyseSecurity([flow]).flow('pay')!;
    expect(facts.siteAt(['states', 'give', 'returnToAgent', 'outputs', 'out'])!.label).toBe(SECURE);
    expect(facts.blockedAt('give')?.message).toContain("secure value 'part'");
  });

  it('never declassifies a variable declared declassify: never', () => {
    const flow = secureFlow(`  probe:
    returnToAgent: { outputs: { out: last4(card) } }`);
    (flow.variables as Record<string, { declassify?: 'never' }>).card!.declassify = 'never';
    const facts = analyseSecurity([flow]).flow('pay')!;
    expect(facts.siteAt(['states', 'probe', 'returnToAgent', 'outputs', 'out'])!.label).toBe(SECURE);
    expect(facts.blockedAt('probe')?.message).toContain('declared declassify: never');
  });
});

describe('labels of variables and flows', () => {
  it('gives a variable the highest label assigned to it, in any order of states', () => {
    const flow = secureFlow(`  probe:
    log: "\${b}"
    next: one
  one:
    set: { b: a }
    next: two
  two:
    set: { a: 'card.substring(0, 1)' }
    next: bye`, '  a: { type: string, secure: true }\n  b: { type: string }');
    const facts = analyseSecurity([flow]).flow('pay')!;
    expect(facts.label('b')).toBe(SECURE);
    expect(facts.sealed.has('b')).toBe(true);
    expect(facts.findings.map((f) => [f.state, f.kind])).toEqual([['probe', 'leak'], ['one', 'store']]);
  });

  it('follows a masked value into a subflow and its output back', () => {
    const main = secureFlow(`  probe:
    callFlow: { flow: helper, inputs: { ending: last4(card) }, outputs: { out: result.shown } }
    next: give
  give:
    invoke: { action: crm, input: { note: out } }
    on: { success: bye, error: bye }`);
    const helper = flowOf(`flow: helper
kind: subflow
inputs: { ending: { type: string } }
outputs: { shown: { type: string } }
start: done
states:
  done:
    return: { outputs: { shown: '"card " + ending' } }
`);
    const analysis = analyseSecurity([main, helper], () => ({}));
    expect(analysis.flow('helper')!.label('ending')).toBe(MASKED);
    expect(analysis.flow('pay')!.label('out')).toBe(MASKED);
    expect(analysis.flow('pay')!.blockedAt('give')?.message).toContain("masked value of 'out' would reach data action 'crm'");
  });

  it('declassifies a secure input as long as every flow hands in a long pure value, and not otherwise', () => {
    const caller = (input: string) => flowOf(`flow: line
kind: inbound
variables:
  card: { type: string, secure: true }
  cvv: { type: string, secure: true }
start: ask
states:
  ask:
    collect: { into: card, validate: luhn }
    on: { success: askCvv, failure: bye }
  askCvv:
    collect: { into: cvv, digits: { length: 3 } }
    on: { success: hand, failure: bye }
  hand:
    enterSecureFlow: { flow: taker, inputs: { card: ${input} } }
  bye:
    disconnect: done
`);
    const taker = flowOf(`flow: taker
kind: secure
reservation: agent
inputs: { card: { type: string, secure: true, declassify: last4 } }
start: give
states:
  give:
    returnToAgent: { outputs: { ending: last4(card) } }
`);
    const label = (input: string) => analyseSecurity([caller(input), taker]).flow('taker')!.siteAt(['states', 'give', 'returnToAgent', 'outputs', 'ending'])!.label;
    expect(label('card')).toBe(MASKED);
    expect(label('cvv')).toBe(SECURE);
    expect(label('card.substring(0, 12)')).toBe(SECURE);
  });
});

describe('findings', () => {
  it('reports a branch on a secure value, and not on permitted facts', () => {
    const flow = secureFlow(`  probe:
    switch:
      cases:
        - { when: 'luhn(card) && size(card) == 16 && card.startsWith("4")', goto: next1 }
        - { when: 'card.substring(0, 1) == "5"', goto: bye }
      default: bye
  next1:
    collect: { into: cvv, validate: 'value == pin' }
    on: { success: next2, failure: bye }
  next2:
    collect: { into: cvv, validate: 'value == pin.substring(0, 3)' }
    on: { success: next3, failure: bye }
  next3:
    collect: { into: card, digits: { min: 13 }, validate: 'value.substring(15, 16) == "2"' }
    on: { success: next4, failure: bye }
  next4:
    collect: { into: card, digits: { min: 13 }, validate: '^\\d{15}2$' }
    on: { success: next5, failure: bye }
  next5:
    collect: { into: card, digits: { min: 13 }, validate: '^\\d{13,19}$' }
    on: { success: bye, failure: bye }`);
    const facts = analyseSecurity([flow]).flow('pay')!;
    // a validation of the caller's own entry tells whether it is accepted (1 bit a try,
    // documented); one that reads another secure value beyond a permitted fact is a branch on it
    expect(facts.findings.map((f) => [f.path.join('.'), f.kind])).toEqual([
      ['states.probe.switch.cases.1.when', 'implicit'],
      ['states.next2.collect.validate', 'implicit'],
    ]);
  });

  it('reports a read-back where the recording may run, and not after a pause on every path', () => {
    const flow = flowOf(`flow: line
kind: inbound
variables:
  pin: { type: string, secure: true }
start: ask
states:
  ask:
    collect: { into: pin, digits: { length: 4 } }
    on: { success: choose, failure: bye }
  choose:
    menu: { prompt: Press 1 to hear it quietly, options: { "1": quiet, "2": loud } }
    on: { failure: bye }
  quiet:
    recording: pause
    next: readBack
  loud:
    say: "Your PIN is \${pin}"
    next: readBack
  readBack:
    say: "Your PIN is \${pin}"
    next: bye
  bye:
    disconnect: done
`);
    const facts = analyseSecurity([flow]).flow('line')!;
    expect(facts.recordingPausedAt('quiet')).toBe(false);
    expect(facts.recordingPausedAt('readBack')).toBe(false); // reached from `loud` unpaused too
    expect(facts.findings.map((f) => [f.state, f.kind, f.whileRecording])).toEqual([
      ['loud', 'recorded', true],
      ['readBack', 'recorded', true],
    ]);
    // keyed in: its tones would be on the recording (listed apart, a warning of its own rule)
    expect(facts.recordedEntries.map((f) => [f.state, f.role.kind])).toEqual([['ask', 'keyed-in']]);
    expect(facts.blockedAt('loud')).toBeUndefined(); // the runtime checks the recording itself
    expect(facts.recordedAt('loud')?.kind).toBe('recorded');
  });

  it('never puts a value in a message, only names', () => {
    const flow = secureFlow(`  probe:
    log: "\${card} \${last4(cvv)}"
    next: bye`);
    for (const f of analyseSecurity([flow]).flow('pay')!.findings) expect(f.message).not.toMatch(/\d{4,}/);
  });
});
