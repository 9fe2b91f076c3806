/**
 * The Twilio webhook as Express middleware (`@callflow/adapters-twilio/express`):
 *
 *   app.use('/twilio', callflowTwilio({ webhook }));
 *
 * Express strips the mount path from `req.url`, and twilio's own `webhook()` middleware has
 * trouble with query strings (twilio-node #942); this one validates against `publicBaseUrl`'s
 * origin plus `req.originalUrl`, the URL exactly as Twilio called it. It reads the form body
 * itself (size-limited), or takes the one an app-wide `express.urlencoded()` already parsed.
 * Express is only imported for its types: the adapter runs without it installed.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { BodyTooLargeError, readNodeBody } from './http.js';
import { mountOf, type WebhookSource } from './mount.js';

/** Options of the Express middleware: a webhook built with `createTwilioWebhook` (`{ webhook }`), or the options to build one. */
export type CallflowTwilioExpressOptions = WebhookSource;

/**
 * Express middleware serving the Twilio Voice webhook routes under the path of `publicBaseUrl`
 * (mount it there: `app.use('/twilio', …)`). Anything but a POST below that path goes to `next()`.
 */
export function callflowTwilio(options: CallflowTwilioExpressOptions): RequestHandler {
  const { webhook, basePath, maxBodyBytes } = mountOf(options);
  return (req: Request, res: Response, next: NextFunction) => {
    if (req.method !== 'POST' || !req.originalUrl.startsWith(`${basePath}/`)) {
      next();
      return;
    }
    serve(req, res).catch(next);
  };

  async function serve(req: Request, res: Response): Promise<void> {
    let body: string;
    try {
      body = await formBody(req, maxBodyBytes);
    } catch (error) {
      const refused = error instanceof BodyTooLargeError ? webhook.tooLarge(req.method, req.originalUrl) : { status: 400, contentType: 'text/plain; charset=utf-8', body: 'Bad Request' };
      res.status(refused.status).set('connection', 'close').set('content-type', refused.contentType).send(refused.body);
      return;
    }
    const signature = req.headers['x-twilio-signature'];
    const response = await webhook.handle({
      method: req.method,
      path: req.originalUrl,
      signature: Array.isArray(signature) ? signature[0] : signature,
      body,
    });
    res.status(response.status).set('content-type', response.contentType).send(response.body);
  }
}

/** The raw form body: read from the request, or rebuilt from what a body parser already read. */
async function formBody(req: Request, limit: number): Promise<string> {
  const parsed: unknown = req.body;
  if (!req.readableEnded && req.readable) return readNodeBody(req, limit);
  if (typeof parsed === 'string') return parsed;
  if (Buffer.isBuffer(parsed)) return parsed.toString('utf8');
  if (parsed === null || typeof parsed !== 'object') return '';
  // express.urlencoded() gave an object: Twilio's parameters are flat, so re-encoding them
  // gives the same parameter set the signature covers (the signature is over the params, not the bytes).
  const form = new URLSearchParams();
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    for (const one of Array.isArray(value) ? value : [value]) form.append(key, String(one));
  }
  return form.toString();
}
