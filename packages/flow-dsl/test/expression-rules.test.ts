/**
 * The expression and secure data-flow rules, checked for their exact messages and columns
 * (the fixtures check lines; these check what a person reads).
 */
import { describe, expect, it } from 'vitest';
import { lint, type Diagnostic } from '../src/index.js';
import { EXPRESSIONS_RULES } from '../src/lint/rules/group-expressions.js';

function diagnostics(text: string, config: Record<string, unknown> = {}, others: string[] = []): Diagnostic[] {
  const [result] = lint({
    targets: [{ file: 'flow.yaml', text }],
    others: others.map((t, i) => ({ file: `other${i}.yaml`, text: t })),
    config,
  });
  return result!.messages;
}

const only = (ds: Diagnostic[], rule: string) => ds.filter((d) => d.ruleId === rule);

const flow = (states: string, variables = '  reference: { type: string }', extra = '') => `flow: t
kind: inbound
${extra}variables:
${variables}
onError: bye
start: first
states:
${states}
  bye:
    disconnect: done
`;

describe('undefined-variable', () => {
  it('points at the column of an unknown name inside a template', () => {
    const text = flow(`  first:
    say: "Your ref is \${refx}. \${reference}"
    next: bye`);
    const [d] = only(diagnostics(text), 'undefined-variable');
    expect(d).toMatchObject({
      message: "states.first.say: unknown variable 'refx'; declare it under variables (or inputs)",
      line: 9,
      column: 25,
      endColumn: 29,
    });
  });

  it('suggests the closest declared name', () => {
    const text = flow(`  first:
    set: { reference: 'referense + "x"' }
    next: bye`);
    const [d] = only(diagnostics(text), 'undefined-variable');
    expect(d!.message).toBe("states.first.set.reference: unknown variable 'referense' (did you mean 'reference'?); declare it under variables (or inputs)");
    expect(d!.column).toBe(24);
  });

  it('says where result is defined when it is read elsewhere', () => {
    const text = flow(`  first:
    log: "\${result.x} \${reference}"
    next: bye`);
    expect(only(diagnostics(text), 'undefined-variable')[0]!.message).toContain('result is only defined inside invoke.output and callFlow.outputs');
  });

  it('does not report a macro loop variable, nor the same name as invalid-expression', () => {
    const text = flow(`  first:
    switch:
      cases:
        - { when: 'items.exists(i, i == reference) || nope', goto: bye }
      default: bye`, '  reference: { type: string }\n  items: { type: list }');
    const ds = diagnostics(text);
    expect(ds.map((d) => `${d.ruleId} ${d.message}`)).toEqual([
      "undefined-variable states.first.switch.cases[0].when: unknown variable 'nope'; declare it under variables (or inputs)",
    ]);
  });
});

describe('invalid-expression', () => {
  it('hints 2.0 for a double times an int literal', () => {
    const text = flow(`  first:
    set: { total: 'amount * 2' }
    next: say
  say:
    say: "\${string(total)}"
    next: bye`, '  total: { type: number }', 'inputs:\n  amount: { type: number }\n');
    const [d] = only(diagnostics(text), 'invalid-expression');
    expect(d!.message).toBe('states.first.set.total: type error: no such overload: double * int; CEL does not mix int and double: write 2.0 for a double');
    expect(d).toMatchObject({ line: 11, column: 20 });
  });

  it('points at an unterminated ${', () => {
    const text = flow(`  first:
    say: "Ref \${reference and more"
    next: bye`);
    const [d] = only(diagnostics(text), 'invalid-expression');
    expect(d).toMatchObject({ line: 9, column: 15, endColumn: 17 });
    expect(d!.message).toMatch(/^states\.first\.say: unterminated '\$\{'/);
  });

  it('reports a switch condition that is not a bool', () => {
    const text = flow(`  first:
    switch:
      cases:
        - { when: 'reference', goto: bye }
      default: bye`);
    expect(only(diagnostics(text), 'invalid-expression')[0]!.message).toBe(
      'states.first.switch.cases[0].when: a switch condition must be a bool expression, but this one is string; compare it (e.g. == or >) to get true or false',
    );
  });

  it('reports an invalid regex in collect.validate', () => {
    const text = flow(`  first:
    collect: { prompt: Ref please., into: reference, validate: '^(\\d+$' }
    on: { success: bye, failure: bye }`);
    expect(only(diagnostics(text), 'invalid-expression')[0]!.message).toBe(
      'states.first.collect.validate: invalid regex: Unterminated group; fix the pattern (or write luhn, or a CEL expression over value)',
    );
  });
});

describe('secure-data-leak', () => {
  const secure = '  cardNumber: { type: string, secure: true }';
  // a card number keyed in with the recording paused: long enough for last4/mask to declassify
  const collectCard = `  first:
    recording: pause
    next: askCard
  askCard:
    collect: { into: cardNumber, validate: luhn }
    on: { success: second, failure: bye }`;

  it('reports a secure value written to the log, at its column', () => {
    const text = flow(`  first:
    log: "card \${cardNumber}"
    next: bye`, secure);
    const [d] = only(diagnostics(text), 'secure-data-leak');
    expect(d).toMatchObject({
      message: "states.first.log: secure value 'cardNumber' would reach the log; send a masked form (last4 or mask of the whole variable) or nothing",
      line: 9,
      column: 18,
    });
  });

  it('lets masked forms, sizes and bits through where a flow may release them', () => {
    const text = flow(`${collectCard}
  second:
    log: "card \${last4(cardNumber)} \${mask(cardNumber)} \${size(cardNumber)} \${cardNumber.startsWith('4')} \${cardNumber == ''} \${luhn(cardNumber)}"
    next: bye`, secure);
    expect(only(diagnostics(text), 'secure-data-leak')).toEqual([]);
  });

  it('declassifies only a whole secure variable known to be long, never an expression of it', () => {
    const text = flow(`${collectCard}
  second:
    log: "\${last4(cardNumber.substring(0, 4))} \${last4(cvv)} \${mask(cardNumber + '')}"
    next: askCvv
  askCvv:
    collect: { into: cvv, digits: { min: 3, max: 4 } }
    on: { success: bye, failure: bye }`, `${secure}\n  cvv: { type: string, secure: true }`);
    expect(only(diagnostics(text), 'secure-data-leak').map((d) => d.message)).toEqual([
      "states.second.log: secure value 'cardNumber' would reach the log; send a masked form (last4 or mask of the whole variable) or nothing",
    ]);
    const cvvOnly = flow(`${collectCard}
  second:
    log: "\${last4(cvv)}"
    next: askCvv
  askCvv:
    collect: { into: cvv, digits: { min: 3, max: 4 } }
    on: { success: bye, failure: bye }`, `${secure}\n  cvv: { type: string, secure: true }`);
    expect(only(diagnostics(cvvOnly), 'secure-data-leak').map((d) => d.message)).toEqual([
      "states.second.log: secure value 'cvv' would reach the log (last4/mask declassify only a value known to be at least 12 characters long — collected with digits min 12 or more, or validate: luhn — so a security code or PIN never is); send a masked form (last4 or mask of the whole variable) or nothing",
    ]);
  });

  it('follows a copy into another variable', () => {
    const text = flow(`  first:
    set: { a: cardNumber }
    next: second
  second:
    set: { b: 'a + "!"' }
    next: third
  third:
    transfer: { queue: "q-\${b}" }`, `${secure}\n  a: { type: string, secure: true }\n  b: { type: string }`);
    expect(only(diagnostics(text), 'secure-data-leak').map((d) => d.message)).toEqual([
      "states.second.set.b: secure value 'a' would be stored in variable 'b', which is not declared secure; add secure: true to its declaration, or store a masked form (last4 or mask of the whole variable)",
      "states.third.transfer.queue: secure value 'b' would reach the transfer's queue; send a masked form (last4 or mask of the whole variable) or nothing",
    ]);
  });

  it('allows read-backs with the recording paused, connect.number and permitted branches', () => {
    const text = flow(`${collectCard}
  second:
    say: "You entered \${cardNumber}"
    next: route
  route:
    switch:
      cases:
        - { when: 'cardNumber.size() > 3 && luhn(cardNumber) && cardNumber.startsWith("4")', goto: dial }
      default: bye
  dial:
    connect: { number: cardNumber, callerId: "+441234" }
    on: { completed: bye, failed: bye }`, secure);
    expect(only(diagnostics(text), 'secure-data-leak')).toEqual([]);
  });

  it('reports a read-back while the recording may run, and a branch on a secure value', () => {
    const text = flow(`  first:
    say: "You entered \${cardNumber}"
    next: route
  route:
    switch:
      cases:
        - { when: 'cardNumber.substring(0, 1) == "4"', goto: bye }
      default: bye`, secure);
    expect(only(diagnostics(text), 'secure-data-leak').map((d) => d.message)).toEqual([
      "states.first.say: secure value 'cardNumber' would be read back while the call recording may be running; pause the recording first (recording: pause), or read back a masked form",
      "states.route.switch.cases[0].when: secure value 'cardNumber' decides the condition of switch case 0: the path the call takes would reveal it; branch only on a permitted fact (luhn(x), size(x), x == y of two secure values, a card's first 6 digits with startsWith)",
    ]);
  });

  it('reports a secure output of a declared action stored in a plain variable, and what reads it', () => {
    const text = flow(`  first:
    invoke: { action: charge, input: { c: cardNumber }, output: { token: result.token } }
    on: { success: second }
  second:
    log: "\${size(token)}"
    next: bye`, `${secure}\n  token: { type: string }`);
    const config = { actions: { charge: { secure: true, output: { token: { type: 'string', secure: true } } } } };
    expect(only(diagnostics(text, config), 'secure-data-leak').map((d) => d.message)).toEqual([
      "states.first.invoke.output.token: secure value 'result.token' would be stored in variable 'token', which is not declared secure; add secure: true to its declaration, or store a masked form (last4 or mask of the whole variable)",
      "states.second.log: secure value 'token' would reach the log; send a masked form (last4 or mask of the whole variable) or nothing",
    ]);
  });
});

describe('twilio-secure-readback', () => {
  const text = flow(`  first:
    say: "You entered \${cardNumber}"
    next: bye`, '  cardNumber: { type: string, secure: true }');

  it('reports a clear read-back on Twilio, at its column', () => {
    const [d] = only(diagnostics(text, { provider: 'twilio' }), 'twilio-secure-readback');
    expect(d).toMatchObject({ line: 9, column: 25 });
    expect(d!.message).toContain("would reach Twilio's request logs");
  });

  it('says nothing for other providers', () => {
    expect(only(diagnostics(text, { provider: 'genesys' }), 'twilio-secure-readback')).toEqual([]);
  });
});

describe('expression rules at scale', () => {
  it('check a flow of 5,000 states, each with its own expressions, without a report', () => {
    const n = 5_000;
    const lines = ['flow: big', 'kind: inbound', 'variables:', '  n: { type: int, default: 0 }', '  card: { type: string, secure: true, declassify: last4 }', 'start: s0', 'states:'];
    for (let i = 0; i < n; i++) {
      lines.push(`  s${i}:`, `    set: { n: 'n + ${i}' }`, `    next: l${i}`);
      lines.push(`  l${i}:`, `    log: "step ${i}: \${n * ${i}} \${last4(card)}"`, `    next: ${i + 1 < n ? `s${i + 1}` : 'end'}`);
    }
    lines.push('  end:', '    disconnect: done');
    const [result] = lint({ targets: [{ file: 'big.yaml', text: lines.join('\n') + '\n' }], rules: EXPRESSIONS_RULES });
    expect(result!.messages).toEqual([]);
  }, 60_000);
});
