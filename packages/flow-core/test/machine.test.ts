import { describe, expect, it } from 'vitest';
import { compileMachine } from '../src/compile/machine.js';
import type { Flow } from '../src/model/flow.js';

const flow: Flow = {
  flow: 'm',
  kind: 'inbound',
  onError: 'sorry',
  start: 'menu',
  states: {
    menu: { menu: { prompt: 'Press 1', options: { '1': 'lookup' } }, on: { failure: 'bye' } },
    lookup: { invoke: { action: 'find' }, on: { success: 'pick' } },
    pick: { switch: { cases: [{ when: 'true', goto: 'bye' }], default: 'menu' } },
    sorry: { say: 'Sorry', next: 'bye' },
    bye: { disconnect: null },
  },
} as Flow;

describe('compileMachine', () => {
  it('follows options, outcomes and switch cases', () => {
    const c = compileMachine(flow).restore('menu');
    expect(c.take('option:1')).toBe('lookup');
    expect(c.take('success')).toBe('pick');
    expect(c.take('default')).toBe('menu');
    expect(c.take('failure')).toBe('bye');
  });

  it('routes an unlisted error to onError and timeout through error', () => {
    const c = compileMachine(flow).restore('lookup');
    expect(c.take('timeout')).toBe('sorry');
  });

  it('refuses a way out the state does not have', () => {
    const c = compileMachine(flow).restore('menu');
    expect(c.take('option:9')).toBeUndefined();
    expect(c.state).toBe('menu');
  });

  it('persists and restores mid-flow', () => {
    const c = compileMachine(flow).restore('menu');
    c.take('option:1');
    const snap = JSON.parse(JSON.stringify(c.persist())) as { value: string };
    expect(compileMachine(flow).restore(snap).state).toBe('lookup');
  });

  it('compiles each flow once', () => {
    expect(compileMachine(flow)).toBe(compileMachine(flow));
  });
});
