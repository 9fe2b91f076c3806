/**
 * `unknown-flow`: `callFlow`, `enterSecureFlow` and `transfer: { flow }` name a flow of the
 * project of the right kind, hand it every input it requires and nothing it does not declare,
 * and (`callFlow`) read back only outputs the subflow declares. Also: entering a secure flow
 * that reserves the agent from a flow that has no agent to reserve.
 */
import type { Flow } from '@callflow/flow-core';
import { subflowOutputsRead } from '../result-fields.js';
import { rememberedSuggestions } from '../suggestions.js';
import type { LoadedFlow, Rule, RuleContext } from '../types.js';

type FlowAction = 'callFlow' | 'enterSecureFlow' | 'transfer';

/** What each action may target, and what to say when it targets something else. */
const EXPECTED_KIND: Record<FlowAction, { accepts: (kind: Flow['kind']) => boolean; advice: (target: Flow) => string }> = {
  callFlow: {
    accepts: (kind) => kind === 'subflow',
    advice: (t) =>
      t.kind === 'secure'
        ? `callFlow runs a subflow; hand the caller to a secure flow with enterSecureFlow`
        : `callFlow runs a subflow (kind: subflow); hand the call to an inbound flow with transfer: { flow: ${t.flow} }`,
  },
  enterSecureFlow: {
    accepts: (kind) => kind === 'secure',
    advice: (t) =>
      t.kind === 'subflow'
        ? `enterSecureFlow hands the caller to a secure flow; run a subflow with callFlow`
        : `enterSecureFlow hands the caller to a secure flow (kind: secure); hand the call to an inbound flow with transfer: { flow: ${t.flow} }`,
  },
  transfer: {
    accepts: (kind) => kind !== 'subflow',
    advice: () => 'a subflow returns to the flow that called it: run it with callFlow',
  },
};

export const rule: Rule = {
  meta: {
    name: 'unknown-flow',
    description:
      'callFlow, enterSecureFlow and transfer.flow name a flow of the project, of the right kind, with the inputs it requires and the outputs it declares.',
    defaultSeverity: 'error',
    docs: 'docs/rules/unknown-flow.md',
    help: 'Name a flow declared by a file of the project (its `flow:` value). callFlow runs a subflow, enterSecureFlow a secure flow, transfer.flow an inbound or secure flow. Give every required input of the target, only inputs it declares, and read back only outputs it declares.',
  },
  check(ctx) {
    const suggest = rememberedSuggestions();
    // The shared graph lists each state's action: only the states that name a flow are read.
    const { names, actions } = ctx.analysis.graph;
    for (let i = 0; i < names.length; i++) {
      const action = actions[i]!;
      if (action !== 'callFlow' && action !== 'enterSecureFlow' && action !== 'transfer') continue;
      const name = names[i]!;
      const s = ctx.flow.states[name] as Record<string, unknown>;
      const body = s[action] as { flow?: string; inputs?: Record<string, unknown>; outputs?: Record<string, unknown> } | undefined;
      if (!body || typeof body !== 'object' || typeof body.flow !== 'string') continue;
      const at = ['states', name, action];
      const where = `states.${name}.${action}`;
      const target = ctx.project.flows.get(body.flow);
      if (!target) {
        ctx.report({
          path: [...at, 'flow'],
          message: `${where}.flow: no flow of the project is named '${body.flow}'${suggest('', body.flow, () => ctx.project.flows.keys())}; fix the name or add the flow file to the project`,
        });
        continue;
      }
      checkTarget(ctx, suggest, action, name, body, target);
    }
  },
};

function checkTarget(
  ctx: RuleContext,
  suggest: ReturnType<typeof rememberedSuggestions>,
  action: FlowAction,
  state: string,
  body: { flow?: string; inputs?: Record<string, unknown>; outputs?: Record<string, unknown> },
  target: LoadedFlow,
): void {
  const at = ['states', state, action];
  const where = `states.${state}.${action}`;
  const t = target.flow;
  const expected = EXPECTED_KIND[action];
  if (!expected.accepts(t.kind)) {
    ctx.report({
      path: [...at, 'flow'],
      message: `${where}.flow: '${t.flow}' is kind: ${t.kind}; ${expected.advice(t)}`,
    });
    return;
  }
  if (action === 'enterSecureFlow' && t.reservation === 'agent' && !hasAgent(ctx.flow)) {
    ctx.report({
      path: [...at, 'flow'],
      message: `${where}.flow: '${t.flow}' reserves the agent (reservation: agent), but this ${ctx.flow.kind} flow has no agent to reserve or return to; give '${t.flow}' reservation: none (a secure IVR), or have the agent start the secure session through the runtime API`,
    });
  }

  const declaredInputs = t.inputs ?? {};
  const given = body.inputs ?? {};
  for (const [input, type] of requiredInputs(t)) {
    if (!Object.prototype.hasOwnProperty.call(given, input)) {
      ctx.report({
        path: body.inputs ? [...at, 'inputs'] : [...at, 'flow'],
        part: body.inputs ? 'key' : 'value',
        message: `${where}.inputs: '${t.flow}' requires the input '${input}' (${type}); add it to inputs`,
      });
    }
  }
  for (const input of Object.keys(given)) {
    if (Object.prototype.hasOwnProperty.call(declaredInputs, input)) continue;
    ctx.report({
      path: [...at, 'inputs', input],
      part: 'key',
      message: `${where}.inputs.${input}: '${t.flow}' declares no input '${input}'${suggest(`inputs of ${t.flow}`, input, () => Object.keys(declaredInputs))}; remove it or declare it in that flow's inputs`,
    });
  }

  if (action !== 'callFlow' || !body.outputs) return;
  const declaredOutputs = t.outputs ?? {};
  for (const [variable, expression] of Object.entries(body.outputs)) {
    for (const read of subflowOutputsRead(expression)) {
      if (Object.prototype.hasOwnProperty.call(declaredOutputs, read.field)) continue;
      ctx.report({
        path: [...at, 'outputs', variable],
        within: { from: read.from, to: read.to },
        message: `${where}.outputs.${variable}: subflow '${t.flow}' has no output '${read.field}'${suggest(`outputs of ${t.flow}`, read.field, () => Object.keys(declaredOutputs))}; read one of its declared outputs or declare '${read.field}' in its outputs`,
      });
    }
  }
}

// Computed once per target flow, however many states call it.
const requiredCache = new WeakMap<Flow, [string, string][]>();

/** The inputs a flow requires: `required: true` and no default. */
function requiredInputs(flow: Flow): [string, string][] {
  let required = requiredCache.get(flow);
  if (!required) {
    required = Object.entries(flow.inputs ?? {})
      .filter(([, decl]) => decl.required === true && decl.default === undefined)
      .map(([name, decl]) => [name, decl.type]);
    requiredCache.set(flow, required);
  }
  return required;
}

/** A flow has an agent to reserve only when it is itself a secure session with the agent reserved. */
function hasAgent(flow: Flow): boolean {
  return flow.kind === 'secure' && flow.reservation !== 'none';
}
