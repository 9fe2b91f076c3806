/**
 * `hangup-handler`: the states the `onHangup` handler runs (onHangup and everything it
 * leads to) execute after the caller has gone, so they may only hold actions that do not
 * need the caller: set, switch, invoke, log, recording, callFlow, disconnect, return. A
 * `disconnect` there may not carry a prompt, which nobody would hear.
 */
import { ACTIONS } from '@callflow/flow-core';
import type { Rule } from '../types.js';

export const rule: Rule = {
  meta: {
    name: 'hangup-handler',
    description: 'A state reached from onHangup uses an action that needs the caller (say, collect, transfer, ...).',
    defaultSeverity: 'error',
    docs: 'docs/rules/hangup-handler.md',
    help: 'After a hang-up only set, switch, invoke, log, recording, callFlow, disconnect and return make sense; move caller actions out of the handler.',
  },
  check(ctx) {
    const { flow } = ctx;
    const { graph } = ctx.analysis;
    const root = flow.onHangup === undefined ? undefined : graph.index.get(flow.onHangup);
    if (root === undefined) return;
    const seen = new Uint8Array(graph.names.length);
    const queue = [root];
    seen[root] = 1;
    // Breadth first, so states are reported in the order the handler reaches them.
    for (let head = 0; head < queue.length; head++) {
      const i = queue[head]!;
      const name = graph.names[i]!;
      const action = graph.actions[i]!;
      if (ACTIONS[action].needsCaller) {
        ctx.report({
          path: ['states', name, action],
          part: 'key',
          message: `states.${name}.${action}: this state runs after the caller has hung up (it is reached from onHangup '${flow.onHangup}'), and ${action} needs the caller; use only set, switch, invoke, log, recording, callFlow, disconnect or return there`,
        });
      } else if (action === 'disconnect') {
        const body = (flow.states[name] as { disconnect?: unknown }).disconnect;
        if (body && typeof body === 'object' && (body as { prompt?: unknown }).prompt !== undefined) {
          ctx.report({
            path: ['states', name, 'disconnect', 'prompt'],
            part: 'key',
            message: `states.${name}.disconnect.prompt: this state runs after the caller has hung up (it is reached from onHangup '${flow.onHangup}'), so nobody hears the prompt; remove it`,
          });
        }
      }
      for (const j of graph.successors[i]!) {
        if (!seen[j]) {
          seen[j] = 1;
          queue.push(j);
        }
      }
    }
  },
};
