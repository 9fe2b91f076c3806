/**
 * The example server's test client, written as one outside the repository would be: the
 * server started as a child process (examples/twilio-server/server.mjs, over the built
 * packages) and found by its `listening` line; a Twilio-like call that posts Twilio's form
 * parameters with `fetch`, signed with `twilio.getExpectedTwilioSignature` over the public URL
 * it was given, to the address the server listens on (as a tunnel does); and small readers of
 * the TwiML that comes back.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import twilio from 'twilio';
import { expect } from 'vitest';
import { parseTwiml, type XmlNode } from '../call-simulator.js';

/** The repository's root. */
export const ROOT = join(import.meta.dirname, '..', '..', '..', '..');
const SERVER = join(ROOT, 'examples', 'twilio-server', 'server.mjs');

// ---- the server, as a child process ----

/** A running example server. */
export interface RunningServer {
  process: ChildProcessWithoutNullStreams;
  /** Where it listens (the banner's `listening` line). */
  local: string;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Variables of the test's own environment that would change what the server does. */
const SERVER_VARIABLES = /^(PORT|HOST|PUBLIC_BASE_URL|TWILIO_.*|CALLFLOW_.*|FALLBACK_QUEUE|TASKROUTER_WORKFLOW_SID|AGENT_API_TOKEN|LOG_LEVEL)$/;

/** Start the server with `env` on top of a clean environment, PORT=0; resolves once it listens. */
export async function startServer(env: Record<string, string>): Promise<RunningServer> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !SERVER_VARIABLES.test(name)));
  const child = spawn(process.execPath, [SERVER], { cwd: ROOT, env: { ...clean, PORT: '0', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const local = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the example server did not print its listening line within 10 s: ${err || out}`)), 10_000);
    const look = () => {
      const m = /^listening (http:\/\/\S+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdout.off('data', look);
        resolve(m[1]!);
      }
    };
    child.stdout.on('data', look);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the example server exited (${code}) before listening: ${err.trim() || out.trim()}`));
    });
  });
  return { process: child, local, stdout: () => out, stderr: () => err, exited };
}

/** SIGTERM, and its exit code. */
export async function stopServer(server: RunningServer | undefined): Promise<number | null | undefined> {
  if (!server || server.process.exitCode !== null) return server?.process.exitCode;
  server.process.kill('SIGTERM');
  return server.exited;
}

/** Waits until the server's log holds a line matching `pattern` (log lines are written as requests finish). */
export async function logLine(server: RunningServer, pattern: RegExp): Promise<Record<string, unknown>> {
  for (let i = 0; i < 100; i++) {
    const line = server.stdout().split('\n').find((l) => l.startsWith('{') && pattern.test(l));
    if (line) return JSON.parse(line) as Record<string, unknown>;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no log line matching ${pattern}`);
}

// ---- a Twilio-like client, written as an outside one would ----

/** An HTTP answer. */
export interface Answer {
  status: number;
  body: string;
}

/**
 * One call as Twilio places it: the same CallSid, From and To in every request, signed over
 * the public URL the server was configured with, sent to where the server listens (a tunnel
 * does the same).
 */
export class TwilioCall {
  readonly callSid = `CA${randomBytes(16).toString('hex')}`;
  constructor(
    private readonly options: {
      /** The public URL the server was configured with (signatures are computed over it). */
      publicBase: string;
      /** Where the server listens (requests go there). */
      local: string;
      /** The auth token to sign with. */
      token: string;
      from: string;
      to: string;
      /** Told every response body (the test looks for secrets in them). */
      record: (body: string) => void;
    },
  ) {}

  /** Twilio's parameters for a voice request of this call; an `extra` value of `undefined` leaves that parameter out. */
  params(extra: Record<string, string | undefined>): Record<string, string> {
    const params: Record<string, string | undefined> = {
      AccountSid: `AC${'0'.repeat(32)}`,
      ApiVersion: '2010-04-01',
      CallSid: this.callSid,
      CallStatus: 'in-progress',
      Direction: 'inbound',
      From: this.options.from,
      Caller: this.options.from,
      To: this.options.to,
      Called: this.options.to,
      ...extra,
    };
    return Object.fromEntries(Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined));
  }

  /** POST to `url` (a public URL, as Twilio has it), signed with `token`. */
  async post(url: string, extra: Record<string, string | undefined> = {}, sign: (url: string, params: Record<string, string>) => string | undefined = (u, p) => twilio.getExpectedTwilioSignature(this.options.token, u, p)): Promise<Answer> {
    const params = this.params(extra);
    const signature = sign(url, params);
    const localUrl = this.options.local + url.slice(new URL(this.options.publicBase).origin.length);
    const response = await fetch(localUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(signature !== undefined ? { 'x-twilio-signature': signature } : {}) },
      body: new URLSearchParams(params).toString(),
    });
    const answer = { status: response.status, body: await response.text() };
    this.options.record(answer.body);
    return answer;
  }

  /** A request that must be answered 200 with TwiML: the document. */
  async twiml(url: string, extra: Record<string, string | undefined> = {}): Promise<XmlNode> {
    const answer = await this.post(url, extra);
    expect(answer.status, answer.body).toBe(200);
    return parseTwiml(answer.body);
  }
}

/** The verbs of a document, in order. */
export const verbs = (doc: XmlNode) => doc.children.map((c) => c.name);
/** The one child named `name`. */
export const only = (doc: XmlNode, name: string): XmlNode => {
  const found = doc.children.filter((c) => c.name === name);
  expect(found, `one <${name}> in ${verbs(doc).join(', ')}`).toHaveLength(1);
  return found[0]!;
};
/** The texts of the `<Say>`s directly inside `node`. */
export const says = (node: XmlNode) => node.children.filter((c) => c.name === 'Say').map((c) => c.text);
/** The parts of a Gather/Dial action URL this server writes: `<base>/voice/<session>/<turn>[?recording=paused]`. */
export function actionParts(base: string, url: string): { sessionId: string; turn: number; recordingPaused: boolean } {
  expect(url.startsWith(`${base}/voice/`), url).toBe(true);
  const m = /^\/voice\/([0-9a-f-]{36})\/(\d+)(\?recording=paused)?$/.exec(url.slice(base.length));
  expect(m, url).not.toBeNull();
  return { sessionId: m![1]!, turn: Number(m![2]), recordingPaused: m![3] !== undefined };
}
