/**
 * The HTTP edge, framework-neutral: reading a size-limited form body from node:http or a
 * fetch `Request`, parsing it, and checking Twilio's request signature against the exact URL
 * Twilio called.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import twilio from 'twilio';

/** Form parameters as Twilio posts them (a repeated key becomes a list). */
export type FormParams = Record<string, string | string[]>;

/** A request as the webhook core sees it, whatever server received it. */
export interface WebhookRequest {
  method: string;
  /** Path and query string exactly as received (e.g. `/twilio/voice/abc/2`). */
  path: string;
  /** The `X-Twilio-Signature` header, if any. */
  signature: string | undefined;
  /** The raw form-encoded body. */
  body: string;
}

/** What the webhook core answers. */
export interface WebhookResponse {
  status: number;
  contentType: string;
  body: string;
}

/** The body was larger than the configured limit. */
export class BodyTooLargeError extends Error {
  readonly code = 'BODY_TOO_LARGE';
  constructor(limit: number) {
    super(`request body over ${limit} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

/** Read a node request body up to `limit` bytes. */
export async function readNodeBody(req: IncomingMessage, limit: number): Promise<string> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw new BodyTooLargeError(limit);
  // Stream events rather than `for await`: an async iterator per request showed in profiles.
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    const onData = (chunk: Buffer | string) => {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      size += buffer.length;
      if (size > limit) {
        failed = true;
        req.off('data', onData);
        req.resume();
        reject(new BodyTooLargeError(limit));
        return;
      }
      chunks.push(buffer);
    };
    req.on('data', onData);
    let ended = false;
    req.once('end', () => {
      ended = true;
      if (!failed) resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8'));
    });
    req.once('error', (error) => {
      if (!failed) reject(error);
    });
    // The client went away mid-body: settle (nothing to answer) rather than wait for ever.
    req.once('close', () => {
      if (!ended && !failed) reject(new Error('request closed before its body ended'));
    });
  });
}

/** Read a fetch `Request` body up to `limit` bytes. */
export async function readFetchBody(request: Request, limit: number): Promise<string> {
  const declared = Number(request.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) throw new BodyTooLargeError(limit);
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      throw new BodyTooLargeError(limit);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Parse a form-encoded body (node's URLSearchParams). */
export function parseForm(body: string): FormParams {
  const params: FormParams = {};
  for (const [key, value] of new URLSearchParams(body)) {
    const seen = params[key];
    if (seen === undefined) params[key] = value;
    else params[key] = Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  return params;
}

/** One value of a form parameter (the first, if repeated). */
export function param(params: FormParams, key: string): string | undefined {
  const value = params[key];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Twilio's signature check against the URL Twilio called: the public origin plus the path as
 * received. First the URL exactly as configured (`twilio.getExpectedTwilioSignature`: HMAC-SHA1
 * over the URL and the sorted params, compared in constant time), which is what Twilio signs;
 * only when that fails, `twilio.validateRequest`, which also tries the URL with the default port
 * added or removed and normalised forms. `validateRequest` alone tries "without the port" first,
 * so a URL with an explicit port (a local tunnel, a non-default port) cost two HMACs a request.
 */
export function signatureValid(authToken: string, signature: string | undefined, url: string, params: FormParams): boolean {
  if (!signature) return false;
  try {
    const expected = Buffer.from(twilio.getExpectedTwilioSignature(authToken, url, params));
    const given = Buffer.from(signature);
    if (given.length === expected.length && timingSafeEqual(given, expected)) return true;
    return twilio.validateRequest(authToken, signature, url, params);
  } catch {
    return false;
  }
}
