/**
 * The information-flow facts of the flow being linted (flow-core's `analyseSecurity` over the
 * whole project: labels of every variable and expression, and where a secure value would
 * leak), computed once per project and shared by `secure-data-leak` and
 * `twilio-secure-readback`.
 */
import { analyseSecurity, type ActionSecurity, type ActionSecurityLookup, type Flow, type FlowSecurity, type ProjectConfig, type SecurityAnalysis } from '@callflow/flow-core';
import type { ProjectIndex, RuleContext } from './types.js';

const projects = new WeakMap<ProjectIndex, SecurityAnalysis>();

/** Data actions as `callflow.config.yaml` declares them; an undeclared action is not known. */
export function configActions(config: ProjectConfig): ActionSecurityLookup {
  const declared = config.actions ?? {};
  return (name) => {
    const a = declared[name];
    if (!a) return undefined;
    const secureFields = (fields: Record<string, unknown> | undefined): string[] =>
      Object.entries(fields ?? {})
        .filter(([, f]) => typeof f === 'object' && f !== null && (f as { secure?: unknown }).secure === true)
        .map(([k]) => k);
    const out: ActionSecurity = { secureInputs: secureFields(a.input), secureOutputs: secureFields(a.output) };
    if (a.secure === true) out.secure = true;
    return out;
  };
}

/** The security facts of the linted flow. */
export function securityOf(ctx: Pick<RuleContext, 'flow' | 'analysis' | 'project'>): FlowSecurity {
  return ctx.analysis.memo('security', () => {
    const { project, flow } = ctx;
    let analysis: SecurityAnalysis;
    if (project.flows.get(flow.flow)?.flow === flow) {
      analysis = projects.get(project) ?? analyseProject(project);
    } else {
      // a flow outside the index (a duplicate name): analysed with the others around it
      const others: Flow[] = [flow];
      for (const [name, f] of project.flows) if (name !== flow.flow) others.push(f.flow);
      analysis = analyseSecurity(others, configActions(project.config));
    }
    return analysis.flow(flow.flow)!;
  });
}

function analyseProject(project: ProjectIndex): SecurityAnalysis {
  const analysis = analyseSecurity([...project.flows.values()].map((f) => f.flow), configActions(project.config));
  projects.set(project, analysis);
  return analysis;
}
