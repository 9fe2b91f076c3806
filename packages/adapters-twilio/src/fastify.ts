/**
 * The Twilio webhook as a Fastify plugin (`@callflow/adapters-twilio/fastify`):
 *
 *   await app.register(callflowTwilio, { webhook, prefix: '/twilio' });
 *
 * It registers the webhook's routes in its own encapsulated context, reads form bodies there as
 * raw strings (a content-type parser scoped to the plugin, so the host's other routes keep
 * theirs and no @fastify/formbody is needed), and hands every request to the framework-neutral
 * `handle`, which checks the signature against `publicBaseUrl`'s origin plus the URL exactly as
 * received. Fastify is only imported for its types: the adapter runs without it installed.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { mountOf, MountPathMismatchError, type WebhookSource } from './mount.js';

/**
 * Options of the Fastify plugin: a webhook built with `createTwilioWebhook` (`{ webhook }`), or
 * the options to build one. Register it with `prefix` equal to the path of `publicBaseUrl`.
 */
export type CallflowTwilioFastifyOptions = WebhookSource;

const FORM = 'application/x-www-form-urlencoded';
/** The routes below the prefix, as documented in docs/adapters-twilio.md. */
const ROUTES = ['/voice', '/voice/:sessionId/:turn', '/voice/:sessionId/:turn/wait', '/status', '/fallback'];

/** Fastify plugin serving the Twilio Voice webhook routes (`POST /voice`, `/voice/:sessionId/:turn[/wait]`, `/status`, `/fallback`). */
export const callflowTwilio: FastifyPluginAsync<CallflowTwilioFastifyOptions> = async (fastify, options) => {
  const { webhook, basePath, maxBodyBytes } = mountOf(options);
  // Twilio signs the URL it calls: routes mounted elsewhere would answer 403 to every request.
  if (fastify.prefix !== basePath) throw new MountPathMismatchError(fastify.prefix, basePath);

  fastify.addContentTypeParser(FORM, { parseAs: 'string', bodyLimit: maxBodyBytes }, (_request, body, done) => done(null, body));
  // A body over the limit is refused by Fastify before the route runs: answered and logged as the webhook does.
  fastify.setErrorHandler((error, request, reply) => {
    if ((error as { code?: unknown }).code !== 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.send(error);
    const refused = webhook.tooLarge(request.method, request.url);
    return reply.code(refused.status).header('connection', 'close').type(refused.contentType).send(refused.body);
  });

  const serve = async (request: FastifyRequest, reply: FastifyReply) => {
    const signature = request.headers['x-twilio-signature'];
    const response = await webhook.handle({
      method: request.method,
      // The raw URL, prefix and query string included: what Twilio signed.
      path: request.url,
      signature: Array.isArray(signature) ? signature[0] : signature,
      body: typeof request.body === 'string' ? request.body : '',
    });
    return reply.code(response.status).type(response.contentType).send(response.body);
  };
  for (const url of ROUTES) fastify.post(url, serve);
};
export { MountPathMismatchError } from './mount.js';
