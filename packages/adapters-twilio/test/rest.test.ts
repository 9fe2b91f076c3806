import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { twilioRest, TwilioRestError, TwilioRestTimeoutError, type TwilioRestPort } from '../src/index.js';
import { ACCOUNT_SID, standInClient, startTwilioStandIn, type TwilioStandIn } from './twilio-standin.js';

const CALL = { callSid: 'CA' + 'a'.repeat(32), sessionId: 'session-1' };
const CODE = '493817';
const SMS = { type: 'sendSms' as const, to: '+15555550142', body: `Your Example Bank code is ${CODE}.`, code: CODE, secure: true as const };
const RECORDING_PATH = new RegExp(`^/2010-04-01/Accounts/${ACCOUNT_SID}/Calls/${CALL.callSid}/Recordings/Twilio\\.CURRENT\\.json$`);
const MESSAGES_PATH = new RegExp(`^/2010-04-01/Accounts/${ACCOUNT_SID}/Messages\\.json$`);

let standIn: TwilioStandIn;
let sent: string[];
let rest: TwilioRestPort;

beforeEach(async () => {
  standIn = await startTwilioStandIn();
  const built = standInClient(standIn);
  sent = built.sent;
  rest = twilioRest({ client: built.client, messagingFrom: '+15555550100', timeoutMs: 300 });
});
afterEach(async () => {
  // Nothing the client asked for went anywhere but the stand-in on loopback.
  for (const uri of sent) expect(uri.startsWith(`${standIn.url}/`)).toBe(true);
  await standIn.close();
});

/** Whatever the adapter hands back when it fails, as text (message, fields, JSON). */
const everything = (error: unknown) => `${String(error)} ${JSON.stringify(error)} ${(error as Error).stack ?? ''}`;

describe('recording pause and resume through the real twilio client', () => {
  it('pauses the current recording with PauseBehavior=skip, then resumes it', async () => {
    await rest.perform({ type: 'pauseRecording' }, CALL);
    await rest.perform({ type: 'resumeRecording' }, CALL);

    const [pause, resume] = standIn.requests;
    expect(standIn.requests).toHaveLength(2);
    expect(pause).toMatchObject({ method: 'POST', host: 'api.twilio.com', account: ACCOUNT_SID, params: { Status: 'paused', PauseBehavior: 'skip' } });
    expect(pause!.path).toMatch(RECORDING_PATH);
    expect(resume).toMatchObject({ method: 'POST', params: { Status: 'in-progress' } });
    expect(resume!.path).toMatch(RECORDING_PATH);
    expect(resume!.params).not.toHaveProperty('PauseBehavior');
    expect(standIn.recordings.get(CALL.callSid)?.status).toBe('in-progress');
  });

  it('keeps the length of the recording with pauseBehavior silence', async () => {
    const { client } = standInClient(standIn);
    await twilioRest({ client, pauseBehavior: 'silence' }).perform({ type: 'pauseRecording' }, CALL);
    expect(standIn.requests[0]!.params).toEqual({ Status: 'paused', PauseBehavior: 'silence' });
    expect(standIn.recordings.get(CALL.callSid)?.status).toBe('paused');
  });
});

describe('sendSms through the real twilio client', () => {
  it('sends the message with the code to Twilio and returns nothing of it', async () => {
    const result = await rest.perform(SMS, CALL);
    expect(result).toBeUndefined();
    const [request] = standIn.requestsTo(MESSAGES_PATH);
    expect(request).toMatchObject({ method: 'POST', host: 'api.twilio.com', account: ACCOUNT_SID });
    expect(request!.params).toEqual({ To: '+15555550142', From: '+15555550100', Body: SMS.body });
  });

  it('sends through a messaging service when one is configured', async () => {
    const { client } = standInClient(standIn);
    const service = 'MG' + '1'.repeat(32);
    await twilioRest({ client, messagingServiceSid: service, messagingFrom: '+15555550100' }).perform(SMS, CALL);
    expect(standIn.requests[0]!.params).toEqual({ To: '+15555550142', MessagingServiceSid: service, Body: SMS.body });
  });

  it('maps a Twilio error to a typed failure without Twilio text, the number or the code', async () => {
    const error = await rest.perform({ ...SMS, to: '5550142' }, CALL).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(TwilioRestError);
    expect(error).toMatchObject({ code: 'TWILIO_REST_FAILED', operation: 'sendSms', status: 400, twilioCode: 21211, moreInfo: 'https://www.twilio.com/docs/errors/21211', retryable: false });
    const text = everything(error);
    // Twilio's own message echoes the number ("The 'To' number 5550142 is not a valid phone number.").
    expect((text).includes('5550142'), 'must not be there').toBe(false);
    expect((text).includes('not a valid phone number'), 'must not be there').toBe(false);
    expect((text).includes(CODE), 'must not be there').toBe(false);
  });
});

describe('REST failures', () => {
  it('reports a 404 for a call with no recording as a typed failure', async () => {
    standIn.failWith({ status: 404, code: 20404, message: `The requested resource /Calls/${CALL.callSid}/Recordings was not found` }, { path: RECORDING_PATH });
    const error = await rest.perform({ type: 'pauseRecording' }, CALL).then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ code: 'TWILIO_REST_FAILED', operation: 'pauseRecording', status: 404, twilioCode: 20404 });
    expect((error as Error).message).toBe('Twilio REST pauseRecording failed: HTTP 404, Twilio error 20404 (https://www.twilio.com/docs/errors/20404)');
    expect((everything(error)).includes(CALL.callSid), 'must not be there').toBe(false);
  });

  it('marks throttling and server errors as retryable', async () => {
    standIn.failWith({ status: 429, code: 20429, message: 'Too Many Requests' }, { times: 1 });
    standIn.failWith({ status: 503, code: 20503, message: 'Service Unavailable' }, { times: 1 });
    const first = await rest.perform({ type: 'pauseRecording' }, CALL).catch((e: unknown) => e);
    const second = await rest.perform({ type: 'pauseRecording' }, CALL).catch((e: unknown) => e);
    expect(first).toMatchObject({ status: 429, twilioCode: 20429, retryable: true });
    expect(second).toMatchObject({ status: 503, twilioCode: 20503, retryable: true });
    await expect(rest.perform({ type: 'pauseRecording' }, CALL)).resolves.toBeUndefined();
  });

  it('gives up on a Twilio that does not answer within timeoutMs', async () => {
    standIn.hang({ path: MESSAGES_PATH });
    const started = Date.now();
    const error = await rest.perform(SMS, CALL).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(TwilioRestTimeoutError);
    expect(error).toMatchObject({ code: 'TWILIO_REST_TIMEOUT', operation: 'sendSms', timeoutMs: 300 });
    expect(Date.now() - started).toBeLessThan(2000);
    expect((everything(error)).includes(CODE), 'must not be there').toBe(false);
    // The request did reach Twilio (it may yet send the message): the body went, nothing came back.
    expect(standIn.requestsTo(MESSAGES_PATH)[0]!.params.Body).toBe(SMS.body);
  });

  it('reports a Twilio it cannot reach by the transport error class only', async () => {
    const { client } = standInClient(standIn);
    await standIn.close();
    const error = await twilioRest({ client, messagingFrom: '+15555550100' }).perform(SMS, CALL).then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ code: 'TWILIO_REST_FAILED', operation: 'sendSms', status: undefined, network: 'ECONNREFUSED', retryable: true });
    expect((everything(error)).includes(CODE), 'must not be there').toBe(false);
    expect((everything(error)).includes('127.0.0.1'), 'must not be there').toBe(false);
    standIn = await startTwilioStandIn(); // for afterEach
    sent.length = 0;
  });
});

describe('the stand-in', () => {
  it('answers an unknown path with a Twilio error body', async () => {
    const response = await fetch(`${standIn.url}/2010-04-01/Accounts/${ACCOUNT_SID}/Nope.json`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${ACCOUNT_SID}:x`).toString('base64')}` },
    });
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({
      code: 20404,
      message: `The requested resource /2010-04-01/Accounts/${ACCOUNT_SID}/Nope.json was not found`,
      more_info: 'https://www.twilio.com/docs/errors/20404',
      status: 404,
    });
  });

  it('answers a message create with the Message resource, queued', async () => {
    const { client } = standInClient(standIn);
    const message = await client.messages.create({ to: '+15555550142', from: '+15555550100', body: 'hello' });
    expect(message).toMatchObject({ status: 'queued', direction: 'outbound-api', to: '+15555550142', from: '+15555550100', accountSid: ACCOUNT_SID, numSegments: '1' });
    expect(message.sid).toMatch(/^SM[0-9a-f]{32}$/);
  });

  it('refuses to send the client anywhere but a Twilio host', async () => {
    const { client } = standInClient(standIn);
    await expect(client.request({ method: 'get', uri: 'https://example.com/x' })).rejects.toThrow(/refusing a request to https:\/\/example\.com/);
    expect(standIn.requests).toHaveLength(0);
  });
});
