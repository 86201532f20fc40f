// Free TCP ports on the loopback address, for the tests and the benchmarks. Shared by both, so it
// imports nothing from vitest.
import net, { type AddressInfo } from 'node:net';

/**
 * A port on 127.0.0.1 that nothing listens on when it is returned: for a server to take, or for
 * a client to find closed (a next hop or a scanner that is down).
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
