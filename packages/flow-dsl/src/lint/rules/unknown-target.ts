/**
 * `unknown-target` (only when `targets` is configured): a transfer to a literal queue,
 * number, user or SIP address names one that the project config lists. A target computed
 * with `${...}` is not checked (it is only known during the call).
 */
import type { ProjectConfig } from '@callflow/flow-core';
import { rememberedSuggestions } from '../suggestions.js';
import type { Rule } from '../types.js';

type TargetKey = 'queue' | 'number' | 'user' | 'sip';
type TargetList = 'queues' | 'numbers' | 'users' | 'sips';

const LIST_OF: Record<TargetKey, TargetList> = { queue: 'queues', number: 'numbers', user: 'users', sip: 'sips' };

/** Numbers compare without the spaces, dashes, dots and brackets people write them with. */
function normalise(key: TargetKey, value: string): string {
  return key === 'number' ? value.replace(/[\s\-.()]/g, '') : value;
}

interface KnownTargets {
  sets: Partial<Record<TargetKey, Set<string>>>;
  lists: Partial<Record<TargetKey, string[]>>;
}

// Built once per config, not once per file.
const cache = new WeakMap<NonNullable<ProjectConfig['targets']>, KnownTargets>();

function knownTargets(targets: NonNullable<ProjectConfig['targets']>): KnownTargets {
  let known = cache.get(targets);
  if (known) return known;
  known = { sets: {}, lists: {} };
  for (const key of Object.keys(LIST_OF) as TargetKey[]) {
    const list = targets[LIST_OF[key]];
    if (!list) continue;
    known.lists[key] = list;
    known.sets[key] = new Set(list.map((v) => normalise(key, v)));
  }
  cache.set(targets, known);
  return known;
}

export const rule: Rule = {
  meta: {
    name: 'unknown-target',
    description: 'A transfer names a queue, number, user or SIP address that callflow.config.yaml does not list under targets.',
    defaultSeverity: 'error',
    docs: 'docs/rules/unknown-target.md',
    help: 'Fix the name, or add it to targets.queues / numbers / users / sips in callflow.config.yaml. Rule runs only when targets is configured.',
  },
  check(ctx) {
    const targets = ctx.project.config.targets;
    if (!targets) return;
    const known = knownTargets(targets);
    const suggest = rememberedSuggestions();
    for (const name of ctx.analysis.statesWith('transfer')) {
      const transfer = (ctx.flow.states[name] as Record<string, unknown>).transfer as Partial<Record<TargetKey, unknown>> | undefined;
      if (!transfer || typeof transfer !== 'object') continue;
      for (const key of Object.keys(LIST_OF) as TargetKey[]) {
        const value = transfer[key];
        const set = known.sets[key];
        if (typeof value !== 'string' || !set || value.includes('${')) continue;
        if (set.has(normalise(key, value))) continue;
        // No "did you mean" for numbers: a number one digit away is another party's number.
        ctx.report({
          path: ['states', name, 'transfer', key],
          message: `states.${name}.transfer.${key}: '${value}' is not listed in targets.${LIST_OF[key]} of the project config${key === 'number' ? '' : suggest(key, value, () => known.lists[key]!)}; fix it or add it to targets.${LIST_OF[key]}`,
        });
      }
    }
  },
};
