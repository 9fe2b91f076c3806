import { describe, expect, it } from 'vitest';
import {
  checkExpression,
  createFlowEnvironment,
  evaluateExpression,
  fromCelValue,
  identifiersOf,
  last4,
  luhn,
  mask,
  parseDuration,
  parseExpression,
  parseValidation,
  passesValidation,
  toCelValue,
  type ParsedExpression,
} from '../src/index.js';

const flow = {
  inputs: { amount: { type: 'number' as const } },
  variables: {
    cardNumber: { type: 'string' as const },
    tries: { type: 'int' as const },
    profile: { type: 'map' as const },
    items: { type: 'list' as const },
    ok: { type: 'bool' as const },
  },
};

function parsed(text: string, scope: 'plain' | 'value' | 'result' = 'plain'): ParsedExpression {
  const p = parseExpression(createFlowEnvironment(flow, scope), text);
  if (!p.ok) throw new Error(p.error.message);
  return p;
}

describe('flow environment', () => {
  it('gives each input and variable its CEL type', () => {
    const env = createFlowEnvironment(flow);
    expect(checkExpression(env, 'amount')).toEqual({ ok: true, type: 'double' });
    expect(checkExpression(env, 'tries')).toEqual({ ok: true, type: 'int' });
    expect(checkExpression(env, 'cardNumber.size() > 3')).toEqual({ ok: true, type: 'bool' });
    expect(checkExpression(env, 'call.caller')).toEqual({ ok: true, type: 'string' });
  });

  it('reports a double times an int literal as a type error with its range', () => {
    const r = checkExpression(createFlowEnvironment(flow), 'amount * 2');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatchObject({ kind: 'type', message: 'no such overload: double * int', from: 0, to: 10 });
  });

  it('reports an unknown variable with its characters', () => {
    const r = checkExpression(createFlowEnvironment(flow), '1 + nope');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatchObject({ kind: 'unknown-variable', message: 'Unknown variable: nope', from: 4, to: 8 });
  });

  it('reports a syntax error with its offset', () => {
    const r = parseExpression(createFlowEnvironment(flow), 'tries +');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatchObject({ kind: 'syntax', message: 'Unexpected token: EOF', from: 7 });
  });

  it('knows value only in the value scope and result only in the result scope', () => {
    expect(checkExpression(createFlowEnvironment(flow, 'value'), 'value.size() == 4').ok).toBe(true);
    expect(checkExpression(createFlowEnvironment(flow), 'value').ok).toBe(false);
    expect(checkExpression(createFlowEnvironment(flow, 'result'), 'result.reference').ok).toBe(true);
    expect(checkExpression(createFlowEnvironment(flow, 'value'), 'result').ok).toBe(false);
  });

  it('refuses expressions beyond the structural limits', () => {
    const deep = parseExpression(createFlowEnvironment(flow), '('.repeat(200) + '1' + ')'.repeat(200));
    expect(deep.ok).toBe(false);
    const big = parseExpression(createFlowEnvironment(flow), Array(5000).fill('1').join(' + '));
    expect(big.ok).toBe(false);
  });

  it('skips a declared name that CEL reserves instead of throwing', () => {
    expect(() => createFlowEnvironment({ variables: { int: { type: 'string' }, map: { type: 'map' } } })).not.toThrow();
  });
});

describe('library functions', () => {
  it('masks all but the last four characters', () => {
    expect(mask('4111111111111111')).toBe('************1111');
    expect(mask('123')).toBe('123');
    expect(last4('4111111111111111')).toBe('1111');
  });

  it('checks card numbers with luhn', () => {
    expect(luhn('4111111111111111')).toBe(true);
    expect(luhn('4111111111111112')).toBe(false);
    expect(luhn('41x1')).toBe(false);
  });

  it('can be called from CEL', () => {
    expect(parsed('mask(cardNumber)').evaluate({ cardNumber: '4111111111111111' })).toBe('************1111');
    expect(parsed('luhn(value)', 'value').evaluate({ value: '4111111111111111' })).toBe(true);
  });
});

describe('identifiersOf', () => {
  const names = (text: string) => identifiersOf(parsed(text).ast).map((r) => r.name);

  it('lists the identifiers read, member access counting as its root', () => {
    expect(names('profile.name + cardNumber')).toEqual(['profile', 'cardNumber']);
    expect(names('call.caller')).toEqual(['call']);
  });

  it('does not report macro loop variables', () => {
    expect(names('items.exists(x, x == cardNumber)')).toEqual(['items', 'cardNumber']);
    expect(names('items.map(i, i + tries)')).toEqual(['items', 'tries']);
    expect(names('cel.bind(t, tries, t + 1)')).toEqual(['tries']);
  });

  it('gives each identifier its characters', () => {
    const [read] = identifiersOf(parsed('  tries + 1').ast);
    expect(read).toMatchObject({ name: 'tries', from: 2, to: 7 });
  });

  it('names the field selected right after a name', () => {
    expect(identifiersOf(parsed('result.reference + result["token"]').ast).map((r) => r.member)).toEqual(['reference', 'token']);
  });

  it('walks a long chain without recursion', () => {
    const text = Array(400).fill('tries').join(' + ');
    expect(names(text)).toHaveLength(400);
  });
});

describe('CEL values', () => {
  it('turns ints into bigint and back', () => {
    expect(toCelValue(3, 'int')).toBe(3n);
    expect(toCelValue('7', 'int')).toBe(7n);
    expect(toCelValue(3n, 'number')).toBe(3);
    expect(evaluateExpression(parsed('tries + 1'), { tries: 2 }, { tries: 'int' })).toBe(3n);
  });

  it('makes results JSON-safe', () => {
    const v = fromCelValue({ a: 1n, b: [2n, { c: 3n }], d: new Map([['e', 4n]]), big: 2n ** 70n });
    expect(v).toEqual({ a: 1, b: [2, { c: 3 }], d: { e: 4 }, big: (2n ** 70n).toString() });
    expect(() => JSON.stringify(v)).not.toThrow();
  });
});

describe('collect.validate', () => {
  it('reads luhn, regexes and CEL', () => {
    expect(parseValidation('luhn')).toEqual({ kind: 'luhn' });
    expect(parseValidation('^\\d{4}$')).toMatchObject({ kind: 'regex', source: '^\\d{4}$', flags: '' });
    expect(parseValidation('/^[a-z]+$/i')).toMatchObject({ kind: 'regex', source: '^[a-z]+$', flags: 'i' });
    expect(parseValidation('value.size() == 4')).toEqual({ kind: 'cel', expression: 'value.size() == 4' });
  });

  it('reports an invalid regex with its characters', () => {
    expect(parseValidation('^(\\d+$')).toMatchObject({ kind: 'invalid-regex', from: 0, to: 6 });
    expect(parseValidation('/a/g')).toMatchObject({ kind: 'invalid-regex', from: 3, to: 4 });
  });

  it('checks a value', () => {
    const never = () => false;
    expect(passesValidation(parseValidation('luhn'), '4111111111111111', never)).toBe(true);
    expect(passesValidation(parseValidation('^\\d{4}$'), '1234', never)).toBe(true);
    expect(passesValidation(parseValidation('^\\d{4}$'), '123', never)).toBe(false);
  });
});

describe('parseDuration', () => {
  it('reads the units and plain seconds', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('8s')).toBe(8000);
    expect(parseDuration('2m')).toBe(120000);
    expect(parseDuration('1h')).toBe(3600000);
    expect(parseDuration(1.5)).toBe(1500);
    expect(parseDuration('3')).toBe(3000);
    expect(() => parseDuration('soon')).toThrow(RangeError);
  });
});

describe('identifiersOf members', () => {
  it('records the field selected on a name', () => {
    const p = parseExpression(createFlowEnvironment({}, 'result'), 'result.reference + result["code"]');
    if (!p.ok) throw new Error(p.error.message);
    expect(identifiersOf(p.ast).map((r) => r.member)).toEqual(['reference', 'code']);
  });
});
