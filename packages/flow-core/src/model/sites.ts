/**
 * Every CEL expression and `${}` template of a flow, found in one pass over its states: where
 * it is written (its path in the flow document), which scope it is evaluated in (`value`,
 * `result` or neither), where its value goes (its role: a log line, a variable, an action
 * input...), and each CEL piece parsed once with the identifiers it reads. Also every write
 * to a variable (collect.into, set keys, output keys). The linter's expression rules, the
 * information-flow analysis (secure/information-flow.ts) and so the runtime's enforcement all
 * read this one listing: a place a value can go is named once, here.
 */
import {
  createFlowEnvironment,
  identifiersOf,
  parseExpression,
  type ExpressionScope,
  type FlowEnvironment,
  type IdentifierRead,
  type ParseFailure,
  type ParsedExpression,
} from '../expr/cel.js';
import { parseTemplate, type TemplateError } from '../expr/template.js';
import { parseValidation, type Validation } from '../expr/validate.js';
import type { Flow } from './flow.js';

/** A path in the flow document: `['states', 'askCard', 'collect', 'prompt']`. */
export type SitePath = readonly (string | number)[];

/** Where an expression's value goes. */
export type ExpressionRole =
  | { kind: 'set'; variable: string }
  | { kind: 'invoke-input'; action: string; field: string }
  | { kind: 'invoke-output'; action: string; variable: string }
  | { kind: 'callFlow-output'; flow: string; variable: string }
  | { kind: 'flow-input'; via: 'callFlow' | 'enterSecureFlow' | 'transfer'; flow: string; input: string }
  | { kind: 'agent-output'; via: 'returnToAgent' | 'return'; output: string }
  | { kind: 'log' }
  /** Spoken to the caller: say text, prompts, no-input / no-match prompts. */
  | { kind: 'speech'; what: string }
  | { kind: 'play-url' }
  | { kind: 'transfer-field'; field: string }
  | { kind: 'transfer-data'; key: string }
  | { kind: 'connect-number' }
  | { kind: 'connect-callerId' }
  | { kind: 'pay-amount' }
  | { kind: 'pay-description' }
  | { kind: 'pay-output'; variable: string }
  | { kind: 'authenticate-to' }
  | { kind: 'sms-message' }
  | { kind: 'switch-when'; index: number }
  | { kind: 'validate' }
  /** What the caller keys in (`collect.into`): heard on a running recording as tones. Not an expression. */
  | { kind: 'keyed-in'; variable: string };

/** One CEL expression inside an entry: the whole expression, or one `${}` of a template. */
export interface ExpressionPiece {
  text: string;
  /** Where `text` starts in the entry's string. */
  offset: number;
  parsed: ParsedExpression | ParseFailure;
  /** Identifiers read, offsets in the entry's string (not the piece's). Empty when it did not parse. */
  reads: IdentifierRead[];
  /** callFlow.outputs: a bare name, short for `result.NAME` (reads no variable). */
  shorthand?: string;
}

/** An expression, template or validation written in the flow. */
export interface FlowExpression {
  state: string;
  /** The value's path in the document. */
  path: SitePath;
  /** The text as written (a YAML number or boolean as its CEL literal). */
  text: string;
  form: 'expression' | 'template' | 'validation';
  scope: ExpressionScope;
  role: ExpressionRole;
  /** Must be a bool (switch.when, a CEL validation). */
  mustBeBool: boolean;
  pieces: ExpressionPiece[];
  templateError?: TemplateError;
  validation?: Validation;
  /** The environment the pieces were parsed in. */
  env: FlowEnvironment;
}

/** A write to a variable. */
export interface VariableWrite {
  state: string;
  variable: string;
  via: 'collect' | 'set' | 'invoke-output' | 'callFlow-output' | 'pay-output';
  /** Where the name is written (for set/output keys, the key of `path`). */
  path: SitePath;
  part: 'key' | 'value';
}

/** The listing of a flow. */
export interface FlowExpressions {
  entries: FlowExpression[];
  writes: VariableWrite[];
}

const BARE_NAME = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*$/;
const NOT_SHORTHAND = new Set(['result', 'true', 'false', 'null']);

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Every expression, template and validation of a flow with its role, in document order, and
 * every write to a variable. One pass over the states; each CEL text parsed once per scope.
 */
export function expressionSites(flow: Flow): FlowExpressions {
  let listing = listings.get(flow);
  if (!listing) listings.set(flow, (listing = listExpressions(flow)));
  return listing;
}

const listings = new WeakMap<Flow, FlowExpressions>();

function listExpressions(flow: Flow): FlowExpressions {
  const envs = new Map<ExpressionScope, FlowEnvironment>();
  const envOf = (scope: ExpressionScope): FlowEnvironment => {
    let env = envs.get(scope);
    if (!env) envs.set(scope, (env = createFlowEnvironment(flow, scope)));
    return env;
  };
  const entries: FlowExpression[] = [];
  const writes: VariableWrite[] = [];

  // the same text in the same scope parses and checks the same: parse it once per flow
  const seen = new Map<string, { parsed: ParsedExpression | ParseFailure; reads: IdentifierRead[] }>();
  const piece = (env: FlowEnvironment, text: string, offset: number): ExpressionPiece => {
    const key = `${env.scope}\u0000${text}`;
    let known = seen.get(key);
    if (!known) {
      const parsed = parseExpression(env, text);
      known = { parsed, reads: parsed.ok ? identifiersOf(parsed.ast) : [] };
      seen.set(key, known);
    }
    const reads = offset === 0 ? known.reads : known.reads.map((r) => ({ ...r, from: r.from + offset, to: r.to + offset }));
    return { text, offset, parsed: known.parsed, reads };
  };

  const expression = (
    state: string,
    path: SitePath,
    value: unknown,
    role: ExpressionRole,
    scope: ExpressionScope = 'plain',
    mustBeBool = false,
  ): void => {
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') return;
    const text = String(value);
    const env = envOf(scope);
    const entry: FlowExpression = { state, path, text, form: 'expression', scope, role, mustBeBool, pieces: [], env };
    const bare = role.kind === 'callFlow-output' ? BARE_NAME.exec(text) : null;
    if (bare && !NOT_SHORTHAND.has(bare[1]!)) {
      const p = piece(env, `result.${bare[1]!}`, 0);
      entry.pieces.push({ ...p, text, reads: [], shorthand: bare[1]! });
    } else entry.pieces.push(piece(env, text, 0));
    entries.push(entry);
  };

  const template = (state: string, path: SitePath, value: unknown, role: ExpressionRole): void => {
    if (typeof value !== 'string') return;
    const env = envOf('plain');
    const parsed = parseTemplate(value);
    const entry: FlowExpression = { state, path, text: value, form: 'template', scope: 'plain', role, mustBeBool: false, pieces: [], env };
    for (const part of parsed.parts) if (part.kind === 'expression') entry.pieces.push(piece(env, part.text, part.from));
    if (parsed.error) entry.templateError = parsed.error;
    entries.push(entry);
  };

  const prompt = (state: string, path: SitePath, value: unknown, what: string): void => {
    if (typeof value === 'string') template(state, path, value, { kind: 'speech', what });
    else if (isObj(value)) {
      template(state, [...path, 'text'], value.text, { kind: 'speech', what });
      template(state, [...path, 'play'], value.play, { kind: 'play-url' });
    }
  };

  const retryPrompts = (state: string, base: SitePath, body: Obj): void => {
    prompt(state, [...base, 'prompt'], body.prompt, 'prompt');
    prompt(state, [...base, 'noInputPrompt'], body.noInputPrompt, 'noInputPrompt');
    prompt(state, [...base, 'noMatchPrompt'], body.noMatchPrompt, 'noMatchPrompt');
  };

  const each = (value: unknown, fn: (key: string, v: unknown) => void): void => {
    if (isObj(value)) for (const [k, v] of Object.entries(value)) fn(k, v);
  };

  for (const [name, stateValue] of Object.entries(flow.states)) {
    const s = stateValue as Obj;
    const at = (...rest: (string | number)[]): SitePath => ['states', name, ...rest];
    if ('say' in s) {
      if (typeof s.say === 'string') template(name, at('say'), s.say, { kind: 'speech', what: 'say' });
      else if (isObj(s.say)) template(name, at('say', 'text'), s.say.text, { kind: 'speech', what: 'say' });
    } else if ('play' in s) {
      if (typeof s.play === 'string') template(name, at('play'), s.play, { kind: 'play-url' });
      else if (isObj(s.play)) template(name, at('play', 'url'), s.play.url, { kind: 'play-url' });
    } else if ('collect' in s && isObj(s.collect)) {
      const body = s.collect;
      retryPrompts(name, at('collect'), body);
      if (typeof body.into === 'string') writes.push({ state: name, variable: body.into, via: 'collect', path: at('collect', 'into'), part: 'value' });
      if (typeof body.validate === 'string') {
        const validation = parseValidation(body.validate);
        const path = at('collect', 'validate');
        if (validation.kind === 'cel') expression(name, path, body.validate, { kind: 'validate' }, 'value', true);
        else {
          entries.push({
            state: name, path, text: body.validate, form: 'validation', scope: 'value', role: { kind: 'validate' },
            mustBeBool: false, pieces: [], validation, env: envOf('value'),
          });
        }
      }
    } else if ('menu' in s && isObj(s.menu)) {
      retryPrompts(name, at('menu'), s.menu);
    } else if ('switch' in s && isObj(s.switch)) {
      const cases = s.switch.cases;
      if (Array.isArray(cases)) {
        cases.forEach((c: unknown, i) => {
          if (isObj(c)) expression(name, at('switch', 'cases', i, 'when'), c.when, { kind: 'switch-when', index: i }, 'plain', true);
        });
      }
    } else if ('set' in s) {
      each(s.set, (variable, v) => {
        writes.push({ state: name, variable, via: 'set', path: at('set', variable), part: 'key' });
        expression(name, at('set', variable), v, { kind: 'set', variable });
      });
    } else if ('invoke' in s && isObj(s.invoke)) {
      const body = s.invoke;
      const action = typeof body.action === 'string' ? body.action : '';
      each(body.input, (field, v) => expression(name, at('invoke', 'input', field), v, { kind: 'invoke-input', action, field }));
      each(body.output, (variable, v) => {
        writes.push({ state: name, variable, via: 'invoke-output', path: at('invoke', 'output', variable), part: 'key' });
        expression(name, at('invoke', 'output', variable), v, { kind: 'invoke-output', action, variable }, 'result');
      });
    } else if ('callFlow' in s && isObj(s.callFlow)) {
      const body = s.callFlow;
      const target = typeof body.flow === 'string' ? body.flow : '';
      each(body.inputs, (input, v) =>
        expression(name, at('callFlow', 'inputs', input), v, { kind: 'flow-input', via: 'callFlow', flow: target, input }),
      );
      each(body.outputs, (variable, v) => {
        writes.push({ state: name, variable, via: 'callFlow-output', path: at('callFlow', 'outputs', variable), part: 'key' });
        expression(name, at('callFlow', 'outputs', variable), v, { kind: 'callFlow-output', flow: target, variable }, 'result');
      });
    } else if ('authenticate' in s && isObj(s.authenticate)) {
      const body = s.authenticate;
      expression(name, at('authenticate', 'to'), body.to, { kind: 'authenticate-to' });
      prompt(name, at('authenticate', 'prompt'), body.prompt, 'prompt');
      template(name, at('authenticate', 'message'), body.message, { kind: 'sms-message' });
    } else if ('pay' in s && isObj(s.pay)) {
      const body = s.pay;
      expression(name, at('pay', 'amount'), body.amount, { kind: 'pay-amount' });
      template(name, at('pay', 'description'), body.description, { kind: 'pay-description' });
      prompt(name, at('pay', 'prompt'), body.prompt, 'prompt');
      each(body.output, (variable, v) => {
        writes.push({ state: name, variable, via: 'pay-output', path: at('pay', 'output', variable), part: 'key' });
        expression(name, at('pay', 'output', variable), v, { kind: 'pay-output', variable }, 'result');
      });
    } else if ('connect' in s && isObj(s.connect)) {
      const body = s.connect;
      expression(name, at('connect', 'number'), body.number, { kind: 'connect-number' });
      template(name, at('connect', 'callerId'), body.callerId, { kind: 'connect-callerId' });
      prompt(name, at('connect', 'prompt'), body.prompt, 'prompt');
    } else if ('log' in s) {
      if (typeof s.log === 'string') template(name, at('log'), s.log, { kind: 'log' });
      else if (isObj(s.log)) template(name, at('log', 'message'), s.log.message, { kind: 'log' });
    } else if ('transfer' in s && isObj(s.transfer)) {
      const body = s.transfer;
      for (const field of ['queue', 'number', 'user', 'sip'] as const) {
        template(name, at('transfer', field), body[field], { kind: 'transfer-field', field });
      }
      const target = typeof body.flow === 'string' ? body.flow : '';
      each(body.inputs, (input, v) =>
        expression(name, at('transfer', 'inputs', input), v, { kind: 'flow-input', via: 'transfer', flow: target, input }),
      );
      each(body.data, (key, v) => expression(name, at('transfer', 'data', key), v, { kind: 'transfer-data', key }));
      prompt(name, at('transfer', 'prompt'), body.prompt, 'prompt');
    } else if ('enterSecureFlow' in s && isObj(s.enterSecureFlow)) {
      const body = s.enterSecureFlow;
      const target = typeof body.flow === 'string' ? body.flow : '';
      each(body.inputs, (input, v) =>
        expression(name, at('enterSecureFlow', 'inputs', input), v, { kind: 'flow-input', via: 'enterSecureFlow', flow: target, input }),
      );
    } else if ('disconnect' in s && isObj(s.disconnect)) {
      prompt(name, at('disconnect', 'prompt'), s.disconnect.prompt, 'prompt');
    } else if ('returnToAgent' in s && isObj(s.returnToAgent)) {
      each(s.returnToAgent.outputs, (output, v) =>
        expression(name, at('returnToAgent', 'outputs', output), v, { kind: 'agent-output', via: 'returnToAgent', output }),
      );
      prompt(name, at('returnToAgent', 'prompt'), s.returnToAgent.prompt, 'prompt');
    } else if ('return' in s && isObj(s.return)) {
      each(s.return.outputs, (output, v) =>
        expression(name, at('return', 'outputs', output), v, { kind: 'agent-output', via: 'return', output }),
      );
    }
  }
  return { entries, writes };
}
