/**
 * A cluster on loopback: webhook worker processes (worker.mjs) behind the round-robin proxy,
 * sharing one real Redis through a RedisCutter (so a test can make Redis unreachable for the
 * workers alone). Used by cluster.test.ts and by the load script. The parent makes the run's
 * sealing key (32 random bytes, never written anywhere) and its key prefix.
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { RoundRobinProxy } from './proxy.mjs';
import { RedisCutter } from './redis-cutter.mjs';

const WORKER = join(import.meta.dirname, 'worker.mjs');

export class Cluster {
  /**
   * @param {import('./cluster.d.mts').ClusterOptions} options
   */
  static async start(options) {
    const cluster = new Cluster(options);
    try {
      await cluster.cutter.start();
      await cluster.proxy.start();
      const count = options.workers ?? 2;
      await Promise.all(Array.from({ length: count }, (_, i) => cluster.startWorker(`w${i + 1}`)));
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  constructor(options) {
    this.options = options;
    this.prefix = options.prefix;
    this.authToken = options.authToken;
    /** The run's sealing key: base64 of 32 random bytes, handed to the workers by environment only. */
    this.key = randomBytes(32).toString('base64');
    this.cutter = new RedisCutter(options.redis);
    this.proxy = new RoundRobinProxy({ maxSocketsPerTarget: options.maxSocketsPerTarget ?? 64, record: options.record ?? false });
    /** @type {Map<string, { child: import('node:child_process').ChildProcess; port: number; exited: Promise<number | null> }>} */
    this.workers = new Map();
    /** Every report of every worker, in arrival order (report mode `events`). */
    this.messages = [];
    /** One-time codes the workers "texted", by CallSid. */
    this.codes = new Map();
    this.waiters = [];
    this.asks = new Map();
    this.nextAsk = 1;
  }

  /** The URL Twilio would be configured with: the proxy's, so the workers check signatures against it. */
  get publicBaseUrl() {
    return `${this.proxy.url}/twilio`;
  }

  /** Start one worker and put it behind the proxy. */
  async startWorker(id) {
    const child = fork(WORKER, [], {
      env: {
        ...process.env,
        CLUSTER_ID: id,
        CLUSTER_REDIS_URL: this.cutter.url,
        CLUSTER_PREFIX: this.prefix,
        CLUSTER_KEY: this.key,
        CLUSTER_AUTH_TOKEN: this.authToken,
        CLUSTER_PUBLIC_URL: this.publicBaseUrl,
        CLUSTER_REPORT: this.options.report ?? 'events',
        CLUSTER_ACTION_MS: String(this.options.actionMs ?? 0),
        CLUSTER_RECOVERY_MS: String(this.options.recoveryMs ?? 250),
        ...(this.options.leaseMs !== undefined ? { CLUSTER_LEASE_MS: String(this.options.leaseMs) } : {}),
        ...(this.options.lockTtlMs !== undefined ? { CLUSTER_LOCK_TTL_MS: String(this.options.lockTtlMs) } : {}),
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    const ready = new Promise((resolve, reject) => {
      child.once('error', reject);
      exited.then((code) => reject(new Error(`worker ${id} exited (code ${code}) before it was ready`)));
      child.on('message', (m) => {
        if (m?.type === 'ready') resolve(m);
        else this.receive(m);
      });
    });
    const { port } = await ready;
    this.workers.set(id, { child, port, exited });
    this.proxy.addTarget(id, port);
    return id;
  }

  receive(m) {
    if (!m || typeof m !== 'object') return;
    if (m.type === 'reply') {
      const ask = this.asks.get(m.id);
      this.asks.delete(m.id);
      if (!ask) return;
      if (m.error) ask.reject(Object.assign(new Error(m.error.message), { code: m.error.code }));
      else ask.resolve(m.reply);
      return;
    }
    if (m.type === 'sms') {
      this.codes.set(m.callSid, m.code);
    }
    if ((this.options.report ?? 'events') === 'events' && m.type !== 'sms') this.messages.push(m);
    for (const waiter of [...this.waiters]) {
      if (waiter.match(m)) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        clearTimeout(waiter.timer);
        waiter.resolve(m);
      }
    }
  }

  /**
   * The first report (already received or still to come) that matches; rejects, saying what it
   * waited for, when none came within `withinMs` (a bound on the wait, not a timing assertion).
   */
  waitFor(what, match, withinMs = 10_000) {
    const seen = this.messages.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = { match, resolve, timer: undefined };
      waiter.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`no worker reported ${what} within ${withinMs} ms`));
      }, withinMs);
      this.waiters.push(waiter);
    });
  }

  /** The one-time code texted on a call (waits for the worker's report, which may trail its HTTP answer). */
  async codeFor(callSid, withinMs = 5_000) {
    const known = this.codes.get(callSid);
    if (known !== undefined) {
      this.codes.delete(callSid);
      return known;
    }
    const m = await this.waitFor(`an SMS for ${callSid}`, (x) => x.type === 'sms' && x.callSid === callSid, withinMs);
    this.codes.delete(callSid);
    return m.code;
  }

  /** Ask a worker over IPC: `startSecureCall` (options), `stats`, `sweep`, `hold` (action) / `unhold`. */
  ask(workerId, cmd, extra = {}) {
    const worker = this.workers.get(workerId);
    if (!worker) return Promise.reject(new Error(`no worker ${workerId}`));
    const id = this.nextAsk++;
    return new Promise((resolve, reject) => {
      this.asks.set(id, { resolve, reject });
      worker.child.send({ id, cmd, ...extra });
    });
  }

  /** The ids of the workers still running. */
  liveWorkers() {
    return [...this.workers.keys()];
  }

  /**
   * Kill a worker (SIGKILL by default: no clean-up at all). It stays in the proxy's list: the
   * proxy has to find out by itself that it is gone, as a load balancer would.
   */
  async kill(workerId, signal = 'SIGKILL') {
    const worker = this.workers.get(workerId);
    if (!worker) return;
    worker.child.kill(signal);
    await worker.exited;
    this.workers.delete(workerId);
  }

  /** SIGTERM every worker (each shuts its runtime down), then close the proxy and the cutter. */
  async stop() {
    await Promise.all(
      [...this.workers.keys()].map(async (id) => {
        const worker = this.workers.get(id);
        worker.child.kill('SIGTERM');
        const timer = setTimeout(() => worker.child.kill('SIGKILL'), 5_000);
        await worker.exited;
        clearTimeout(timer);
        this.workers.delete(id);
      }),
    );
    for (const waiter of this.waiters) clearTimeout(waiter.timer);
    this.waiters.length = 0;
    await this.proxy.close().catch(() => undefined);
    await this.cutter.close().catch(() => undefined);
  }
}
