/**
 * The example server's configuration: environment variables, each optional with a safe local
 * default, checked before anything starts (a mistake stops the server with one line saying
 * which variable and why), and described for the start-up banner without printing a secret.
 */

/**
 * The auth token requests are signed with when TWILIO_AUTH_TOKEN is not set. It is published in
 * the README so that a client outside the repository can sign requests to a local server; it
 * is therefore no secret, and the server refuses it anywhere but on loopback.
 */
export const LOCAL_TEST_AUTH_TOKEN = 'callflow-local-test-token-not-a-secret';

/** A configuration mistake, reported as one line (the variable and what is wrong). */
export class ConfigError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ConfigError';
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

function isLoopback(host) {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

/** `host` as it goes into a URL (IPv6 literals in brackets). */
export function urlHost(host) {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** A Redis URL for printing: the password, if any, masked. */
function printableRedisUrl(text) {
  const url = new URL(text);
  if (url.password) url.password = '***';
  return url.toString();
}

/**
 * Read and check the configuration. `publicBaseUrl` is filled in once the port is bound when
 * PUBLIC_BASE_URL is not set (PORT=0 picks a free port).
 * @param {NodeJS.ProcessEnv} env
 */
export function readConfig(env) {
  const set = (name) => env[name] !== undefined && env[name] !== '';

  const port = set('PORT') ? Number(env.PORT) : 3000;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`PORT must be a port number, 0 to 65535 (0: any free port); got '${env.PORT}'`);
  const host = set('HOST') ? env.HOST : '127.0.0.1';

  let publicBaseUrl;
  if (set('PUBLIC_BASE_URL')) {
    let url;
    try {
      url = new URL(env.PUBLIC_BASE_URL);
    } catch {
      throw new ConfigError(`PUBLIC_BASE_URL must be an absolute http(s) URL, as configured in Twilio; got '${env.PUBLIC_BASE_URL}'`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ConfigError('PUBLIC_BASE_URL must be an http(s) URL');
    if (url.search || url.hash) throw new ConfigError('PUBLIC_BASE_URL must have no query string or fragment (Twilio signs the URL as written)');
    publicBaseUrl = url.toString().replace(/\/+$/, '');
  }

  const authTokenFromEnv = set('TWILIO_AUTH_TOKEN');
  const authToken = authTokenFromEnv ? env.TWILIO_AUTH_TOKEN : LOCAL_TEST_AUTH_TOKEN;
  // The local test token is published: anyone who can reach the server could sign with it.
  if (!authTokenFromEnv) {
    if (!isLoopback(host)) throw new ConfigError(`HOST ${host} is not a loopback address: set TWILIO_AUTH_TOKEN (the local test token is public)`);
    if (publicBaseUrl && !isLoopback(new URL(publicBaseUrl).hostname)) {
      throw new ConfigError('PUBLIC_BASE_URL is not on this machine: set TWILIO_AUTH_TOKEN to the account\'s auth token (the local test token is public, and Twilio signs with the real one)');
    }
  }

  const redisUrl = set('CALLFLOW_REDIS_URL') ? env.CALLFLOW_REDIS_URL : undefined;
  if (redisUrl !== undefined) {
    try {
      if (!/^rediss?:$/.test(new URL(redisUrl).protocol)) throw new Error('scheme');
    } catch {
      throw new ConfigError('CALLFLOW_REDIS_URL must be a redis:// or rediss:// URL');
    }
  }
  const redisPrefix = set('CALLFLOW_REDIS_PREFIX') ? env.CALLFLOW_REDIS_PREFIX : 'callflow';
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(redisPrefix)) throw new ConfigError('CALLFLOW_REDIS_PREFIX may hold letters, digits and _ . : - only');

  let key;
  if (set('CALLFLOW_KEY')) {
    key = Buffer.from(env.CALLFLOW_KEY, 'base64');
    if (key.length !== 32 || !/^[A-Za-z0-9+/]+={0,2}$/.test(env.CALLFLOW_KEY)) {
      throw new ConfigError('CALLFLOW_KEY must be 32 random bytes in base64 (node -e "console.log(crypto.randomBytes(32).toString(\'base64\'))")');
    }
  }

  const fallbackQueue = set('FALLBACK_QUEUE') ? env.FALLBACK_QUEUE.trim() : 'advisors';
  if (fallbackQueue === '') throw new ConfigError('FALLBACK_QUEUE is empty');

  const workflowSid = set('TASKROUTER_WORKFLOW_SID') ? env.TASKROUTER_WORKFLOW_SID : undefined;
  if (workflowSid !== undefined && !/^WW[0-9a-fA-F]{32}$/.test(workflowSid)) throw new ConfigError('TASKROUTER_WORKFLOW_SID must be a TaskRouter workflow sid (WW followed by 32 hex digits)');

  const restNames = ['TWILIO_ACCOUNT_SID', 'TWILIO_API_KEY', 'TWILIO_API_SECRET'];
  const restGiven = restNames.filter(set);
  if (restGiven.length > 0 && restGiven.length < restNames.length) {
    throw new ConfigError(`the real Twilio REST client needs all of ${restNames.join(', ')}; missing: ${restNames.filter((n) => !set(n)).join(', ')}`);
  }
  let twilioRest;
  if (restGiven.length === restNames.length) {
    if (!/^AC[0-9a-fA-F]{32}$/.test(env.TWILIO_ACCOUNT_SID)) throw new ConfigError('TWILIO_ACCOUNT_SID must be an account sid (AC followed by 32 hex digits)');
    if (!/^SK[0-9a-fA-F]{32}$/.test(env.TWILIO_API_KEY)) throw new ConfigError('TWILIO_API_KEY must be an API key sid (SK followed by 32 hex digits)');
    twilioRest = {
      accountSid: env.TWILIO_ACCOUNT_SID,
      apiKey: env.TWILIO_API_KEY,
      apiSecret: env.TWILIO_API_SECRET,
      messagingFrom: set('TWILIO_MESSAGING_FROM') ? env.TWILIO_MESSAGING_FROM : undefined,
      messagingServiceSid: set('TWILIO_MESSAGING_SERVICE_SID') ? env.TWILIO_MESSAGING_SERVICE_SID : undefined,
    };
    if (twilioRest.messagingFrom !== undefined && !/^\+[1-9]\d{6,14}$/.test(twilioRest.messagingFrom)) throw new ConfigError('TWILIO_MESSAGING_FROM must be an E.164 number (+1555…)');
    if (twilioRest.messagingServiceSid !== undefined && !/^MG[0-9a-fA-F]{32}$/.test(twilioRest.messagingServiceSid)) throw new ConfigError('TWILIO_MESSAGING_SERVICE_SID must be a messaging service sid (MG followed by 32 hex digits)');
  }

  // A real Twilio number is none of the 555 lines: it is mapped to a flow here.
  const extraLines = {};
  if (set('CALLFLOW_LINES')) {
    for (const pair of env.CALLFLOW_LINES.split(',').map((p) => p.trim()).filter(Boolean)) {
      const m = /^(\+[1-9]\d{6,14})=([a-z][a-z0-9-]*)$/.exec(pair);
      if (!m) throw new ConfigError(`CALLFLOW_LINES must be number=flow pairs separated by commas (+15555550100=billing-line); got '${pair}'`);
      extraLines[m[1]] = m[2];
    }
  }

  const agentApiToken = set('AGENT_API_TOKEN') ? env.AGENT_API_TOKEN : undefined;
  if (agentApiToken !== undefined && agentApiToken.length < 16) throw new ConfigError('AGENT_API_TOKEN must be at least 16 characters (a random string)');

  // Whether calls may be recorded: a secure flow then needs the recording paused through the
  // Twilio REST client, and is refused (the fail-safe answer) when it cannot be.
  const recording = set('CALLFLOW_RECORDING') ? env.CALLFLOW_RECORDING : 'pause';
  if (recording !== 'pause' && recording !== 'none') throw new ConfigError(`CALLFLOW_RECORDING must be 'none' (this deployment records no call) or 'pause' (calls may be recorded: pause it through Twilio REST); got '${env.CALLFLOW_RECORDING}'`);

  const logLevel = set('LOG_LEVEL') ? env.LOG_LEVEL : 'info';
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);

  return {
    port,
    host,
    publicBaseUrl,
    publicBaseUrlFromEnv: publicBaseUrl !== undefined,
    authToken,
    authTokenFromEnv,
    redisUrl,
    redisPrefix,
    key,
    fallbackQueue,
    fallbackQueueFromEnv: set('FALLBACK_QUEUE'),
    workflowSid,
    twilioRest,
    extraLines,
    agentApiToken,
    recording,
    recordingFromEnv: set('CALLFLOW_RECORDING'),
    logLevel,
    portFromEnv: set('PORT'),
    hostFromEnv: set('HOST'),
  };
}

/**
 * The configuration as the start-up banner shows it: one [name, value] pair a variable. Secrets
 * (the auth token, the API secret, the key, the agent token, a Redis password) are never shown,
 * only where they came from.
 */
export function describeConfig(config, boundPort) {
  const given = (fromEnv, value) => (fromEnv ? value : `${value} (default)`);
  return [
    ['PORT', config.port === 0 ? `0: any free port (bound ${boundPort})` : given(config.portFromEnv, String(config.port))],
    ['HOST', given(config.hostFromEnv, config.host)],
    ['PUBLIC_BASE_URL', config.publicBaseUrlFromEnv ? config.publicBaseUrl : `${config.publicBaseUrl} (default: http://HOST:PORT/twilio; signatures are computed over it)`],
    ['TWILIO_AUTH_TOKEN', config.authTokenFromEnv ? 'set, from the environment' : 'not set: the documented local test token (see the README; loopback only)'],
    ['CALLFLOW_REDIS_URL', config.redisUrl ? `${printableRedisUrl(config.redisUrl)} (sessions, reservations, session locks and the CallSid map in Redis, prefix ${config.redisPrefix})` : 'not set: sessions, reservations and the CallSid map in this process\'s memory'],
    ['CALLFLOW_KEY', config.key ? 'set, from the environment (key id k1)' : 'not set: an ephemeral key (sealed sessions do not outlive this process)'],
    ['FALLBACK_QUEUE', given(config.fallbackQueueFromEnv, config.fallbackQueue)],
    ['TASKROUTER_WORKFLOW_SID', config.workflowSid ?? 'not set: queue transfers are plain <Enqueue>queue</Enqueue>'],
    [
      'TWILIO_ACCOUNT_SID, TWILIO_API_KEY, TWILIO_API_SECRET',
      config.twilioRest
        ? `set: REST calls go to Twilio (account ${config.twilioRest.accountSid}); SMS from ${config.twilioRest.messagingServiceSid ?? config.twilioRest.messagingFrom ?? '(TWILIO_MESSAGING_FROM not set: SMS will be refused)'}`
        : 'not set: no REST call is made (an SMS is only logged; the recording cannot be paused)',
    ],
    ['CALLFLOW_LINES', Object.keys(config.extraLines).length > 0 ? Object.entries(config.extraLines).map(([n, f]) => `${n}=${f}`).join(', ') : 'not set: the 555 lines below only'],
    [
      'CALLFLOW_RECORDING',
      config.recording === 'none'
        ? 'none: declared that no call is recorded (secure flows run without a recording pause)'
        : `${config.recordingFromEnv ? 'pause' : 'not set (pause)'}: calls may be recorded; ${config.twilioRest ? 'secure flows pause the recording through Twilio REST first' : 'without the Twilio REST client the recording cannot be paused, so secure flows are refused (the fail-safe answer); set CALLFLOW_RECORDING=none if no call is recorded'}`,
    ],
    ['AGENT_API_TOKEN', config.agentApiToken ? 'set: POST /agent/secure-call needs Authorization: Bearer <AGENT_API_TOKEN>' : 'not set: POST /agent/secure-call is off (404)'],
    ['LOG_LEVEL', config.logLevel === 'info' ? 'info (default)' : config.logLevel],
  ];
}
