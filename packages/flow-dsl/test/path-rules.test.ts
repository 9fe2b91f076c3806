/**
 * The path rules (unknown-state, dead-end, no-terminal-path, busy-loop, unbounded-retries,
 * hangup-handler, ...): exact messages and positions for a few cases, and that flows of
 * 100,000 states lint in linear time without overflowing the stack.
 */
import { describe, expect, it } from 'vitest';
import { lint, type Diagnostic } from '../src/index.js';
import { PATHS_RULES } from '../src/lint/rules/group-paths.js';
import { identifiersOf } from '../src/lint/rules/util/counters.js';

function lintPaths(text: string): Diagnostic[] {
  return lint({ targets: [{ file: 'flow.yaml', text }], rules: PATHS_RULES })[0]!.messages;
}

const brief = (d: Diagnostic) => `${d.line}:${d.column} ${d.ruleId} ${d.message}`;

describe('unknown-state', () => {
  it('points at the misspelt target and suggests the state meant', () => {
    const messages = lintPaths(
      [
        'flow: pay',
        'kind: inbound',
        'start: charge',
        'states:',
        '  charge:',
        '    invoke: { action: chargeCard }',
        '    on: { success: thanks, error: sory }',
        '  thanks:',
        '    disconnect: paid',
        '  sorry:',
        '    transfer: { queue: billing }',
      ].join('\n'),
    );
    expect(messages.map(brief)).toEqual([
      "7:35 unknown-state states.charge.on.error: there is no state named 'sory' (did you mean 'sorry'?)",
      '10:3 unreachable-state states.sorry: no path from start leads to this state; add a transition to it or remove it',
    ]);
    expect(messages[0]).toMatchObject({ endLine: 7, endColumn: 39 });
  });

  it('checks start, onError and onHangup, and says what to do when nothing is close', () => {
    const messages = lintPaths(
      ['flow: x', 'kind: inbound', 'onHangup: somethingElse', 'start: welcome', 'states:', '  welcome:', '    disconnect: bye'].join(
        '\n',
      ),
    );
    expect(messages.map(brief)).toEqual([
      "3:11 unknown-state onHangup: there is no state named 'somethingElse'; add that state or name an existing one",
    ]);
  });
});

describe('dead-end', () => {
  it('reports each missing outcome at the state, naming onError where it is the fallback', () => {
    const messages = lintPaths(
      [
        'flow: x',
        'kind: inbound',
        'start: dial',
        'states:',
        '  dial:',
        '    connect: { number: "1", callerId: "+44" }',
        '    on: { busy: lookup }',
        '  lookup:',
        '    invoke: { action: find }',
        '    on: { success: bye }',
        '  bye:',
        '    disconnect:',
      ].join('\n'),
    );
    expect(messages.map(brief)).toEqual([
      "5:3 dead-end states.dial: outcome 'completed' has nowhere to go; add on.completed",
      "5:3 dead-end states.dial: outcome 'failed' has nowhere to go; add on.failed",
      "8:3 dead-end states.lookup: outcome 'error' has nowhere to go; add on.error (or a flow-level onError)",
    ]);
  });

  it('is the only report for a chain that ends in a missing next', () => {
    const messages = lintPaths(
      ['flow: x', 'kind: inbound', 'start: a', 'states:', '  a:', '    say: one', '    next: b', '  b:', '    say: two'].join('\n'),
    );
    expect(messages.map(brief)).toEqual([
      '8:3 dead-end states.b: nothing follows this say state; add next (or end the call with transfer or disconnect)',
    ]);
  });
});

describe('no-terminal-path', () => {
  it('reports every state of a loop with no way out, and the states leading into it', () => {
    const messages = lintPaths(
      [
        'flow: x',
        'kind: inbound',
        'start: hello',
        'states:',
        '  hello:',
        '    say: hi',
        '    next: ask',
        '  ask:',
        '    menu: { prompt: press 1, options: { "1": again }, attempts: 2 }',
        '    on: { failure: ask }',
        '  again:',
        '    say: again',
        '    next: ask',
      ].join('\n'),
    );
    expect(messages.map(brief)).toEqual([
      '5:3 no-terminal-path states.hello: no path from this state ends the call: every way on leads into a loop with no way out; add a way out to a transfer, disconnect or other ending state',
      '8:3 no-terminal-path states.ask: no path from this state ends the call: it is caught in the loop ask, again; give the loop a way out to a transfer, disconnect or other ending state',
      '11:3 no-terminal-path states.again: no path from this state ends the call: it is caught in the loop ask, again; give the loop a way out to a transfer, disconnect or other ending state',
    ]);
  });
});

describe('busy-loop', () => {
  const loop = (counter: boolean) =>
    [
      'flow: x',
      'kind: inbound',
      'variables:',
      '  n: { type: int, default: 0 }',
      'start: count',
      'states:',
      '  count:',
      `    set: { ${counter ? 'n' : 'm'}: n + 1 }`,
      '    next: test',
      '  test:',
      '    switch:',
      '      cases:',
      '        - { when: n >= 3 && "n" != "", goto: bye }',
      '      default: count',
      '  bye:',
      '    disconnect:',
    ].join('\n');

  it('reports a loop of states that never wait on the caller, on each of its states', () => {
    expect(lintPaths(loop(false)).map(brief)).toEqual([
      '7:3 busy-loop states.count: the loop count, test never waits on the caller and has no counter, so it would run forever; wait for caller input on the way, or set a counter and test it in a switch',
      '10:3 busy-loop states.test: the loop count, test never waits on the caller and has no counter, so it would run forever; wait for caller input on the way, or set a counter and test it in a switch',
    ]);
  });

  it('accepts a loop whose switch tests a counter that the loop sets', () => {
    expect(lintPaths(loop(true))).toEqual([]);
  });

  it('reads identifiers, not string literals or field names, from the condition', () => {
    expect(identifiersOf('tries >= 3 && call.count > 1 && s == "n\\"x" || \'y\' == s')).toEqual(['tries', 'call', 's', 's']);
  });
});

describe('unbounded-retries', () => {
  it('warns once per loop, at its first caller-input state', () => {
    const messages = lintPaths(
      [
        'flow: x',
        'kind: inbound',
        'variables:',
        '  pin: { type: string }',
        'start: ask',
        'states:',
        '  ask:',
        '    collect: { prompt: PIN please, into: pin }',
        '    on: { success: menu, failure: bye }',
        '  menu:',
        '    menu: { prompt: press 1 to retry, options: { "1": ask } }',
        '    on: { failure: bye }',
        '  bye:',
        '    disconnect:',
      ].join('\n'),
    );
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ ruleId: 'unbounded-retries', severity: 1, line: 7, column: 3 });
    expect(messages[0]!.message).toBe(
      'states.ask: the loop ask, menu asks the caller again with no limit; give collect.attempts here, or set a counter on the loop and test it in a switch',
    );
  });
});

describe('hangup-handler', () => {
  it('reports the action key of each caller action the handler reaches', () => {
    const messages = lintPaths(
      [
        'flow: x',
        'kind: inbound',
        'onHangup: gone',
        'start: hi',
        'states:',
        '  hi:',
        '    say: hi',
        '    next: bye',
        '  gone:',
        '    log: hung up',
        '    next: hi',
        '  bye:',
        '    disconnect:',
      ].join('\n'),
    );
    expect(messages.map(brief)).toEqual([
      "7:5 hangup-handler states.hi.say: this state runs after the caller has hung up (it is reached from onHangup 'gone'), and say needs the caller; use only set, switch, invoke, log, recording, callFlow, disconnect or return there",
    ]);
  });
});

describe('flow kinds', () => {
  it('reports returnToAgent in a secure IVR and return outside a subflow, at the action key', () => {
    const messages = lintPaths(
      [
        'flow: x',
        'kind: secure',
        'reservation: none',
        'start: a',
        'states:',
        '  a:',
        '    menu: { prompt: "1 or 2", options: { "1": b, "2": c }, attempts: 2 }',
        '    on: { failure: b }',
        '  b:',
        '    returnToAgent:',
        '  c:',
        '    return: {}',
      ].join('\n'),
    );
    expect(messages.map((d) => `${d.line}:${d.column} ${d.ruleId}`)).toEqual([
      '10:5 secure-ivr-return-to-agent',
      '12:5 return-outside-subflow',
    ]);
  });

  it('reports recording: resume in a secure flow at the value', () => {
    const messages = lintPaths(
      ['flow: x', 'kind: secure', 'start: a', 'states:', '  a:', '    recording: { action: resume }', '    next: b', '  b:', '    returnToAgent:'].join(
        '\n',
      ),
    );
    expect(messages.map((d) => `${d.line}:${d.column} ${d.ruleId}`)).toEqual(['6:26 secure-recording-resume']);
  });
});

describe('large flows', () => {
  const N = 100_000;

  function chain(): string {
    const lines = ['flow: big', 'kind: inbound', 'start: s0', 'states:'];
    for (let i = 0; i < N - 1; i++) lines.push(`  s${i}:`, `    say: step ${i}`, `    next: s${i + 1}`);
    lines.push(`  s${N - 1}:`, '    disconnect: done');
    return lines.join('\n');
  }

  function cycle(): string {
    const lines = ['flow: big', 'kind: inbound', 'start: s0', 'states:'];
    for (let i = 0; i < N; i++) lines.push(`  s${i}:`, `    say: step ${i}`, `    next: s${(i + 1) % N}`);
    return lines.join('\n');
  }

  it('lints a 100,000-state chain without a stack overflow, and finds nothing', () => {
    expect(lintPaths(chain())).toEqual([]);
  }, 120_000);

  it('lints a 100,000-state loop with no way out, reporting each state once per rule', () => {
    const messages = lintPaths(cycle());
    const byRule = new Map<string, number>();
    for (const m of messages) byRule.set(m.ruleId, (byRule.get(m.ruleId) ?? 0) + 1);
    expect(Object.fromEntries(byRule)).toEqual({ 'busy-loop': N, 'no-terminal-path': N });
    expect(messages[0]!.message).toBe(
      'states.s0: the loop s0, s1, s2, s3, s4, s5, … (100000 states) never waits on the caller and has no counter, so it would run forever; wait for caller input on the way, or set a counter and test it in a switch',
    );
  }, 120_000);
});
