/** Listening on loopback, for the cluster's proxies (HTTP and TCP alike). */

/**
 * Listen on 127.0.0.1, an ephemeral port; resolves with the port.
 * @param {import('node:net').Server} server
 * @returns {Promise<number>}
 */
export async function listenOnLoopback(server) {
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(undefined));
  });
  return /** @type {import('node:net').AddressInfo} */ (server.address()).port;
}
