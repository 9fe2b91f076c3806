/**
 * What the framework mounts (Fastify plugin, Express middleware) share: they take either a
 * webhook built with `createTwilioWebhook` (so the host keeps it, e.g. for `startSecureCall`)
 * or the options to build one, and serve its framework-neutral `handle`.
 */
import { createTwilioWebhook, type TwilioWebhook, type TwilioWebhookOptions } from './webhook.js';

/** A webhook to serve: a built one, or the options to build it. */
export type WebhookSource = { webhook: TwilioWebhook } | TwilioWebhookOptions;

/** The webhook to serve, the path it is mounted under, and its body limit. */
export interface Mount {
  webhook: TwilioWebhook;
  /** The path of `publicBaseUrl` without a trailing slash (`/twilio`; `''` at the root). */
  basePath: string;
  maxBodyBytes: number;
}

/** Resolve a `WebhookSource` into what a framework mount serves. */
export function mountOf(source: WebhookSource): Mount {
  const webhook = 'webhook' in source ? source.webhook : createTwilioWebhook(source);
  return {
    webhook,
    basePath: new URL(webhook.publicBaseUrl).pathname.replace(/\/+$/, ''),
    maxBodyBytes: webhook.maxBodyBytes,
  };
}

/** The mount prefix differs from the path of `publicBaseUrl`: every signature would fail. */
export class MountPathMismatchError extends Error {
  readonly code = 'MOUNT_PATH_MISMATCH';
  constructor(mountedAt: string, basePath: string) {
    super(
      `the Twilio webhook is mounted at '${mountedAt || '/'}' but publicBaseUrl's path is '${basePath || '/'}': ` +
        'Twilio signs the exact URL it calls, so mount the routes under the path of publicBaseUrl',
    );
    this.name = 'MountPathMismatchError';
  }
}
