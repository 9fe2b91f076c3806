/**
 * How the project rules find `result.FIELD` reads in output expressions (unknown-action,
 * unknown-flow): a scan of the text that skips quoted strings.
 */
import { describe, expect, it } from 'vitest';
import { resultFieldsRead, subflowOutputsRead } from '../src/lint/result-fields.js';

const fields = (expr: unknown) => resultFieldsRead(expr).map((r) => r.field);

describe('resultFieldsRead', () => {
  it('finds every result.FIELD with its span in the expression', () => {
    expect(resultFieldsRead('result.reference')).toEqual([{ field: 'reference', from: 7, to: 16 }]);
    expect(fields('result.a + "-" + result.b')).toEqual(['a', 'b']);
    expect(fields('has(result.c) ? result.c : ""')).toEqual(['c', 'c']);
  });

  it('does not count result.FIELD inside a quoted string', () => {
    expect(fields('"result.x" + \'result.y\'')).toEqual([]);
    expect(fields('"a \\" result.x" + result.z')).toEqual(['z']);
  });

  it('does not count another name ending in result, or a field of something else', () => {
    expect(fields('myresult.x + other.result.y')).toEqual([]);
  });

  it('reads nothing from numbers, booleans or a bare result', () => {
    expect(fields(42)).toEqual([]);
    expect(fields(true)).toEqual([]);
    expect(fields('result')).toEqual([]);
  });
});

describe('subflowOutputsRead', () => {
  it('counts a bare name as result.NAME', () => {
    expect(subflowOutputsRead('balance')).toEqual([{ field: 'balance', from: 0, to: 7 }]);
    expect(subflowOutputsRead(' balance ')).toEqual([{ field: 'balance', from: 1, to: 8 }]);
  });

  it('reads result.NAME in a longer expression, and nothing from literals', () => {
    expect(subflowOutputsRead('result.balance * 2.0').map((r) => r.field)).toEqual(['balance']);
    expect(subflowOutputsRead('true')).toEqual([]);
  });
});
