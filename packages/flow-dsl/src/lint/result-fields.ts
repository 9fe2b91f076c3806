/**
 * Which fields of `result` an output expression reads (`result.reference`), found by a
 * plain scan of the expression text: quoted string literals are blanked out first, so
 * `"result.x"` does not count, and `a.result.x` or `myresult.x` are not `result`. A scan,
 * not a CEL parse: it is cheap, never throws, and the expression rules check the CEL itself.
 */

/** One `result.NAME` read: the field name and its character span in the expression. */
export interface ResultFieldRead {
  field: string;
  from: number;
  to: number;
}

const QUOTED = /"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'/g;
const RESULT_FIELD = /(?<![\w.])result\s*\.\s*([A-Za-z_]\w*)/g;
const BARE_NAME = /^\s*([A-Za-z_]\w*)\s*$/;

/** Every `result.NAME` in an expression, outside quoted strings. */
export function resultFieldsRead(expression: unknown): ResultFieldRead[] {
  if (typeof expression !== 'string') return [];
  const blanked = expression.replace(QUOTED, (s) => ' '.repeat(s.length));
  const out: ResultFieldRead[] = [];
  for (const m of blanked.matchAll(RESULT_FIELD)) {
    const field = m[1]!;
    const to = m.index + m[0].length;
    out.push({ field, from: to - field.length, to });
  }
  return out;
}

/**
 * For `callFlow.outputs`, where a bare name is short for `result.NAME`: the fields read,
 * counting a bare name as one.
 */
export function subflowOutputsRead(expression: unknown): ResultFieldRead[] {
  if (typeof expression === 'string') {
    const bare = BARE_NAME.exec(expression);
    if (bare && bare[1] !== 'result' && bare[1] !== 'true' && bare[1] !== 'false' && bare[1] !== 'null') {
      const from = expression.indexOf(bare[1]!);
      return [{ field: bare[1]!, from, to: from + bare[1]!.length }];
    }
  }
  return resultFieldsRead(expression);
}
