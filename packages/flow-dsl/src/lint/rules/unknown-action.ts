/**
 * `unknown-action` (only when `actions` is configured): an `invoke` names a data action the
 * project config declares, gives only input fields it declares and every one it requires,
 * and its `output` reads only `result.FIELD`s the action declares.
 */
import type { ActionDeclaration, ActionFieldSpec } from '@callflow/flow-core';
import { resultFieldsRead } from '../result-fields.js';
import { rememberedSuggestions } from '../suggestions.js';
import type { Rule } from '../types.js';

const has = (o: object, key: string): boolean => Object.prototype.hasOwnProperty.call(o, key);

function isRequired(field: ActionFieldSpec): boolean {
  return typeof field === 'object' && field.required === true;
}

// Computed once per declared action, however many states invoke it.
const requiredCache = new WeakMap<ActionDeclaration, string[]>();

function requiredFields(decl: ActionDeclaration): string[] {
  let required = requiredCache.get(decl);
  if (!required) {
    required = Object.entries(decl.input ?? {})
      .filter(([, spec]) => isRequired(spec))
      .map(([field]) => field);
    requiredCache.set(decl, required);
  }
  return required;
}

export const rule: Rule = {
  meta: {
    name: 'unknown-action',
    description: 'An invoke names a data action, an input field or a result field that callflow.config.yaml does not declare, or leaves out a required input.',
    defaultSeverity: 'error',
    docs: 'docs/rules/unknown-action.md',
    help: 'Fix the name, or declare the action and its input/output fields under actions in callflow.config.yaml. Rule runs only when actions is configured.',
  },
  check(ctx) {
    const actions = ctx.project.config.actions;
    if (!actions) return;
    const suggest = rememberedSuggestions();
    for (const name of ctx.analysis.statesWith('invoke')) {
      const invoke = (ctx.flow.states[name] as Record<string, unknown>).invoke as
        | { action: string; input?: Record<string, unknown>; output?: Record<string, unknown> }
        | undefined;
      if (!invoke || typeof invoke !== 'object') continue;
      const at = ['states', name, 'invoke'];
      const where = `states.${name}.invoke`;
      const decl = has(actions, invoke.action) ? actions[invoke.action] : undefined;
      if (!decl) {
        ctx.report({
          path: [...at, 'action'],
          message: `${where}.action: no data action '${invoke.action}' is declared in the project config${suggest('actions', invoke.action, () => Object.keys(actions))}; fix the name or declare it under actions`,
        });
        continue;
      }
      const inputs = decl.input ?? {};
      const given = invoke.input ?? {};
      for (const field of requiredFields(decl)) {
        if (!has(given, field)) {
          ctx.report({
            path: invoke.input ? [...at, 'input'] : [...at, 'action'],
            part: invoke.input ? 'key' : 'value',
            message: `${where}.input: data action '${invoke.action}' requires the input field '${field}'; add it to input`,
          });
        }
      }
      for (const field of Object.keys(given)) {
        if (has(inputs, field)) continue;
        ctx.report({
          path: [...at, 'input', field],
          part: 'key',
          message: `${where}.input.${field}: data action '${invoke.action}' declares no input field '${field}'${suggest(`input of ${invoke.action}`, field, () => Object.keys(inputs))}; remove it or declare it in the action's input`,
        });
      }
      const outputs = decl.output ?? {};
      for (const [variable, expression] of Object.entries(invoke.output ?? {})) {
        for (const read of resultFieldsRead(expression)) {
          if (has(outputs, read.field)) continue;
          ctx.report({
            path: [...at, 'output', variable],
            within: { from: read.from, to: read.to },
            message: `${where}.output.${variable}: data action '${invoke.action}' declares no result field '${read.field}'${suggest(`output of ${invoke.action}`, read.field, () => Object.keys(outputs))}; read a declared field or declare '${read.field}' in the action's output`,
          });
        }
      }
    }
  },
};
