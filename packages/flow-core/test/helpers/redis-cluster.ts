/**
 * A real Redis Cluster on loopback for one test file: three masters (no replicas), each a
 * `redis-server` child process with its own port and a temporary directory for its cluster
 * configuration, joined by `redis-cli --cluster create`. The stores claim to work on a cluster
 * because their keys are hash-tagged; only a real cluster (MOVED redirections, keys spread over
 * masters, Lua scripts limited to one slot) shows it.
 *
 *   const cluster = await startRedisCluster();
 *   const client = new Redis.Cluster(cluster.nodes);
 *   ...
 *   await cluster.stop();                       // in afterAll: the processes and their files go
 *
 * It never skips: without `redis-server` or `redis-cli` it throws, saying so (`.ci/run`
 * installs them).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Redis } from 'ioredis';

/** One master of the cluster. */
export interface RedisClusterNode {
  host: string;
  port: number;
}

/** A running test cluster. */
export interface TestRedisCluster {
  /** The masters, as `new Redis.Cluster(nodes)` takes them. */
  nodes: RedisClusterNode[];
  /** Kill the processes and remove their directory (safe to call twice). */
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
/** Redis Cluster's bus port is the client port + 10000: both must be free. */
const BUS_OFFSET = 10_000;
const MASTERS = 3;
/** Each step's bound; the whole start-up normally takes one to two seconds. */
const STEP_MS = 8_000;

/** Start a three-master cluster; throws (after cleaning up) when it cannot. */
export async function startRedisCluster(): Promise<TestRedisCluster> {
  const server = onPath('redis-server');
  const cli = onPath('redis-cli');
  const missing = [server ? undefined : 'redis-server', cli ? undefined : 'redis-cli'].filter(Boolean);
  if (!server || !cli) {
    throw new Error(`the Redis Cluster tests need ${missing.join(' and ')} on PATH (.ci/run installs Debian's redis-server, which brings both)`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'callflow-cluster-'));
  const processes: ChildProcess[] = [];
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    process.off('exit', killNow);
    await Promise.all(processes.map(terminate));
    rmSync(dir, { recursive: true, force: true });
  };
  // A test run that dies without afterAll must not leave servers behind.
  const killNow = (): void => {
    for (const child of processes) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.on('exit', killNow);

  try {
    const ports = await freePorts(MASTERS);
    for (const port of ports) processes.push(startNode(server, port, dir));
    await Promise.all(ports.map((port, i) => untilAnswers(port, processes[i]!, dir)));
    await run(cli, ['--cluster', 'create', ...ports.map((p) => `${HOST}:${p}`), '--cluster-replicas', '0', '--cluster-yes']);
    await Promise.all(ports.map((port) => untilClusterOk(port)));
    return { nodes: ports.map((port) => ({ host: HOST, port })), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The executable's path when it is on PATH. */
function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/**
 * `count` distinct ports free on loopback whose bus port is free too. The probes stay open
 * until all are chosen, so no two are the same; a port taken between the probe and the
 * server's start makes that server exit, which `untilAnswers` reports.
 */
async function freePorts(count: number): Promise<number[]> {
  const held: Server[] = [];
  const ports: number[] = [];
  try {
    for (let tries = 0; ports.length < count; tries++) {
      if (tries > 50) throw new Error('Redis Cluster: found no free loopback port pairs (port and port + 10000)');
      const probe = await listenOn(0);
      held.push(probe.server);
      if (probe.port + BUS_OFFSET > 65_535) continue;
      const bus = await listenOn(probe.port + BUS_OFFSET).catch(() => undefined);
      if (!bus) continue;
      held.push(bus.server);
      ports.push(probe.port);
    }
    return ports;
  } finally {
    await Promise.all(held.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}

function listenOn(port: number): Promise<{ server: Server; port: number }> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, HOST, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') reject(new Error('Redis Cluster: no TCP address'));
      else resolve({ server, port: address.port });
    });
  });
}

function startNode(server: string, port: number, dir: string): ChildProcess {
  const child = spawn(
    server,
    [
      '--port', String(port),
      '--bind', HOST,
      '--cluster-enabled', 'yes',
      '--cluster-config-file', join(dir, `nodes-${port}.conf`),
      '--save', '',
      '--appendonly', 'no',
      '--dir', dir,
      '--logfile', join(dir, `redis-${port}.log`),
    ],
    { stdio: 'ignore' },
  );
  // A spawn failure is reported by untilAnswers (the process has exited); not an uncaught error.
  child.on('error', () => undefined);
  return child;
}

/** Wait until the node answers PING, or say why it did not (its log's last lines). */
async function untilAnswers(port: number, child: ChildProcess, dir: string): Promise<void> {
  const deadline = Date.now() + STEP_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`Redis Cluster: redis-server on port ${port} exited before it answered: ${logTail(dir, port)}`);
    }
    const client = new Redis({ host: HOST, port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: 500 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      if ((await client.ping()) === 'PONG') return;
    } catch {
      // not listening yet
    } finally {
      client.disconnect();
    }
    if (Date.now() > deadline) throw new Error(`Redis Cluster: redis-server on port ${port} did not answer within ${STEP_MS} ms: ${logTail(dir, port)}`);
    await pause(25);
  }
}

/** Wait until the node sees the whole cluster: every slot served, every master known. */
async function untilClusterOk(port: number): Promise<void> {
  const client = new Redis({ host: HOST, port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: 1_000 });
  client.on('error', () => undefined);
  const deadline = Date.now() + STEP_MS;
  let info = '';
  try {
    await client.connect();
    for (;;) {
      info = String(await client.cluster('INFO'));
      if (/cluster_state:ok/.test(info) && new RegExp(`cluster_known_nodes:${MASTERS}\\b`).test(info) && /cluster_slots_ok:16384\b/.test(info)) return;
      if (Date.now() > deadline) {
        const state = /cluster_state:\w+/.exec(info)?.[0] ?? 'no cluster state';
        throw new Error(`Redis Cluster: the node on port ${port} did not reach cluster_state:ok within ${STEP_MS} ms (${state})`);
      }
      await pause(25);
    }
  } finally {
    client.disconnect();
  }
}

/** Run a command; its output becomes the error's message when it fails. */
function run(file: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: STEP_MS }, (error, stdout, stderr) => {
      if (!error) return resolve();
      const why = error.killed ? `did not finish within ${STEP_MS} ms` : `failed (${error.message.split('\n')[0]})`;
      reject(new Error(`Redis Cluster: redis-cli --cluster create ${why}: ${`${stdout}\n${stderr}`.trim().split('\n').slice(-5).join(' | ')}`));
    });
  });
}

/** SIGTERM, then SIGKILL if the server has not gone after a second. */
function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 1_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

function logTail(dir: string, port: number): string {
  try {
    return readFileSync(join(dir, `redis-${port}.log`), 'utf8').trim().split('\n').slice(-3).join(' | ') || 'its log is empty';
  } catch {
    return 'no log';
  }
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
