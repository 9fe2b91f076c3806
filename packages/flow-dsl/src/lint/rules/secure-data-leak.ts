/**
 * `secure-data-leak`: a secure value (see taint.ts for what is secure and how it spreads)
 * reaches a place the contract forbids: a log line, a variable not declared secure, an input
 * of a data action the config does not declare secure, returnToAgent / return outputs, a
 * transfer (any field, data), a play URL, an input of another flow not declared secure there,
 * or connect.callerId. Reading it back to the caller (say, prompts) is allowed, as are
 * connect.number, authenticate.to and switch conditions.
 */
import type { ActionDeclaration } from '@callflow/flow-core';
import { renderPath } from '../../load/parse-yaml.js';
import { flowExpressions, type FlowExpression } from '../expressions.js';
import { exposures, taintFacts } from '../taint.js';
import type { Rule, RuleContext } from '../types.js';

/** Where the value would go, and what to do instead; undefined when the place is no sink. */
function sinkOf(ctx: RuleContext, entry: FlowExpression, name: string): string | undefined {
  const masked = `a masked form (last4(${name.replace(/ \(.*\)$/, '')}))`;
  const role = entry.role;
  switch (role.kind) {
    case 'log':
      return `would be written to the log; log ${masked} or nothing`;
    case 'set':
    case 'invoke-output':
    case 'callFlow-output': {
      const decl = ctx.flow.variables?.[role.variable];
      if (!decl || decl.secure === true) return undefined; // undeclared: undefined-variable's
      return `would be stored in '${role.variable}', which is not declared secure; add secure: true to variables.${role.variable} or store ${masked}`;
    }
    case 'invoke-input': {
      const action: ActionDeclaration | undefined = ctx.project.config.actions?.[role.action];
      if (!action || action.secure === true) return undefined; // undeclared: benefit of the doubt
      const field = action.input?.[role.field];
      if (typeof field === 'object' && field !== null && field.secure === true) return undefined;
      return `would be sent to data action '${role.action}', which callflow.config.yaml does not declare secure: true; declare the action (or this input field) secure if it may receive it, or send ${masked}`;
    }
    case 'agent-output':
      return role.via === 'returnToAgent'
        ? `would be handed to the agent in returnToAgent outputs; return ${masked} instead`
        : `would be handed back to the calling flow in return outputs; return ${masked} instead, or keep the secure work inside the flow that needs it`;
    case 'transfer-field':
    case 'transfer-data':
      return `would be handed along with the transfer (${role.kind === 'transfer-field' ? role.field : `data.${role.key}`}); transfers carry no secure values: use ${masked} or leave it out`;
    case 'play-url':
      return `would be sent in a play URL (and so to the audio server and its logs); play no URL built from it`;
    case 'connect-callerId':
      return `would be shown as the caller ID of the outbound leg; use a proxy number`;
    case 'flow-input': {
      const target = ctx.project.flows.get(role.flow)?.flow;
      const input = target?.inputs?.[role.input];
      if (!input || input.secure === true) return undefined; // unknown flow or input: unknown-flow's
      return `would be handed to flow '${role.flow}' as input '${role.input}', which is not declared secure: true there; declare the input secure in that flow or hand over ${masked}`;
    }
    default:
      return undefined;
  }
}

export const rule: Rule = {
  meta: {
    name: 'secure-data-leak',
    description: 'A secure value reaches a log, a non-secure variable or action, returnToAgent/return outputs, a transfer or another non-secure place.',
    defaultSeverity: 'error',
    docs: 'docs/rules/secure-data-leak.md',
    help: 'Pass a masked form instead (mask(x), last4(x)), or a fact about it (size(x), x.startsWith("4")), or declare the receiving variable, action or flow input secure: true when it really must hold the value.',
  },
  check(ctx) {
    const facts = taintFacts(ctx);
    if (facts.tainted.size === 0 && !ctx.project.config.actions) return;
    for (const entry of flowExpressions(ctx).entries) {
      const found = exposures(ctx, entry);
      if (found.length === 0) continue;
      for (const e of found) {
        const sink = sinkOf(ctx, entry, e.name);
        if (sink === undefined) break;
        ctx.report({
          path: entry.path,
          within: { from: e.from, to: e.to },
          message: `${renderPath(entry.path)}: secure value '${e.name}' ${sink}`,
        });
      }
    }
  },
};
