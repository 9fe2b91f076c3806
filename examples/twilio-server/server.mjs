/**
 * The example server: every example flow of examples/ behind the Twilio Voice webhook, on
 * node:http, ready for a real Twilio number (behind a tunnel) or for a client that signs its
 * own requests. It runs the built packages, as a deployment would (`npm run serve` builds
 * first). See README.md beside it.
 *
 * - The flow a call runs is chosen by the number called (`To`): the 555 lines of lines.mjs.
 * - The data actions are stand-ins answering from the script in lines.mjs (the last digit of
 *   what the caller keys in, or calls from, picks the path), so any path can be walked.
 * - Configured by environment only, every variable optional with a safe local default
 *   (config.mjs); the start-up banner prints each one (never a secret), the URLs to give Twilio,
 *   the numbers and the stand-in rules, and last a machine-readable `listening <url>` line.
 * - The log is pino JSON on stdout: the runtime's own records (redacted by the runtime), the
 *   webhook's problems and chosen runtime events, with routing facts only.
 * - SIGINT/SIGTERM: stop listening, let requests in flight finish, `runtime.shutdown()`
 *   (agents still reserved are released), close Redis, exit 0.
 */
import { createServer } from 'node:http';
import pino from 'pino';
import twilio from 'twilio';
import { createRuntime, ephemeralKeyRing, keyRing, pinoLogger } from '@callflow/flow-core';
import { createTwilioWebhook, DEFAULT_REST_TIMEOUT_MS, twilioRest } from '@callflow/adapters-twilio';
import { AGENT_ROUTE, agentSecureCall } from './agent-api.mjs';
import { ConfigError, describeConfig, readConfig, urlHost } from './config.mjs';
import { FLOW_BY_NUMBER, loadExampleFlows } from './lines.mjs';
import { STAND_IN_RULES, loggingRest, standInActions } from './stand-ins.mjs';

let config;
try {
  config = readConfig(process.env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`example server: ${error.message}`);
  process.exit(2);
}

// base: undefined keeps pid and host name out of every line: the log says what happened to a call.
// Synchronous writes: lines keep their order beside the banner, and none is lost at exit.
const log = pino({ level: config.logLevel, base: undefined }, pino.destination({ dest: 1, sync: true }));

// ---- flows ----

const flows = await loadExampleFlows().catch((error) => {
  console.error(`example server: ${error.message}`);
  process.exit(2);
});

// The 555 lines, and the numbers CALLFLOW_LINES adds (a real Twilio number) or maps anew.
const flowByNumber = { ...FLOW_BY_NUMBER, ...config.extraLines };
for (const [number, name] of Object.entries(config.extraLines)) {
  const flow = flows.find((f) => f.flow === name);
  if (!flow || flow.kind === 'secure') {
    console.error(`example server: CALLFLOW_LINES maps ${number} to '${name}', which is not one of the inbound flows (${flows.filter((f) => f.kind !== 'secure').map((f) => f.flow).join(', ')})`);
    process.exit(2);
  }
}

// ---- stores: this process's memory, or Redis shared by every worker ----

// Workers sharing Redis must share the key: a snapshot one of them sealed is opened by the next.
const secrets = config.key ? keyRing({ k1: config.key }, 'k1') : ephemeralKeyRing();
let redis;
let stores = {};
let calls;
if (config.redisUrl) {
  const { Redis } = await import('ioredis');
  const { RedisReservationStore, RedisSessionLock, RedisSessionStore } = await import('@callflow/flow-core/redis');
  const { RedisCallRegistry } = await import('@callflow/adapters-twilio/redis');
  // No offline queue: while Redis is down a call gets the fail-safe answer at once, not a wait.
  redis = new Redis(config.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2_000 });
  let up = false;
  redis.on('ready', () => {
    if (!up) log.info('redis: connected');
    up = true;
  });
  redis.on('error', (error) => {
    // Once per outage, not once per reconnection attempt.
    if (up) log.error({ code: error.code }, 'redis: unreachable; calls get the fail-safe answer until it is back');
    up = false;
  });
  try {
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no answer within 5 s')), 5_000);
      redis.once('ready', () => {
        clearTimeout(timer);
        resolve();
      });
      redis.once('error', (error) => {
        clearTimeout(timer);
        reject(new Error(error.code ?? error.message));
      });
    });
  } catch (error) {
    console.error(`example server: Redis at CALLFLOW_REDIS_URL did not answer (${error.message})`);
    redis.disconnect();
    process.exit(2);
  }
  const prefix = config.redisPrefix;
  stores = {
    store: new RedisSessionStore(redis, { prefix }),
    reservations: new RedisReservationStore(redis, { prefix }),
    sessionLock: new RedisSessionLock(redis, { prefix }),
    // End what an outage left behind (and free its agents) once Redis answers again.
    recoveryIntervalMs: 5_000,
  };
  calls = new RedisCallRegistry(redis, { secrets, prefix });
}

const runtime = createRuntime({ flows, actions: standInActions(log), logger: pinoLogger(log), secrets, ...stores });

// Routing facts only: events are redacted by the runtime, and these fields hold no call data.
runtime.events.on('session.started', (e) => log.info({ sessionId: e.sessionId, flow: e.flow, ...(e.parentSessionId ? { parentSessionId: e.parentSessionId } : {}) }, 'session started'));
runtime.events.on('session.ended', (e) => log.info({ sessionId: e.sessionId, flow: e.flow, end: e.end.type, ...(e.end.queue ? { queue: e.end.queue } : {}) }, 'session ended'));
runtime.events.on('reservation.reserved', (e) => log.info({ sessionId: e.sessionId, agentId: e.agentId }, 'agent reserved'));
runtime.events.on('reservation.released', (e) => log.info({ sessionId: e.sessionId, agentId: e.agentId, reason: e.reason }, 'agent released'));
runtime.events.on('action.failed', (e) => log.warn({ sessionId: e.sessionId, flow: e.flow, action: e.action, outcome: e.outcome }, 'data action failed'));
runtime.events.on('alert', (e) => log.warn({ sessionId: e.sessionId, flow: e.flow, code: e.code, count: e.count }, e.message));
runtime.events.on('error', (e) => log.error({ sessionId: e.sessionId, flow: e.flow, code: e.code }, e.message));

// ---- Twilio REST: the real client, or a port that only says what it would do ----

let restClient;
let rest = loggingRest(log);
if (config.twilioRest) {
  const { accountSid, apiKey, apiSecret, messagingFrom, messagingServiceSid } = config.twilioRest;
  // The agent's socket times out with the REST port's deadline, so none is left open behind it.
  restClient = twilio(apiKey, apiSecret, { accountSid, timeout: DEFAULT_REST_TIMEOUT_MS, keepAlive: true });
  const real = twilioRest({
    client: restClient,
    ...(messagingServiceSid ? { messagingServiceSid } : messagingFrom ? { messagingFrom } : {}),
  });
  rest = {
    async perform(effect, call) {
      await real.perform(effect, call);
      log.info({ rest: effect.type, callSid: call.callSid, sessionId: call.sessionId }, 'Twilio REST call made');
    },
  };
}

// ---- HTTP ----

let webhook;
let handleAgent;
const server = createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  if (path === AGENT_ROUTE || path.startsWith('/agent/')) {
    if (path !== AGENT_ROUTE || !handleAgent) return void res.writeHead(404, { 'content-type': 'application/json; charset=utf-8' }).end('{"error":"NOT_FOUND"}');
    return void handleAgent(req, res);
  }
  if (!webhook) return void res.writeHead(503).end();
  void webhook.handleNode(req, res);
});

await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(config.port, config.host, resolve);
}).catch((error) => {
  console.error(`example server: cannot listen on ${config.host}:${config.port} (${error.code ?? error.message})`);
  process.exit(2);
});
const boundPort = server.address().port;
const localUrl = `http://${urlHost(config.host)}:${boundPort}`;
config.publicBaseUrl ??= `${localUrl}/twilio`;

webhook = createTwilioWebhook({
  runtime,
  authToken: config.authToken,
  publicBaseUrl: config.publicBaseUrl,
  flowByNumber,
  rest,
  ...(calls ? { calls } : {}),
  ...(config.workflowSid ? { taskRouter: { workflowSid: config.workflowSid } } : {}),
  fallbackQueue: config.fallbackQueue,
  recording: config.recording,
  // The webhook's problems (codes and the runtime's redacted first lines: never a request
  // value; a refused secure flow at error) and refused requests (rate-limited) go to the log.
  logger: pinoLogger(log),
});
handleAgent = agentSecureCall({ token: config.agentApiToken, flows, webhook, runtime, calls: restClient, rest, log });

// ---- the banner ----

const out = [];
out.push('Callflow example server: the example flows behind Twilio Voice webhooks', '');
out.push('Configuration (environment variables; examples/twilio-server/README.md):');
for (const [name, value] of describeConfig(config, boundPort)) out.push(`  ${name.padEnd(24)} ${value}`);
out.push('', 'In Twilio, on each number below (Phone Numbers > Manage > Active numbers > Voice), or through its IncomingPhoneNumber resource:');
out.push(`  A call comes in (voiceUrl)               POST ${config.publicBaseUrl}/voice`);
out.push(`  Primary handler fails (voiceFallbackUrl) POST ${config.publicBaseUrl}/fallback`);
out.push(`  Call status changes (statusCallback)     POST ${config.publicBaseUrl}/status`);
out.push('', 'Numbers → flows (the called number, To, picks the flow):');
for (const [number, flow] of Object.entries(flowByNumber)) out.push(`  ${number}  ${flow}${flow === 'billing-line' ? ' (→ card-payment, a secure IVR payment)' : ''}`);
out.push(`  an agent's hand-over    agent-card-payment: POST ${localUrl}${AGENT_ROUTE} (${config.agentApiToken ? 'on' : 'off: set AGENT_API_TOKEN'})`);
out.push('', 'Secure flows: how the card is keyed in on Twilio, and the recording (docs/adapters-twilio.md, "Card entry and PCI"):');
const recordingNote = config.recording === 'none'
  ? 'calls declared not recorded (CALLFLOW_RECORDING=none)'
  : config.twilioRest
    ? 'calls may be recorded: paused through Twilio REST before the first digit is asked for'
    : 'calls may be recorded and Twilio REST is not configured: refused (the fail-safe answer)';
for (const flow of flows.filter((f) => f.kind === 'secure')) {
  const entry = cardEntryOf(flow);
  const how = entry === 'pay'
    ? 'pay: <Pay>, Twilio captures the card; no digit reaches this server'
    : `${entry}: <Gather>, the digits reach this server in Twilio's requests (PCI mode on the account)`;
  out.push(`  ${flow.flow.padEnd(19)} ${how}; ${recordingNote}`);
}
out.push('', 'Stand-in data actions (lines.mjs): the last digit of what the caller keys in, or calls from, picks the path:');
for (const [flow, rule] of STAND_IN_RULES) out.push(`  ${flow.padEnd(19)} ${rule}`);
out.push('', `listening ${localUrl}`);
process.stdout.write(`${out.join('\n')}\n`);

/** How a secure flow takes input on Twilio: `pay` (<Pay> only), `gather` (<Gather> only) or `gather and pay`. */
function cardEntryOf(flow) {
  const states = Object.values(flow.states);
  const pay = states.some((state) => 'pay' in state);
  const gather = states.some((state) => 'collect' in state || 'menu' in state || 'authenticate' in state);
  return pay && gather ? 'gather and pay' : pay ? 'pay' : 'gather';
}

// ---- stopping ----

let stopping = false;
async function stop(signal) {
  if (stopping) {
    // A second signal: the operator does not want to wait.
    process.exit(1);
  }
  stopping = true;
  log.info({ signal }, 'stopping: no new requests; requests in flight finish');
  await new Promise((resolve) => {
    server.close(resolve);
    server.closeIdleConnections();
  });
  await runtime.shutdown().catch((error) => log.error({ code: error?.code }, 'runtime shutdown failed'));
  if (redis) await redis.quit().catch(() => redis.disconnect());
  log.info('stopped');
  process.exit(0);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
