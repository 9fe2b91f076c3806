import twilio from 'twilio';
import { describe, expect, it } from 'vitest';
import type { Command } from '@callflow/flow-core';
import { renderTurn, twilioRest, type TwilioRestClient, type TwimlOptions } from '../src/index.js';
import { parseTwiml, type XmlNode } from './call-simulator.js';

const OPTIONS: TwimlOptions = { actionUrl: 'https://ivr.example.com/voice/s1/2', waitUrl: 'https://ivr.example.com/voice/s1/2/wait', status: 'waiting' };
const render = (commands: Command[], options: Partial<TwimlOptions> = {}) => {
  const rendered = renderTurn(commands, { ...OPTIONS, ...options });
  return { doc: parseTwiml(rendered.twiml), sideEffects: rendered.sideEffects, twiml: rendered.twiml };
};
const shape = (n: XmlNode): unknown => ({ [n.name]: { ...n.attrs, ...(n.text ? { text: n.text } : {}), ...(n.children.length ? { children: n.children.map(shape) } : {}) } });

describe('renderTurn', () => {
  it('says with voice and language, plays with loop, and escapes text', () => {
    const { doc } = render(
      [
        { type: 'say', text: 'Fish & <chips> "now"', voice: 'Polly.Amy', language: 'en-GB' },
        { type: 'play', url: 'https://cdn.example.com/hold.mp3', loop: 2 },
        { type: 'disconnect' },
      ],
      { status: 'ended' },
    );
    expect(doc.children.map(shape)).toEqual([
      { Say: { voice: 'Polly.Amy', language: 'en-GB', text: 'Fish & <chips> "now"' } },
      { Play: { loop: '2', text: 'https://cdn.example.com/hold.mp3' } },
      { Hangup: {} },
    ]);
  });

  it('collects speech in a Gather with hints, the prompts nested, posting back on no input', () => {
    const { doc } = render([
      {
        type: 'collect',
        purpose: 'collect',
        prompt: [{ text: 'Say your account name.', language: 'en-GB' }, { play: 'https://cdn.example.com/beep.mp3' }],
        input: 'dtmf speech',
        timeoutMs: 4500,
        hints: ['savings', 'current account'],
        secure: false,
      },
    ]);
    expect(doc.children.map(shape)).toEqual([
      {
        Gather: {
          input: 'dtmf speech',
          action: OPTIONS.actionUrl,
          method: 'POST',
          timeout: '5',
          actionOnEmptyResult: 'true',
          hints: 'savings, current account',
          language: 'en-GB',
          children: [{ Say: { language: 'en-GB', text: 'Say your account name.' } }, { Play: { text: 'https://cdn.example.com/beep.mp3' } }],
        },
      },
    ]);
  });

  it('asks a menu for one key', () => {
    const { doc } = render([{ type: 'collect', purpose: 'menu', prompt: [{ text: 'Press 1.' }], input: 'dtmf', timeoutMs: 5000, secure: false }]);
    expect(doc.children[0]!.attrs.numDigits).toBe('1');
  });

  it('connects through a Dial with the proxy caller id and a recording when asked', () => {
    const { doc } = render([{ type: 'connect', number: '+15555550142', callerId: '+15555550100', timeoutMs: 20_000, record: true }]);
    expect(doc.children.map(shape)).toEqual([
      {
        Dial: {
          callerId: '+15555550100',
          action: OPTIONS.actionUrl,
          method: 'POST',
          timeout: '20',
          record: 'record-from-answer',
          children: [{ Number: { text: '+15555550142' } }],
        },
      },
    ]);
  });

  it('transfers to a number, a user, a SIP address, or a plain queue without TaskRouter', () => {
    const one = (c: Command, o: Partial<TwimlOptions> = {}) => render([c], { status: 'ended', ...o }).doc.children.map(shape);
    expect(one({ type: 'transfer', number: '+15555550123' }, { transferCallerId: '+15555550100' })).toEqual([
      { Dial: { callerId: '+15555550100', children: [{ Number: { text: '+15555550123' } }] } },
    ]);
    expect(one({ type: 'transfer', user: 'alice' })).toEqual([{ Dial: { children: [{ Client: { text: 'alice' } }] } }]);
    expect(one({ type: 'transfer', sip: 'sip:desk@pbx.example.com' })).toEqual([{ Dial: { children: [{ Sip: { text: 'sip:desk@pbx.example.com' } }] } }]);
    expect(one({ type: 'transfer', queue: 'billing' })).toEqual([{ Enqueue: { text: 'billing' } }]);
    expect(
      one({ type: 'transfer', queue: 'billing', data: { invoiceId: 'INV-1' } }, { taskRouter: { workflowSid: 'WW1', workflowSidByQueue: { billing: 'WW2' } } }),
    ).toEqual([{ Enqueue: { workflowSid: 'WW2', children: [{ Task: { text: '{"queue":"billing","invoiceId":"INV-1"}' } }] } }]);
  });

  it('asks for a transfer\'s outcome when given a transferResultUrl (Dial action, Enqueue action)', () => {
    const url = 'https://ivr.example.com/voice/s1/3/transfer';
    const one = (c: Command, o: Partial<TwimlOptions> = {}) => render([c], { status: 'ended', transferResultUrl: url, ...o }).doc.children.map(shape);
    expect(one({ type: 'transfer', number: '+15555550123' }, { transferCallerId: '+15555550100' })).toEqual([
      { Dial: { callerId: '+15555550100', action: url, method: 'POST', children: [{ Number: { text: '+15555550123' } }] } },
    ]);
    expect(one({ type: 'transfer', queue: 'billing' })).toEqual([{ Enqueue: { action: url, method: 'POST', text: 'billing' } }]);
    expect(one({ type: 'transfer', queue: 'billing' }, { taskRouter: { workflowSid: 'WW1' } })).toEqual([
      { Enqueue: { workflowSid: 'WW1', action: url, method: 'POST', children: [{ Task: { text: '{"queue":"billing"}' } }] } },
    ]);
  });

  it('returns the caller to the agent through a hook when one is configured', () => {
    const { doc } = render([{ type: 'returnToAgent', agentId: 'a1', conversationId: 'conf-9', outputs: {} }], {
      status: 'ended',
      returnToAgent: (command, response) => {
        response.dial().conference(command.conversationId!);
      },
    });
    expect(doc.children.map(shape)).toEqual([{ Dial: { children: [{ Conference: { text: 'conf-9' } }] } }]);
  });

  it('apologises and hangs up when there is no agent to return to', () => {
    const { doc } = render([{ type: 'returnToAgent', outputs: {} }], { status: 'ended' });
    expect(doc.children.map((c) => c.name)).toEqual(['Say', 'Hangup']);
  });

  it('hands recording and SMS commands to the REST side, in order, and writes no TwiML for them', () => {
    const sms: Command = { type: 'sendSms', to: '+15555550111', body: 'Your code is 123456.', code: '123456', secure: true };
    const { doc, sideEffects, twiml } = render([
      { type: 'pauseRecording' },
      sms,
      { type: 'collect', purpose: 'authenticate', prompt: [{ text: 'Key in the code.' }], input: 'dtmf', minDigits: 6, maxDigits: 6, timeoutMs: 8000, secure: true },
    ]);
    expect(sideEffects.map((e) => e.type)).toEqual(['pauseRecording', 'sendSms']);
    expect(doc.children.map((c) => c.name)).toEqual(['Gather']);
    expect((twiml).includes('123456'), 'must not be there').toBe(false);
  });

  it('holds a waiting session with no verb with a Pause and a Redirect to the wait URL', () => {
    const { doc } = render([{ type: 'say', text: 'One moment.' }]);
    expect(doc.children.map(shape)).toEqual([{ Say: { text: 'One moment.' } }, { Pause: { length: '2' } }, { Redirect: { method: 'POST', text: OPTIONS.waitUrl } }]);
  });

  it('hangs up an ended session that wrote no verb that ends the call', () => {
    const { doc } = render([{ type: 'say', text: 'Goodbye.' }, { type: 'end', sessionId: 's1', end: { type: 'hangup' } }], { status: 'ended' });
    expect(doc.children.map((c) => c.name)).toEqual(['Say', 'Hangup']);
  });

  it('writes nothing after a verb that hands the call on', () => {
    const { doc } = render([{ type: 'disconnect' }, { type: 'say', text: 'never heard' }], { status: 'ended' });
    expect(doc.children.map((c) => c.name)).toEqual(['Hangup']);
  });
});

describe('twilioRest', () => {
  it('pauses and resumes the current recording and sends messages through the REST client', async () => {
    const seen: unknown[] = [];
    const client: TwilioRestClient = {
      calls: (callSid) => ({
        recordings: (recordingSid) => ({
          update: async (params) => {
            seen.push({ callSid, recordingSid, ...params });
          },
        }),
      }),
      messages: { create: async (params) => void seen.push(params) },
    };
    const rest = twilioRest({ client, messagingFrom: '+15555550100' });
    const call = { callSid: 'CA1', sessionId: 's1' };
    await rest.perform({ type: 'pauseRecording' }, call);
    await rest.perform({ type: 'resumeRecording' }, call);
    await rest.perform({ type: 'sendSms', to: '+15555550111', body: 'Your code is 1.', secure: true }, call);
    expect(seen).toEqual([
      { callSid: 'CA1', recordingSid: 'Twilio.CURRENT', status: 'paused', pauseBehavior: 'skip' },
      { callSid: 'CA1', recordingSid: 'Twilio.CURRENT', status: 'in-progress' },
      { to: '+15555550111', body: 'Your code is 1.', from: '+15555550100' },
    ]);
  });

  it('takes the official twilio client as it is', () => {
    const client = twilio(`AC${'0'.repeat(32)}`, 'token');
    expect(typeof twilioRest({ client, messagingFrom: '+15555550100' }).perform).toBe('function');
  });
});

describe('the simulator\'s TwiML reader', () => {
  it('reads nested verbs, attributes and entities', () => {
    const doc = parseTwiml('<?xml version="1.0" encoding="UTF-8"?><Response><Gather action="https://x/?a=1&amp;b=2"><Say>Fish &amp; &lt;chips&gt; &#39;ok&#x27;</Say></Gather><Hangup/></Response>');
    expect(doc.children.map((c) => c.name)).toEqual(['Gather', 'Hangup']);
    expect(doc.children[0]!.attrs.action).toBe('https://x/?a=1&b=2');
    expect(doc.children[0]!.children[0]!.text).toBe("Fish & <chips> 'ok'");
  });

  it('refuses what is not one well-formed Response', () => {
    expect(() => parseTwiml('<Response><Say>x</Response>')).toThrow();
    expect(() => parseTwiml('<Response><Say>x</Say>')).toThrow();
    expect(() => parseTwiml('<Other/>')).toThrow();
    expect(() => parseTwiml('<Response/><Response/>')).toThrow();
    expect(() => parseTwiml('<Response><Say a=b>x</Say></Response>')).toThrow();
  });
});
