import { describe, expect, it } from 'vitest';
import { parseTemplate, renderTemplate, TemplateSyntaxError } from '../src/index.js';

describe('parseTemplate', () => {
  it('splits text and placeholders with their offsets', () => {
    const t = parseTemplate('Your ref is ${ref}.');
    expect(t.error).toBeUndefined();
    expect(t.parts).toEqual([
      { kind: 'text', text: 'Your ref is ', from: 0, to: 12 },
      { kind: 'expression', text: 'ref', from: 14, to: 17 },
      { kind: 'text', text: '.', from: 18, to: 19 },
    ]);
  });

  it('skips braces inside CEL string literals and map literals', () => {
    const t = parseTemplate('A ${"}" + x} B ${{"k": 1}["k"]} C ${\'a}\'}');
    expect(t.error).toBeUndefined();
    expect(t.parts.filter((p) => p.kind === 'expression').map((p) => p.text)).toEqual(['"}" + x', '{"k": 1}["k"]', "'a}'"]);
  });

  it('reads $${ as a literal ${', () => {
    const t = parseTemplate('cost $${x} and ${y}');
    expect(t.parts[0]).toEqual({ kind: 'text', text: 'cost ${x} and ', from: 0, to: 15 });
    expect(t.parts[1]).toMatchObject({ kind: 'expression', text: 'y', from: 17 });
  });

  it('reports an unterminated ${ at its offset', () => {
    const t = parseTemplate('Hello ${name');
    expect(t.error).toMatchObject({ from: 6, to: 8 });
    expect(t.error!.message).toContain("unterminated '${'");
  });

  it('reports an empty placeholder', () => {
    expect(parseTemplate('a ${ } b').error).toMatchObject({ from: 2, to: 6 });
  });

  it('reads plain text as one literal', () => {
    expect(parseTemplate('Hello.').parts).toEqual([{ kind: 'text', text: 'Hello.', from: 0, to: 6 }]);
    expect(parseTemplate('').parts).toEqual([]);
  });
});

describe('renderTemplate', () => {
  it('renders each placeholder through the evaluator', () => {
    const values: Record<string, unknown> = { name: 'Ann', n: 3n, items: [1n, 'a'] };
    expect(renderTemplate('Hi ${name}, ${n} of ${items}', (e) => values[e])).toBe('Hi Ann, 3 of [1,"a"]');
  });

  it('throws on an unterminated placeholder', () => {
    expect(() => renderTemplate('Hi ${name', () => '')).toThrow(TemplateSyntaxError);
  });
});
