/**
 * A small round-robin HTTP reverse proxy on loopback, standing where a load balancer stands
 * in front of stateless webhook workers: each request goes to the next live worker in turn.
 * The request body is read first (webhooks are small forms), so a request a worker could not
 * take — connection refused, or reset before any answer (a worker killed between or during
 * requests) — is sent to the next worker instead. That is safe for Twilio webhooks only because
 * they are idempotent: the turn number in the URL makes a repeat a replay. Test-controlled:
 * `pin` sends everything to one worker, `alternate` restores strict turns, and `record` keeps
 * which worker answered which request. Connections to the workers come from keep-alive agents
 * with a bounded socket pool each. Plain JavaScript so that the load script shares it.
 */
import { Agent, createServer, request as httpRequest } from 'node:http';
import { listenOnLoopback } from './listen.mjs';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']);
const MAX_BODY_BYTES = 1024 * 1024;

export class RoundRobinProxy {
  /**
   * @param {{ maxSocketsPerTarget?: number; record?: boolean; retryDownMs?: number }} [options]
   */
  constructor(options = {}) {
    this.maxSocketsPerTarget = options.maxSocketsPerTarget ?? 64;
    this.record = options.record ?? false;
    this.retryDownMs = options.retryDownMs ?? 1_000;
    /** @type {Array<{ id: string; port: number; agent: Agent; downUntil: number; served: number }>} */
    this.targets = [];
    /** @type {Array<{ method: string; path: string; target: string | undefined; callSid: string | undefined; status: number; attempts: number }>} */
    this.records = [];
    /** @type {string | undefined} */
    this.pinned = undefined;
    this.next = 0;
    /** Requests sent on to another worker after one failed. */
    this.retried = 0;
    /** Requests no worker could take (answered 502). */
    this.failed = 0;
    this.server = createServer((req, res) => void this.forward(req, res));
    // Callers keep their connections: the load test's bounded pool must not be closed under it.
    this.server.keepAliveTimeout = 60_000;
    this.port = 0;
  }

  /** Listen on 127.0.0.1 (an ephemeral port); resolves with the port. */
  async start() {
    this.port = await listenOnLoopback(this.server);
    return this.port;
  }

  /** The proxy's origin, e.g. `http://127.0.0.1:41234`. */
  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Add a worker listening on 127.0.0.1:port. */
  addTarget(id, port) {
    this.removeTarget(id);
    const agent = new Agent({ keepAlive: true, maxSockets: this.maxSocketsPerTarget, maxFreeSockets: this.maxSocketsPerTarget });
    this.targets.push({ id, port, agent, downUntil: 0, served: 0 });
  }

  /** Forget a worker (its pooled connections are closed). */
  removeTarget(id) {
    const at = this.targets.findIndex((t) => t.id === id);
    if (at < 0) return;
    this.targets[at].agent.destroy();
    this.targets.splice(at, 1);
  }

  /** Send every request to this worker (while it takes them; others only when it cannot). */
  pin(id) {
    this.pinned = id;
  }

  /** Back to strict round robin over the live workers. */
  alternate() {
    this.pinned = undefined;
  }

  /** How many requests each worker answered. */
  servedBy() {
    return Object.fromEntries(this.targets.map((t) => [t.id, t.served]));
  }

  async close() {
    for (const t of this.targets) t.agent.destroy();
    this.server.closeAllConnections?.();
    await new Promise((resolve) => this.server.close(() => resolve(undefined)));
  }

  /** The workers to try for one request, in order: the pinned one or the next in turn first, live ones before ones seen down. */
  order() {
    const n = this.targets.length;
    if (n === 0) return [];
    let start = this.next++ % n;
    if (this.pinned !== undefined) {
      const at = this.targets.findIndex((t) => t.id === this.pinned);
      if (at >= 0) start = at;
    }
    const rotated = [...this.targets.slice(start), ...this.targets.slice(0, start)];
    const now = Date.now();
    return [...rotated.filter((t) => t.downUntil <= now), ...rotated.filter((t) => t.downUntil > now)];
  }

  /** @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res */
  async forward(req, res) {
    let body;
    try {
      body = await readBody(req);
    } catch {
      res.writeHead(413, { 'content-type': 'text/plain' }).end('Payload Too Large');
      return;
    }
    const headers = {};
    for (const [name, value] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(name)) headers[name] = value;
    headers['content-length'] = String(body.length);
    headers['x-forwarded-for'] = req.socket.remoteAddress ?? '127.0.0.1';
    let attempts = 0;
    for (const target of this.order()) {
      attempts++;
      try {
        const answer = await send(target, req.method ?? 'GET', req.url ?? '/', headers, body);
        target.served++;
        if (attempts > 1) this.retried++;
        this.note(req, body, target.id, answer.status, attempts);
        res.writeHead(answer.status, { ...answer.headers, 'x-cluster-worker': target.id });
        res.end(answer.body);
        return;
      } catch (error) {
        // Refused: the worker is gone; skip it for a while. Reset: try the next one anyway.
        if (error?.code === 'ECONNREFUSED') target.downUntil = Date.now() + this.retryDownMs;
      }
    }
    this.failed++;
    this.note(req, body, undefined, 502, attempts);
    res.writeHead(502, { 'content-type': 'text/plain' }).end('Bad Gateway: no worker answered');
  }

  note(req, body, target, status, attempts) {
    if (!this.record) return;
    const callSid = new URLSearchParams(body.toString('utf8')).get('CallSid') ?? undefined;
    this.records.push({ method: req.method ?? 'GET', path: req.url ?? '/', target, callSid, status, attempts });
  }
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        req.destroy();
        reject(new Error('body too large'));
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** One try at one worker: the whole answer, or a rejection when it could not be had. */
function send(target, method, path, headers, body) {
  return new Promise((resolve, reject) => {
    const out = httpRequest({ host: '127.0.0.1', port: target.port, method, path, headers, agent: target.agent }, (answer) => {
      const chunks = [];
      answer.on('data', (c) => chunks.push(c));
      answer.on('end', () => {
        const kept = {};
        for (const [name, value] of Object.entries(answer.headers)) if (!HOP_BY_HOP.has(name) && name !== 'content-length') kept[name] = value;
        resolve({ status: answer.statusCode ?? 502, headers: kept, body: Buffer.concat(chunks) });
      });
      // The worker died while answering: the request may have run; the next worker replays it.
      answer.on('error', reject);
      answer.on('aborted', () => reject(Object.assign(new Error('answer aborted'), { code: 'ECONNRESET' })));
    });
    out.on('error', reject);
    out.end(body);
  });
}
