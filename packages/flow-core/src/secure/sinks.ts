/**
 * Every place a value written in a flow can go, and what may go there: the one table the
 * linter (`secure-data-leak`) and the runtime's enforcement share. Each expression site of a
 * flow (model/sites.ts) has a role; each role is one of these sinks.
 *
 * What a value is (its label, see information-flow.ts): clear, masked (the declassified form
 * `last4(v)` / `mask(v)` of a whole secure value long enough to hide most of it, or anything
 * computed from masked and clear values only) or secure.
 */
import type { ExpressionRole } from '../model/sites.js';

/**
 * How a sink treats labels:
 * - `store`: an assignment; the variable takes the value's label (a secure value in a variable
 *   not declared `secure: true` is reported all the same, so the declaration says what it holds);
 * - `caller`: spoken to the caller: anything while the call recording is paused, nothing secure
 *   where a recording may run;
 * - `release`: where a flow may release a masked form (logs, agent and return outputs, the
 *   data handed along with a transfer): masked and clear values;
 * - `clear`: only clear values (addresses, URLs, caller ids, amounts, SMS text);
 * - `destination`: the number dialled or texted (`connect.number`, `authenticate.to`): a
 *   whole secure variable, or anything not secure;
 * - `action-input`: a data action's input: for an action (or field) declared secure, secure
 *   values whole (variables joined with `+` at most); clear values otherwise;
 * - `flow-input`: another flow's input: any when that input is declared `secure: true` there;
 *   masked and clear values otherwise (the input then holds a masked value);
 * - `condition`: a branch (switch cases, a CEL validation): masked and clear values; a branch
 *   on a secure value would reveal it through the path the call takes.
 */
export type SinkClass = 'store' | 'caller' | 'release' | 'clear' | 'destination' | 'action-input' | 'flow-input' | 'condition';

type RoleOf<K extends ExpressionRole['kind']> = Extract<ExpressionRole, { kind: K }>;
type SinkTable = { readonly [K in ExpressionRole['kind']]: { sink: SinkClass; where: (role: RoleOf<K>) => string } };

/** The sink of every role an expression can have. */
export const SINKS: SinkTable = {
  set: { sink: 'store', where: (r) => `variable '${r.variable}'` },
  'invoke-output': { sink: 'store', where: (r) => `variable '${r.variable}'` },
  'callFlow-output': { sink: 'store', where: (r) => `variable '${r.variable}'` },
  'pay-output': { sink: 'store', where: (r) => `variable '${r.variable}'` },
  speech: { sink: 'caller', where: (r) => `the spoken ${r.what}` },
  log: { sink: 'release', where: () => 'the log' },
  'agent-output': {
    sink: 'release',
    where: (r) => (r.via === 'returnToAgent' ? `the agent (returnToAgent output '${r.output}')` : `the calling flow (return output '${r.output}')`),
  },
  'transfer-data': { sink: 'release', where: (r) => `the data handed along with the transfer (data.${r.key})` },
  'transfer-field': { sink: 'clear', where: (r) => `the transfer's ${r.field}` },
  'play-url': { sink: 'clear', where: () => 'a play URL (the audio server and its logs)' },
  'connect-callerId': { sink: 'clear', where: () => 'the caller ID shown on the outbound leg' },
  'pay-amount': { sink: 'clear', where: () => 'the payment amount (sent to the payment provider)' },
  'pay-description': { sink: 'clear', where: () => 'the payment description (sent to the payment provider)' },
  'sms-message': { sink: 'clear', where: () => 'the text message (the SMS provider and the handset)' },
  'connect-number': { sink: 'destination', where: () => 'the number dialled' },
  'authenticate-to': { sink: 'destination', where: () => 'the number the code is sent to' },
  'invoke-input': { sink: 'action-input', where: (r) => `data action '${r.action}' (input '${r.field}')` },
  'flow-input': { sink: 'flow-input', where: (r) => `flow '${r.flow}' (input '${r.input}', through ${r.via})` },
  'switch-when': { sink: 'condition', where: (r) => `the condition of switch case ${r.index}` },
  validate: { sink: 'condition', where: () => 'the validation of what the caller keyed in' },
  'keyed-in': { sink: 'caller', where: (r) => `what the caller keys in ('${r.variable}')` },
};

/** The sink of a role. */
export function sinkOf(role: ExpressionRole): SinkClass {
  return SINKS[role.kind].sink;
}

/** Where a role's value goes, in words. */
export function sinkWhere(role: ExpressionRole): string {
  return (SINKS[role.kind].where as (r: ExpressionRole) => string)(role);
}
