/**
 * A TCP proxy in front of a real Redis that a test can cut and restore: the worker processes
 * connect to it instead of 127.0.0.1:6379, so their Redis can be made unreachable without
 * touching the Redis every other test (and the test's own client) uses. Cut: every open
 * connection is destroyed and new ones are dropped as soon as they arrive (a client sees its
 * connection reset, as when Redis or the network goes away); restore: connections are piped
 * through again. Plain JavaScript so that the load script can use it without a TypeScript loader.
 */
import { connect, createServer } from 'node:net';
import { listenOnLoopback } from './listen.mjs';

export class RedisCutter {
  /** @param {{ host?: string; port?: number }} [upstream] the real Redis (default 127.0.0.1:6379) */
  constructor(upstream = {}) {
    this.upstream = { host: upstream.host ?? '127.0.0.1', port: upstream.port ?? 6379 };
    this.isCut = false;
    /** Both ends of every piped connection, so that a cut can end them all at once. */
    this.sockets = new Set();
    this.server = createServer((client) => this.accept(client));
    this.port = 0;
  }

  /** Listen on 127.0.0.1 (an ephemeral port); resolves with the port. */
  async start() {
    this.port = await listenOnLoopback(this.server);
    return this.port;
  }

  /** The URL a Redis client connects to instead of the real one. */
  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Make Redis unreachable: end every connection, drop every new one. */
  cut() {
    this.isCut = true;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  /** Let connections through again (clients reconnect on their own schedule). */
  restore() {
    this.isCut = false;
  }

  async close() {
    this.cut();
    await new Promise((resolve) => this.server.close(() => resolve(undefined)));
  }

  /** @param {import('node:net').Socket} client */
  accept(client) {
    if (this.isCut) {
      client.destroy();
      return;
    }
    const redis = connect(this.upstream);
    const pair = [client, redis];
    for (const socket of pair) {
      this.sockets.add(socket);
      // Either side failing or closing ends both: a half-open pipe would hang the client.
      socket.on('error', () => undefined);
      socket.on('close', () => {
        this.sockets.delete(socket);
        for (const other of pair) if (other !== socket) other.destroy();
      });
    }
    client.pipe(redis);
    redis.pipe(client);
  }
}
