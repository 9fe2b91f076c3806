/**
 * A local stand-in of the Twilio REST API, on 127.0.0.1 (node:http, ephemeral port), for the
 * adapter's REST calls: the call's Recording (pause/resume), Messages (SMS) and TaskRouter
 * Workers (activity). It records every request and answers in Twilio's documented shapes
 * (resource JSON; errors as `{ code, message, more_info, status }`), and can be told to fail
 * or to hang for fault tests. `standInClient` builds a real `twilio` client whose HTTP client
 * sends every Twilio host here — and refuses any request that would leave 127.0.0.1.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import twilio from 'twilio';
import type RequestClient from 'twilio/lib/base/RequestClient.js';
type Response<TData> = Awaited<ReturnType<typeof RequestClient.prototype.request<TData>>>;

type RequestOptions<TData> = RequestClient.RequestOptions<TData>;

/** One request as the stand-in received it. */
export interface StandInRequest {
  method: string;
  /** Path and query, as sent (e.g. `/2010-04-01/Accounts/AC…/Messages.json`). */
  path: string;
  /** The Twilio host the client meant (`api.twilio.com`, `taskrouter.twilio.com`). */
  host: string | undefined;
  /** Form parameters (the last value of a repeated key). */
  params: Record<string, string>;
  /** The basic-auth user name (the account sid or API key sid). */
  account: string | undefined;
}

/** A scripted answer: a Twilio error, or no answer at all. */
export type Fault = { error: { status: number; code: number; message: string } } | 'hang';

interface ScriptedFault {
  match: RegExp;
  fault: Fault;
  times: number;
}

/** An activity of the stand-in's TaskRouter workspace. */
export interface StandInActivity {
  name: string;
  available: boolean;
}

const sid = (prefix: string) => prefix + randomBytes(16).toString('hex');
/** RFC 2822 dates, as the 2010-04-01 API writes them. */
const rfc2822 = (d: Date) => d.toUTCString().replace('GMT', '+0000');

export class TwilioStandIn {
  /** Every request received, in order. */
  readonly requests: StandInRequest[] = [];
  /** TaskRouter workers seen: worker sid → its current activity sid. */
  readonly workers = new Map<string, string>();
  /** Calls' recordings: CallSid → status of the current recording. */
  readonly recordings = new Map<string, { sid: string; status: string }>();
  readonly activities = new Map<string, StandInActivity>();
  private faults: ScriptedFault[] = [];
  private readonly hanging = new Set<ServerResponse>();
  private server: Server | undefined;
  url = '';

  /** Start listening on 127.0.0.1 (an ephemeral port). */
  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.serve(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** Answer requests whose path matches with a Twilio error (`times` times, default every time). */
  failWith(error: { status: number; code: number; message: string }, options: { path?: RegExp; times?: number } = {}): void {
    this.faults.push({ match: options.path ?? /.*/, fault: { error }, times: options.times ?? Infinity });
  }

  /** Never answer requests whose path matches (`times` times, default every time). */
  hang(options: { path?: RegExp; times?: number } = {}): void {
    this.faults.push({ match: options.path ?? /.*/, fault: 'hang', times: options.times ?? Infinity });
  }

  /** Answer normally again. */
  heal(): void {
    this.faults = [];
  }

  /** Requests whose path matches. */
  requestsTo(path: RegExp): StandInRequest[] {
    return this.requests.filter((r) => path.test(r.path));
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const params = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
    const auth = req.headers.authorization;
    const account = auth?.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':')[0] : undefined;
    const host = req.headers['x-twilio-host'];
    const path = req.url ?? '/';
    this.requests.push({ method: req.method ?? 'GET', path, host: Array.isArray(host) ? host[0] : host, params, account });

    const scripted = this.faults.find((f) => f.times > 0 && f.match.test(path));
    if (scripted) {
      scripted.times--;
      if (scripted.fault === 'hang') {
        this.hanging.add(res);
        return;
      }
      return this.error(res, scripted.fault.error.status, scripted.fault.error.code, scripted.fault.error.message);
    }
    if (!account) return this.error(res, 401, 20003, 'Authenticate');
    this.route(req.method ?? 'GET', path.split('?')[0] ?? '', params, account, res);
  }

  private route(method: string, path: string, params: Record<string, string>, account: string, res: ServerResponse): void {
    let m: RegExpExecArray | null;
    if (method === 'POST' && (m = /^\/2010-04-01\/Accounts\/(AC\w+)\/Calls\/(CA\w+)\/Recordings\/([\w.]+)\.json$/.exec(path))) {
      return this.updateRecording(m[1]!, m[2]!, m[3]!, params, account, res);
    }
    if (method === 'POST' && (m = /^\/2010-04-01\/Accounts\/(AC\w+)\/Messages\.json$/.exec(path))) {
      return this.createMessage(m[1]!, params, account, res);
    }
    if (method === 'POST' && (m = /^\/v1\/Workspaces\/(WS\w+)\/Workers\/(WK\w+)$/.exec(path))) {
      return this.updateWorker(m[1]!, m[2]!, params, res);
    }
    this.error(res, 404, 20404, `The requested resource ${path} was not found`);
  }

  private updateRecording(accountSid: string, callSid: string, recordingSid: string, params: Record<string, string>, account: string, res: ServerResponse): void {
    if (accountSid !== account) return this.error(res, 401, 20003, 'Authenticate');
    const status = params.Status;
    if (status !== 'paused' && status !== 'in-progress' && status !== 'stopped') {
      return this.error(res, 400, 21220, 'Invalid Status for a Recording');
    }
    if (params.PauseBehavior !== undefined && params.PauseBehavior !== 'skip' && params.PauseBehavior !== 'silence') {
      return this.error(res, 400, 20001, 'Invalid PauseBehavior');
    }
    const current = this.recordings.get(callSid) ?? { sid: sid('RE'), status: 'in-progress' };
    if (recordingSid !== 'Twilio.CURRENT' && recordingSid !== current.sid) {
      return this.error(res, 404, 20404, `The requested resource /2010-04-01/Accounts/${accountSid}/Calls/${callSid}/Recordings/${recordingSid}.json was not found`);
    }
    current.status = status;
    this.recordings.set(callSid, current);
    const now = rfc2822(new Date());
    this.json(res, 200, {
      account_sid: accountSid,
      api_version: '2010-04-01',
      call_sid: callSid,
      conference_sid: null,
      date_created: now,
      date_updated: now,
      start_time: now,
      duration: null,
      sid: current.sid,
      price: null,
      price_unit: null,
      status,
      channels: 1,
      source: 'StartCallRecordingAPI',
      error_code: null,
      encryption_details: null,
      track: 'both',
      uri: `/2010-04-01/Accounts/${accountSid}/Calls/${callSid}/Recordings/${current.sid}.json`,
    });
  }

  private createMessage(accountSid: string, params: Record<string, string>, account: string, res: ServerResponse): void {
    if (accountSid !== account) return this.error(res, 401, 20003, 'Authenticate');
    const { To: to, From: from, MessagingServiceSid: service, Body: body } = params;
    if (!to) return this.error(res, 400, 21604, "A 'To' phone number is required.");
    // Twilio's own message echoes the number: the adapter must not pass it on.
    if (!/^\+[1-9]\d{6,14}$/.test(to)) return this.error(res, 400, 21211, `The 'To' number ${to} is not a valid phone number.`);
    if (!from && !service) return this.error(res, 400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message.");
    if (!body) return this.error(res, 400, 21602, 'Message body is required.');
    const messageSid = sid('SM');
    const now = rfc2822(new Date());
    this.json(res, 201, {
      account_sid: accountSid,
      api_version: '2010-04-01',
      body,
      date_created: now,
      date_sent: null,
      date_updated: now,
      direction: 'outbound-api',
      error_code: null,
      error_message: null,
      from: from ?? null,
      messaging_service_sid: service ?? null,
      num_media: '0',
      num_segments: service ? '0' : '1',
      price: null,
      price_unit: 'USD',
      sid: messageSid,
      status: service ? 'accepted' : 'queued',
      subresource_uris: { media: `/2010-04-01/Accounts/${accountSid}/Messages/${messageSid}/Media.json` },
      to,
      uri: `/2010-04-01/Accounts/${accountSid}/Messages/${messageSid}.json`,
    });
  }

  private updateWorker(workspaceSid: string, workerSid: string, params: Record<string, string>, res: ServerResponse): void {
    const activitySid = params.ActivitySid;
    if (activitySid !== undefined && !this.activities.has(activitySid)) {
      return this.error(res, 400, 20001, `Activity ${activitySid} does not exist in this workspace`);
    }
    if (activitySid !== undefined) this.workers.set(workerSid, activitySid);
    const current = this.workers.get(workerSid);
    const activity = current !== undefined ? this.activities.get(current) : undefined;
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const url = `https://taskrouter.twilio.com/v1/Workspaces/${workspaceSid}/Workers/${workerSid}`;
    this.json(res, 200, {
      account_sid: this.requests.at(-1)?.account ?? null,
      activity_name: activity?.name ?? null,
      activity_sid: current ?? null,
      attributes: '{}',
      available: activity?.available ?? false,
      date_created: now,
      date_status_changed: now,
      date_updated: now,
      friendly_name: workerSid,
      sid: workerSid,
      workspace_sid: workspaceSid,
      url,
      links: {
        channels: `${url}/Channels`,
        reservations: `${url}/Reservations`,
        activity: `https://taskrouter.twilio.com/v1/Workspaces/${workspaceSid}/Activities/${current}`,
        workspace: `https://taskrouter.twilio.com/v1/Workspaces/${workspaceSid}`,
      },
    });
  }

  private error(res: ServerResponse, status: number, code: number, message: string): void {
    this.json(res, status, { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status });
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    res.statusCode = status;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(body));
  }
}

/** Start a stand-in on 127.0.0.1. */
export async function startTwilioStandIn(): Promise<TwilioStandIn> {
  return new TwilioStandIn().start();
}

/** A `twilio` HTTP client that sends every Twilio host to the stand-in, and nothing anywhere else. */
class StandInRequestClient extends twilio.RequestClient {
  /** Every URI actually requested (after rewriting). */
  readonly sent: string[] = [];
  constructor(
    private readonly target: string,
    timeoutMs: number,
  ) {
    super({ timeout: timeoutMs });
  }
  override request<TData>(opts: RequestOptions<TData>): Promise<Response<TData>> {
    const meant = new URL(opts.uri);
    if (meant.protocol !== 'https:' || !/(^|\.)twilio\.com$/.test(meant.hostname)) {
      return Promise.reject(new Error(`refusing a request to ${meant.origin}: only Twilio hosts are redirected to the stand-in`));
    }
    const uri = `${this.target}${meant.pathname}${meant.search}`;
    if (!uri.startsWith('http://127.0.0.1:')) return Promise.reject(new Error('the stand-in must listen on 127.0.0.1'));
    this.sent.push(uri);
    return super.request({ ...opts, uri, headers: { ...opts.headers, 'x-twilio-host': meant.hostname } });
  }
}

export const ACCOUNT_SID = 'AC' + '0'.repeat(31) + '1';
export const AUTH_TOKEN = 'standin-auth-token';

/**
 * A real `twilio(accountSid, authToken, { httpClient })` client pointed at the stand-in.
 * `sent` lists every URI it requested (all of them on 127.0.0.1).
 */
export function standInClient(standIn: TwilioStandIn, options: { accountSid?: string; timeoutMs?: number } = {}) {
  const httpClient = new StandInRequestClient(standIn.url, options.timeoutMs ?? 10_000);
  const client = twilio(options.accountSid ?? ACCOUNT_SID, AUTH_TOKEN, { httpClient });
  return { client, sent: httpClient.sent };
}
