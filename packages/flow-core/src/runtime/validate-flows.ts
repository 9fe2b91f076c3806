/**
 * The check `createRuntime` makes of the flows it is given: the schema, and that every
 * state, subflow and secure flow a flow names exists.
 */
import { FlowSchema, type Flow } from '../model/flow.js';
import { transitionsOf } from '../model/graph.js';
import { FlowValidationError } from './errors.js';

/** Check the flows a runtime is given: the schema, and that every reference resolves. */
export function validateFlows(input: readonly Flow[] | Readonly<Record<string, Flow>>): Map<string, Flow> {
  const list = Array.isArray(input) ? (input as readonly Flow[]) : Object.values(input as Record<string, Flow>);
  const problems: string[] = [];
  const flows = new Map<string, Flow>();
  for (const flow of list) {
    const parsed = FlowSchema.safeParse(flow);
    if (!parsed.success) {
      for (const issue of parsed.error.issues.slice(0, 10)) {
        problems.push(`${(flow as { flow?: string }).flow ?? '(unnamed flow)'}: ${issue.path.join('.')}: ${issue.message}`);
      }
      continue;
    }
    if (flows.has(flow.flow)) problems.push(`${flow.flow}: two flows have this name`);
    flows.set(flow.flow, flow);
  }
  for (const flow of flows.values()) {
    for (const ref of ['start', 'onError', 'onHangup'] as const) {
      const target = flow[ref];
      if (target !== undefined && !flow.states[target]) problems.push(`${flow.flow}: ${ref}: no state '${target}'`);
    }
    for (const [name, state] of Object.entries(flow.states)) {
      for (const t of transitionsOf(name, state)) {
        if (!flow.states[t.target]) problems.push(`${flow.flow}: ${t.path.join('.')}: no state '${t.target}'`);
      }
      const s = state as Record<string, { flow?: string } | undefined>;
      const ref = s.callFlow?.flow ?? s.enterSecureFlow?.flow ?? s.transfer?.flow;
      if (ref !== undefined && !flows.has(ref) && !list.some((f) => f.flow === ref)) {
        problems.push(`${flow.flow}: states.${name}: no flow named '${ref}' in this runtime`);
      }
    }
  }
  if (problems.length > 0) throw new FlowValidationError(problems);
  return flows;
}
