/**
 * Refused requests leave a trace: 403 (signature), 405 (method) and 413 (body too large) are
 * logged at warn with the method, the path and the URL the signature was checked against —
 * never the signature, the body or a parameter value — at most one line per kind per interval,
 * with the count of those left unwritten. Over real HTTP on loopback; the clock is a ManualClock.
 */
import twilio from 'twilio';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock, MemoryLogger } from '@callflow/flow-core';
import { postForm } from './call-simulator.js';
import { AUTH_TOKEN, PARTNER_LINE, startServer } from './fixtures.js';

type Server = Awaited<ReturnType<typeof startServer>>;
let server: Server | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const SECRET_PARAM = '+15555550177';

async function start(extra: Record<string, unknown> = {}) {
  const logger = new MemoryLogger();
  const clock = new ManualClock(1_000_000);
  server = await startServer({}, { logger, clock, refusalLogIntervalMs: 60_000, ...extra });
  return { server, logger, clock, warnings: () => logger.records.filter((r) => r.level === 'warn') };
}

describe('refused requests', () => {
  it('logs a forged signature with the URL it was checked against, and nothing of the request', async () => {
    const { server, logger, warnings } = await start();
    const url = `${server.baseUrl}/voice/abc/3?recording=paused`;
    const signature = twilio.getExpectedTwilioSignature(`${AUTH_TOKEN}-wrong`, url, { From: SECRET_PARAM });
    const answer = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
      body: new URLSearchParams({ From: SECRET_PARAM, Digits: '4111111111111111' }).toString(),
    });
    expect(answer.status).toBe(403);
    const path = new URL(server.baseUrl).pathname;
    expect(warnings()).toEqual([
      {
        level: 'warn',
        msg: 'webhook: refused a request whose X-Twilio-Signature does not match (check publicBaseUrl and the auth token)',
        fields: { refused: 'signature', status: 403, method: 'POST', path: `${path}/voice/abc/3`, signedUrl: `${server.baseUrl}/voice/abc/3`, query: true },
      },
    ]);
    const text = logger.text();
    for (const kept of [signature, SECRET_PARAM, '4111111111111111', 'recording=paused']) expect(text.includes(kept), 'must not be there').toBe(false);
  });

  it('writes one line per kind per interval, then says how many were left unwritten', async () => {
    const { server, clock, warnings } = await start();
    for (let i = 0; i < 5; i++) expect((await postForm(`${server.baseUrl}/voice`, { CallSid: 'CA1' }, AUTH_TOKEN, 'forged')).status).toBe(403);
    expect((await fetch(`${server.baseUrl}/voice`)).status).toBe(405);
    expect((await fetch(`${server.baseUrl}/voice`)).status).toBe(405);
    expect(warnings().map((r) => r.fields.refused)).toEqual(['signature', 'method']);

    clock.advance(59_999);
    await postForm(`${server.baseUrl}/voice`, { CallSid: 'CA1' }, AUTH_TOKEN, 'none');
    expect(warnings()).toHaveLength(2);

    clock.advance(1);
    await postForm(`${server.baseUrl}/status`, { CallSid: 'CA1' }, AUTH_TOKEN, 'forged');
    const last = warnings().at(-1)!;
    expect(last.fields).toMatchObject({ refused: 'signature', status: 403, path: `${new URL(server.baseUrl).pathname}/status`, suppressed: 5 });
    expect(last.fields).not.toHaveProperty('query');
    // Nothing was started or reported as a call problem.
    expect(server.sessionsStarted()).toBe(0);
    expect(server.problems).toEqual([]);
  });

  it('logs a body over the limit (413) with the method and path only', async () => {
    const { server, logger, warnings } = await start({ maxBodyBytes: 1024 });
    const answer = await postForm(`${server.baseUrl}/voice`, { CallSid: 'CA1', To: PARTNER_LINE, Padding: 'x'.repeat(4096) }, AUTH_TOKEN);
    expect(answer.status).toBe(413);
    expect(warnings()).toEqual([
      { level: 'warn', msg: 'webhook: refused a request whose body is over maxBodyBytes', fields: { refused: 'bodyTooLarge', status: 413, method: 'POST', path: `${new URL(server.baseUrl).pathname}/voice` } },
    ]);
    expect(logger.text().includes('xxxx'), 'must not be there').toBe(false);
  });

  it('writes nothing without a logger, and nothing for a signed request', async () => {
    const { server, warnings } = await start();
    expect((await postForm(`${server.baseUrl}/nowhere`, { CallSid: 'CA1' }, AUTH_TOKEN)).status).toBe(404);
    expect(warnings()).toEqual([]);
    await server.close();
    const quiet = await startServer({});
    try {
      expect((await postForm(`${quiet.baseUrl}/voice`, { CallSid: 'CA1' }, AUTH_TOKEN, 'forged')).status).toBe(403);
    } finally {
      await quiet.close();
    }
  });
});
