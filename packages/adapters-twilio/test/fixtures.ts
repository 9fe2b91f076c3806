/**
 * Test wiring: the example flows loaded from their real files, a runtime with scripted data
 * actions, a recording REST port, and the webhook served over loopback HTTP.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRuntime, type ActionCaller, type ActionOutcome, type Flow, type Runtime } from '@callflow/flow-core';
import { loadFlowText } from '@callflow/flow-dsl';
import { createTwilioWebhook, MemoryCallRegistry, type TwilioRestPort, type TwilioWebhookOptions, type WebhookProblem } from '../src/index.js';
import type { RestSideEffect } from '../src/twiml.js';
import { listen } from './call-simulator.js';

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
/**
 * A body with the session ids, Twilio sids and loopback origins taken out: a random id, or the
 * random port of a test server, may hold any digit run, a secure value's among them.
 */
export const withoutIds = (body: string): string =>
  body.replace(UUID, '<id>').replace(/\b[A-Z]{2}[0-9a-f]{32}\b/g, '<sid>').replace(/\/\/(?:127\.0\.0\.1|localhost|\[::1\]):\d+/g, '//<loopback>');

export const AUTH_TOKEN = 'test-auth-token-0123456789abcdef';
/** The partner line the masked-callback flow answers. */
export const PARTNER_LINE = '+15555550199';
export const MANAGER = '+15555550111';
export const CLIENT_PHONE = '+15555550142';
export const PROXY_NUMBER = '+15555550100';

const EXAMPLES = join(import.meta.dirname, '..', '..', '..', 'examples');

/** Load an example flow from its YAML file (fails the test on any diagnostic). */
export function exampleFlow(dir: string, name = dir): Flow {
  const file = join(EXAMPLES, dir, `${name}.yaml`);
  const loaded = loadFlowText(readFileSync(file, 'utf8'), file);
  if (!loaded.flow) throw new Error(`${file}: ${JSON.stringify(loaded.diagnostics)}`);
  return loaded.flow;
}

/** Data actions answering from a script, counting every call. */
export class ScriptedActions implements ActionCaller {
  readonly calls: string[] = [];
  constructor(private readonly results: Record<string, Record<string, unknown>>) {}
  async call(name: string): Promise<ActionOutcome> {
    this.calls.push(name);
    const output = this.results[name];
    if (!output) return { outcome: 'error', code: 'ACTION_NOT_REGISTERED', message: `no script for ${name}`, attempts: 1, ms: 0 };
    return { outcome: 'success', output, attempts: 1, ms: 0 };
  }
  count(name: string): number {
    return this.calls.filter((c) => c === name).length;
  }
}

/** A REST port that records what it was asked to do, with the call it was for. */
export class RecordingRest implements TwilioRestPort {
  readonly performed: Array<{ type: RestSideEffect['type']; callSid: string }> = [];
  async perform(effect: RestSideEffect, call: { callSid: string }): Promise<void> {
    this.performed.push({ type: effect.type, callSid: call.callSid });
  }
}

/** A runtime with both example flows, and the webhook served on 127.0.0.1. */
/** Serve `runtime` through the webhook on loopback (requests signed with AUTH_TOKEN); every problem reported is collected. */
export async function serveWebhook(
  runtime: Runtime,
  options: Omit<TwilioWebhookOptions, 'runtime' | 'authToken' | 'publicBaseUrl' | 'onProblem'> & { authToken?: string },
) {
  const problems: WebhookProblem[] = [];
  const served = await listen((publicBaseUrl) =>
    createTwilioWebhook({ runtime, authToken: AUTH_TOKEN, publicBaseUrl, onProblem: (p) => problems.push(p), ...options }),
  );
  return { ...served, problems };
}

export async function startServer(results: Record<string, Record<string, unknown>>, extra: Partial<TwilioWebhookOptions> = {}) {
  const actions = new ScriptedActions(results);
  const runtime: Runtime = createRuntime({
    flows: [exampleFlow('masked-callback'), exampleFlow('agent-card-payment')],
    actions,
  });
  let started = 0;
  runtime.events.on('session.started', () => started++);
  const rest = new RecordingRest();
  const calls = new MemoryCallRegistry();
  const served = await serveWebhook(runtime, {
    flowByNumber: { [PARTNER_LINE]: 'masked-callback' },
    rest,
    calls,
    taskRouter: { workflowSid: 'WW00000000000000000000000000000001' },
    ...extra,
  });
  const problems = served.problems;
  return { ...served, runtime, actions, rest, calls, problems, sessionsStarted: () => started };
}
