/**
 * A TCP proxy in front of a real Redis that a test can cut and restore, to make Redis
 * unreachable for the clients connected through it without touching the Redis itself (other
 * tests keep using it). Self-contained (node:net only) so that process-level tests can copy it.
 *
 *   const cutter = new RedisCutter();
 *   const port = await cutter.start();          // connect ioredis to 127.0.0.1:<port>
 *   cutter.cut();                               // open connections dropped, new ones refused
 *   cutter.restore();                           // connections go through again
 *   await cutter.close();
 *
 * Give the client `enableOfflineQueue: false, maxRetriesPerRequest: 0` so that a command fails
 * at once while the proxy is cut, and a short `retryStrategy` so it reconnects soon after.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

/** A cuttable TCP proxy to a Redis (default 127.0.0.1:6379). */
export class RedisCutter {
  private server: Server | undefined;
  private readonly open = new Set<Socket>();
  private isCut = false;

  constructor(
    private readonly target: { host: string; port: number } = { host: '127.0.0.1', port: 6379 },
  ) {}

  /** Listen on an ephemeral loopback port; resolves with the port. */
  start(): Promise<number> {
    const server = createServer((client) => this.accept(client));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        if (address === null || typeof address === 'string') reject(new Error('RedisCutter: no TCP address'));
        else resolve(address.port);
      });
    });
  }

  /** Drop every open connection and refuse new ones until `restore()`. */
  cut(): void {
    this.isCut = true;
    for (const socket of this.open) socket.destroy();
    this.open.clear();
  }

  /** Let connections through again. */
  restore(): void {
    this.isCut = false;
  }

  /** Whether the proxy is cut now. */
  get cutNow(): boolean {
    return this.isCut;
  }

  /** Drop every connection and stop listening. */
  close(): Promise<void> {
    this.cut();
    const server = this.server;
    this.server = undefined;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    if (this.isCut) {
      // Refused: the client sees its connection reset, as with a Redis that went away.
      client.destroy();
      return;
    }
    const upstream = createConnection(this.target);
    this.track(client);
    this.track(upstream);
    // Each side ends the other: a Redis that closes, or a client that leaves, ends the pair.
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  }

  private track(socket: Socket): void {
    this.open.add(socket);
    socket.on('close', () => this.open.delete(socket));
  }
}
