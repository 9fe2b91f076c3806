/**
 * A small Twilio-like caller for tests and the demo (`@callflow/adapters-twilio/testing`): it POSTs form-encoded requests with Twilio's parameter
 * names, signs them with X-Twilio-Signature (twilio's own `getExpectedTwilioSignature`),
 * parses the TwiML it gets back, and follows it as Twilio would: says are heard, a Gather is
 * answered with the next scripted input (or an empty result), a Dial action with a scripted
 * DialCallStatus, a Redirect is followed, and a status callback ends the call.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import twilio from 'twilio';
import type { TwilioWebhook } from '../webhook.js';

// ---- a tiny XML reader (testing only: TwiML is small, flat and well-formed) ----

/** An element of a parsed TwiML document. */
export interface XmlNode {
  name: string;
  attrs: Record<string, string>;
  children: XmlNode[];
  text: string;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, e: string) => {
    if (e[0] === '#') return String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    return ENTITIES[e] ?? whole;
  });
}

/** Parse a TwiML document; throws on anything that is not well-formed. */
export function parseTwiml(xml: string): XmlNode {
  const body = xml.replace(/^\s*<\?xml[^?]*\?>/, '');
  const root: XmlNode = { name: '#root', attrs: {}, children: [], text: '' };
  const stack: XmlNode[] = [root];
  const token = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+\s*=\s*"[^"]*")*)\s*(\/?)>|([^<]+)/gy;
  let match: RegExpExecArray | null;
  let at = 0;
  while (at < body.length) {
    token.lastIndex = at;
    match = token.exec(body);
    if (!match) throw new Error(`not well-formed TwiML at ${at}: ${body.slice(at, at + 40)}`);
    at = token.lastIndex;
    const [, closing, name, attrText, selfClosing, text] = match;
    const top = stack[stack.length - 1]!;
    if (text !== undefined) {
      if (text.trim() !== '') top.text += decode(text);
      continue;
    }
    if (closing) {
      if (top.name !== name) throw new Error(`</${name}> closes <${top.name}>`);
      stack.pop();
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const a of (attrText ?? '').matchAll(/([\w:.-]+)\s*=\s*"([^"]*)"/g)) attrs[a[1]!] = decode(a[2]!);
    const node: XmlNode = { name: name!, attrs, children: [], text: '' };
    top.children.push(node);
    if (!selfClosing) stack.push(node);
  }
  if (stack.length !== 1) throw new Error(`unclosed <${stack[stack.length - 1]!.name}>`);
  const response = root.children[0];
  if (!response || response.name !== 'Response' || root.children.length !== 1) throw new Error('TwiML must be one <Response>');
  return response;
}

// ---- HTTP ----

/** A node:http server on 127.0.0.1 with an ephemeral port, running the webhook. */
export async function listen(make: (baseUrl: string) => TwilioWebhook): Promise<{ server: Server; baseUrl: string; webhook: TwilioWebhook; close(): Promise<void> }> {
  let webhook: TwilioWebhook | undefined;
  const server = createServer((req, res) => {
    void webhook!.handleNode(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}/twilio`;
  webhook = make(baseUrl);
  return {
    server,
    baseUrl,
    webhook,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** An HTTP answer as the simulator got it. */
export interface HttpAnswer {
  status: number;
  body: string;
}

/** How a request is signed: properly, not at all, or with a wrong key. */
export type Signing = 'valid' | 'none' | 'forged';

/**
 * Sends one signed form POST and reads the answer: `fetch` by default; a load test passes its
 * own (a keep-alive agent with a bounded socket pool, a latency clock around each request).
 */
export type FormSender = (url: string, headers: Record<string, string>, body: string) => Promise<HttpAnswer>;

const fetchSender: FormSender = async (url, headers, body) => {
  const response = await fetch(url, { method: 'POST', headers, body });
  return { status: response.status, body: await response.text() };
};

/** POST a form as Twilio does, signed with `authToken`. */
export async function postForm(url: string, params: Record<string, string>, authToken: string, signing: Signing = 'valid', send: FormSender = fetchSender): Promise<HttpAnswer> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'TwilioProxy/1.1' };
  if (signing !== 'none') {
    headers['x-twilio-signature'] = twilio.getExpectedTwilioSignature(signing === 'forged' ? `${authToken}-not` : authToken, url, params);
  }
  return send(url, headers, new URLSearchParams(params).toString());
}

/** Is this Dial/Enqueue action the outcome of a hand-on (a transfer, the return to the agent, the fail-safe's transfer)? */
function handsOn(action: string): boolean {
  return /\/(transfer|fallback\/result)$/.test(action.split('?')[0] ?? '');
}

// ---- the caller ----

/**
 * One scripted answer: digits for a Gather, `{ secure }` digits for a Gather that the transcript
 * shows as `[secure]` (a card number, a CVV), `noInput`, or a DialCallStatus for a Dial.
 */
export type CallerInput =
  | string
  | { secure: string }
  | { noInput: true }
  | { dial: 'completed' | 'busy' | 'no-answer' | 'failed' | 'canceled' }
  /** How a queue the call was put in ended (`QueueResult`: bridged, hangup, queue-full, error, leave, ...). */
  | { queue: string };

/**
 * A caller deciding as the call goes: asked at each Gather, and at each Dial that posts back,
 * for the answer to the verb it is given; undefined at a Gather hangs up (with
 * `hangUpWhenOutOfInput`). Lets a load test take random paths through a flow.
 */
export type CallerScript = (prompt: { verb: XmlNode; record: CallRecord }) => CallerInput | undefined | Promise<CallerInput | undefined>;

/** How the caller follows a call. */
export interface FollowOptions {
  /** At a Gather with no scripted input left, hang up (status callback) instead of failing. */
  hangUpWhenOutOfInput?: boolean;
  /** Told each transcript line as it happens (for printing a live conversation). */
  onLine?: (line: string) => void;
}

/** What happened on a simulated call. */
export interface CallRecord {
  /** Every verb run, in order: `say: text`, `gather`, `dial number +1...`, `hangup`, ... */
  transcript: string[];
  /** Every TwiML document received. */
  documents: XmlNode[];
  /** Every response body, raw (to search for what must not be there). */
  bodies: string[];
  /** How the call ended on Twilio's side. */
  outcome: 'hangup' | 'enqueued' | 'bridged' | 'caller-hung-up' | 'document-ended';
  /** The last document's last verb. */
  last?: XmlNode;
}

/** A Twilio-like caller on one CallSid. */
export class CallSimulator {
  readonly callSid: string;
  private readonly base: Record<string, string>;

  constructor(
    private readonly baseUrl: string,
    private readonly authToken: string,
    call: { from: string; to: string; callSid?: string },
    /** How requests are sent (default `fetch`). */
    private readonly send?: FormSender,
  ) {
    this.callSid = call.callSid ?? `CA${Math.random().toString(16).slice(2).padEnd(32, '0').slice(0, 32)}`;
    this.base = {
      AccountSid: 'AC00000000000000000000000000000000',
      ApiVersion: '2010-04-01',
      CallSid: this.callSid,
      From: call.from,
      Caller: call.from,
      To: call.to,
      Called: call.to,
      Direction: 'inbound',
    };
  }

  /** POST with the call's parameters (plus `extra`) to an absolute URL or a path under the base. */
  post(urlOrPath: string, extra: Record<string, string> = {}, signing: Signing = 'valid'): Promise<HttpAnswer> {
    const url = urlOrPath.startsWith('http') ? urlOrPath : `${this.baseUrl}${urlOrPath}`;
    return postForm(url, { ...this.base, CallStatus: 'in-progress', ...extra }, this.authToken, signing, this.send);
  }

  /** Twilio's call status callback. */
  status(callStatus: 'completed' | 'busy' | 'failed' | 'no-answer' | 'canceled'): Promise<HttpAnswer> {
    return postForm(`${this.baseUrl}/status`, { ...this.base, CallStatus: callStatus, CallDuration: '42' }, this.authToken, 'valid', this.send);
  }

  /** Dial in (POST /voice) and follow the TwiML with the scripted inputs (or a caller deciding as it goes). */
  async dialIn(inputs: CallerInput[] | CallerScript, options: FollowOptions = {}): Promise<CallRecord> {
    const first = await this.post('/voice');
    return this.follow(first, inputs, options);
  }

  /** Follow a TwiML answer (e.g. one given to Twilio through the REST API) with the scripted inputs. */
  async follow(first: HttpAnswer, inputs: CallerInput[] | CallerScript, options: FollowOptions = {}): Promise<CallRecord> {
    const record: CallRecord = { transcript: [], documents: [], bodies: [], outcome: 'document-ended' };
    const queue = typeof inputs === 'function' ? inputs : [...inputs];
    let answer = first;
    for (let hops = 0; hops < 100; hops++) {
      if (answer.status !== 200) throw new Error(`webhook answered ${answer.status}: ${answer.body}`);
      record.bodies.push(answer.body);
      const doc = parseTwiml(answer.body);
      record.documents.push(doc);
      const next = await this.run(doc, queue, record, options);
      if (!next) {
        if (record.outcome !== 'caller-hung-up') await this.status('completed');
        return record;
      }
      answer = next;
    }
    throw new Error('the call did not end after 100 documents');
  }

  /** Run one document; the next answer, or undefined when the call ended. */
  private async run(doc: XmlNode, queue: CallerInput[] | CallerScript, record: CallRecord, options: FollowOptions): Promise<HttpAnswer | undefined> {
    const note = (line: string) => {
      record.transcript.push(line);
      options.onLine?.(line);
    };
    const next = (verb: XmlNode) => (typeof queue === 'function' ? queue({ verb, record }) : queue.shift());
    for (const verb of doc.children) {
      record.last = verb;
      switch (verb.name) {
        case 'Say':
          note(`say: ${verb.text}`);
          break;
        case 'Play':
          note(`play: ${verb.text}`);
          break;
        case 'Pause':
          note('pause');
          break;
        case 'Gather': {
          for (const inner of verb.children) note(`${inner.name.toLowerCase()}: ${inner.text}`);
          const input = await next(verb);
          if (input === undefined) {
            if (!options.hangUpWhenOutOfInput) throw new Error('the script ran out of inputs at a Gather');
            record.outcome = 'caller-hung-up';
            await this.status('completed');
            return undefined;
          }
          if (typeof input === 'object' && ('dial' in input || 'queue' in input)) throw new Error('a Gather got a dial status or a queue result');
          const digits = typeof input === 'string' ? input : 'secure' in input ? input.secure : undefined;
          note(typeof input === 'string' ? `keys: ${input}` : digits !== undefined ? 'keys: [secure]' : 'keys nothing');
          const extra: Record<string, string> = digits !== undefined ? { Digits: digits, FinishedOnKey: '' } : {};
          return this.post(verb.attrs.action!, extra);
        }
        case 'Dial': {
          const target = verb.children.map((c) => `${c.name.toLowerCase()} ${c.text || (c.children.find((x) => x.name === 'Identity')?.text ?? '')}`).join(', ');
          note(`dial ${target}${verb.attrs.callerId ? ` from ${verb.attrs.callerId}` : ''}`);
          if (!verb.attrs.action) {
            record.outcome = 'bridged';
            return undefined;
          }
          // A transfer or the return to the agent: Twilio posts its outcome when the bridged leg
          // ends, which for this caller is the end of the call, unless the script says how it went.
          if (handsOn(verb.attrs.action)) {
            const outcome = typeof queue === 'function' ? await next(verb) : typeof queue[0] === 'object' && 'dial' in queue[0] ? queue.shift() : undefined;
            if (outcome === undefined || typeof outcome !== 'object' || !('dial' in outcome)) {
              record.outcome = 'bridged';
              return undefined;
            }
            note(`dial status: ${outcome.dial}`);
            return this.post(verb.attrs.action, { DialCallStatus: outcome.dial, DialCallSid: 'CA' + 'd'.repeat(32), DialCallDuration: outcome.dial === 'completed' ? '30' : '0' });
          }
          const input = await next(verb);
          if (input === undefined || typeof input !== 'object' || !('dial' in input)) throw new Error('a Dial needs a scripted dial status');
          note(`dial status: ${input.dial}`);
          return this.post(verb.attrs.action, { DialCallStatus: input.dial, DialCallSid: 'CA' + 'd'.repeat(32), DialCallDuration: '30' });
        }
        case 'Enqueue': {
          note(`enqueue ${verb.attrs.workflowSid ?? verb.text}`);
          // A scripted queue result (`{ queue: 'queue-full' }`) is posted to the Enqueue's action.
          const result = verb.attrs.action && Array.isArray(queue) && typeof queue[0] === 'object' && 'queue' in queue[0] ? queue.shift() : undefined;
          if (result && typeof result === 'object' && 'queue' in result) {
            note(`queue result: ${result.queue}`);
            return this.post(verb.attrs.action!, { QueueResult: result.queue, QueueTime: '5' });
          }
          record.outcome = 'enqueued';
          return undefined;
        }
        case 'Redirect':
          note('redirect');
          return this.post(verb.text);
        case 'Hangup':
          note('hangup');
          record.outcome = 'hangup';
          return undefined;
        default:
          throw new Error(`the simulator does not know <${verb.name}>`);
      }
    }
    record.outcome = 'document-ended';
    return undefined;
  }
}
