import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRuntime, ManualClock, type Runtime } from '@callflow/flow-core';
import { twilioReservationMirror, type MirrorFailure, type TwilioReservationMirror } from '../src/index.js';
import { exampleFlow, ScriptedActions } from './fixtures.js';
import { standInClient, startTwilioStandIn, type TwilioStandIn } from './twilio-standin.js';

const WORKSPACE = 'WS' + '0'.repeat(31) + '1';
const WORKER = 'WK' + '0'.repeat(31) + '42';
const RESERVED = 'WA' + '0'.repeat(31) + '9'; // "Secure flow", available: false
const AVAILABLE = 'WA' + '0'.repeat(31) + '1'; // "Available", available: true
const WORKER_PATH = new RegExp(`^/v1/Workspaces/${WORKSPACE}/Workers/${WORKER}$`);
const LEASE_MS = 60_000;
const APPROVED = { chargeCard: { approved: true, reference: 'PAY-7001', maskedCard: '1111' } };

let standIn: TwilioStandIn;
let sent: string[];
let clock: ManualClock;
let runtime: Runtime;
let mirror: TwilioReservationMirror;
let failures: MirrorFailure[];
let errors: Array<{ code: string; message: string }>;

beforeEach(async () => {
  standIn = await startTwilioStandIn();
  standIn.activities.set(RESERVED, { name: 'Secure flow', available: false });
  standIn.activities.set(AVAILABLE, { name: 'Available', available: true });
  const built = standInClient(standIn);
  sent = built.sent;
  failures = [];
  errors = [];
  mirror = twilioReservationMirror({
    client: built.client,
    workspaceSid: WORKSPACE,
    workerSidOf: (agentId) => (agentId === 'agent-42' ? WORKER : undefined),
    reservedActivitySid: RESERVED,
    availableActivitySid: AVAILABLE,
    timeoutMs: 200,
    retryDelayMs: 10,
    onFailure: (f) => failures.push(f),
  });
  clock = new ManualClock(1_000_000);
  runtime = createRuntime({
    flows: [exampleFlow('agent-card-payment')],
    actions: new ScriptedActions(APPROVED),
    clock,
    reservationLeaseMs: LEASE_MS,
    reservationMirror: mirror,
  });
  runtime.events.on('error', (e) => errors.push({ code: e.code, message: e.message }));
});
afterEach(async () => {
  for (const uri of sent) expect(uri.startsWith(`${standIn.url}/`)).toBe(true);
  await standIn.close();
});

const startPayment = (agentId = 'agent-42') =>
  runtime.startSecureSession({
    conversationId: 'conv-1',
    agentId,
    flow: 'agent-card-payment',
    reserveAgent: true,
    inputs: { amount: 42.5, invoiceId: 'INV-1001' },
  });
const workerMoves = () => standIn.requestsTo(WORKER_PATH).map((r) => r.params.ActivitySid);

describe('twilioReservationMirror', () => {
  it('moves the worker to the reserved activity when a secure flow reserves the agent', async () => {
    await startPayment();
    const [update] = standIn.requestsTo(WORKER_PATH);
    expect(update).toMatchObject({ method: 'POST', host: 'taskrouter.twilio.com', params: { ActivitySid: RESERVED } });
    expect(standIn.workers.get(WORKER)).toBe(RESERVED);
    expect(errors).toEqual([]);
  });

  it('moves the worker back to available when the flow returns the caller to the agent', async () => {
    const { sessionId } = await startPayment();
    await runtime.handle(sessionId, { type: 'digits', digits: '4111111111111111' }, { requestId: '1' });
    await runtime.handle(sessionId, { type: 'digits', digits: '1228' }, { requestId: '2' });
    const last = await runtime.handle(sessionId, { type: 'digits', digits: '123' }, { requestId: '3' });
    expect(last.commands.map((c) => c.type)).toContain('returnToAgent');
    expect(workerMoves()).toEqual([RESERVED, AVAILABLE]);
    expect(standIn.workers.get(WORKER)).toBe(AVAILABLE);
    // No card data went to TaskRouter.
    for (const r of standIn.requests) expect((JSON.stringify(r)).includes('4111111111111111'), 'must not be there').toBe(false);
  });

  it('moves the worker back to available when the caller hangs up inside the flow', async () => {
    const { sessionId } = await startPayment();
    await runtime.handle(sessionId, { type: 'hangup' }, { requestId: 'hangup' });
    expect(workerMoves()).toEqual([RESERVED, AVAILABLE]);
    expect(await runtime.isReserved('agent-42')).toBe(false);
  });

  it('moves the worker back to available when the lease runs out and sweep releases it', async () => {
    await startPayment();
    clock.advance(LEASE_MS + 1);
    expect(await runtime.sweep()).toBe(1);
    expect(workerMoves()).toEqual([RESERVED, AVAILABLE]);
    expect(standIn.workers.get(WORKER)).toBe(AVAILABLE);
  });

  it('rejects pending TaskRouter reservations on the move to reserved when asked', async () => {
    const { client } = standInClient(standIn);
    const rejecting = twilioReservationMirror({
      client, workspaceSid: WORKSPACE, workerSidOf: () => WORKER,
      reservedActivitySid: RESERVED, availableActivitySid: AVAILABLE, rejectPendingReservations: true,
    });
    const reservation = { agentId: 'agent-42', sessionId: 's', token: 't', reservedAt: 0, expiresAt: 1 };
    await rejecting.reserved(reservation);
    await rejecting.released(reservation, 'returnToAgent');
    expect(standIn.requestsTo(WORKER_PATH).map((r) => r.params)).toEqual([
      { ActivitySid: RESERVED, RejectPendingReservations: 'true' },
      { ActivitySid: AVAILABLE },
    ]);
  });
});

describe('twilioReservationMirror failures', () => {
  it('reports a failed reserve as a runtime error event and to onFailure; the flow goes on', async () => {
    standIn.failWith({ status: 404, code: 20404, message: `The requested resource /Workers/${WORKER} was not found` }, { path: WORKER_PATH });
    const turn = await startPayment();
    expect(turn.status).toBe('waiting');
    expect(errors).toEqual([{ code: 'MIRROR_FAILED', message: 'Twilio REST updateWorker failed: HTTP 404, Twilio error 20404 (https://www.twilio.com/docs/errors/20404)' }]);
    expect(failures).toEqual([expect.objectContaining({ code: 'TWILIO_REST_FAILED', move: 'reserve', agentId: 'agent-42', workerSid: WORKER, sessionId: turn.sessionId })]);
    // A 4xx is not retried.
    expect(standIn.requestsTo(WORKER_PATH)).toHaveLength(1);
    expect(mirror.stuck()).toEqual([]);
  });

  it('retries a time-out once and then succeeds', async () => {
    standIn.hang({ path: WORKER_PATH, times: 1 });
    await startPayment();
    expect(standIn.requestsTo(WORKER_PATH)).toHaveLength(2);
    expect(standIn.workers.get(WORKER)).toBe(RESERVED);
    expect(errors).toEqual([]);
    expect(failures).toEqual([]);
  });

  it('keeps a worker it could not move back as stuck, reported, until retryStuck moves it', async () => {
    const { sessionId } = await startPayment();
    standIn.failWith({ status: 503, code: 20503, message: 'Service Unavailable' }, { path: WORKER_PATH });
    await runtime.handle(sessionId, { type: 'hangup' }, { requestId: 'hangup' });
    expect(standIn.requestsTo(WORKER_PATH)).toHaveLength(3); // reserve + two tries of the release
    expect(errors.map((e) => e.code)).toEqual(['MIRROR_FAILED']);
    expect(failures).toEqual([expect.objectContaining({ move: 'release', reason: 'hangup', code: 'TWILIO_REST_FAILED' })]);
    expect(mirror.stuck()).toEqual([expect.objectContaining({ agentId: 'agent-42', workerSid: WORKER, reason: 'hangup', code: 'TWILIO_REST_FAILED' })]);
    expect(standIn.workers.get(WORKER)).toBe(RESERVED);

    standIn.heal();
    expect(await mirror.retryStuck()).toBe(0);
    expect(standIn.workers.get(WORKER)).toBe(AVAILABLE);
    expect(mirror.stuck()).toEqual([]);
  });

  it('reports a failed release during sweep through onFailure and as a runtime error event', async () => {
    await startPayment();
    standIn.hang({ path: WORKER_PATH });
    clock.advance(LEASE_MS + 1);
    expect(await runtime.sweep()).toBe(1);
    expect(errors).toEqual([expect.objectContaining({ code: 'MIRROR_FAILED' })]);
    expect(failures).toEqual([expect.objectContaining({ code: 'TWILIO_REST_TIMEOUT', move: 'release', reason: 'expired' })]);
    expect(mirror.stuck().map((s) => s.agentId)).toEqual(['agent-42']);
  });

  it('reports an agent without a TaskRouter worker and calls nothing', async () => {
    await startPayment('agent-7');
    expect(standIn.requests).toEqual([]);
    expect(errors).toEqual([{ code: 'MIRROR_FAILED', message: "no TaskRouter worker is configured for agent 'agent-7'" }]);
    expect(failures).toEqual([expect.objectContaining({ code: 'TASKROUTER_WORKER_UNKNOWN', move: 'reserve', agentId: 'agent-7' })]);
  });

  it('drops a stuck release when the agent is reserved again', async () => {
    const first = await startPayment();
    standIn.failWith({ status: 500, code: 20500, message: 'Internal Server Error' }, { path: WORKER_PATH, times: 2 });
    await runtime.handle(first.sessionId, { type: 'hangup' }, { requestId: 'hangup' });
    expect(mirror.stuck()).toHaveLength(1);
    await startPayment();
    expect(mirror.stuck()).toEqual([]);
    expect(await mirror.retryStuck()).toBe(0);
    expect(standIn.workers.get(WORKER)).toBe(RESERVED);
  });
});
