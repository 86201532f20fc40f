// The API listener as a service with start and stop, so `custos serve` and the tests compose it.
import type { AddressInfo } from 'node:net';
import type { FastifyPluginAsync } from 'fastify';
import { buildApp } from './app.ts';
import type { AppContext } from './context.ts';

export interface Listener {
  address: { host: string; port: number; url: string };
  /** Stops accepting connections, lets requests in flight finish, then resolves. */
  stop(): Promise<void>;
}

export async function startApi(
  ctx: AppContext,
  options: { host: string; port: number },
  extra: FastifyPluginAsync[] = [],
): Promise<Listener> {
  const { app } = await buildApp(ctx, extra);
  await app.listen({ host: options.host, port: options.port });
  const info = app.server.address() as AddressInfo;
  const shownHost = info.family === 'IPv6' ? `[${info.address}]` : info.address;
  return {
    address: { host: info.address, port: info.port, url: `http://${shownHost}:${info.port}` },
    async stop() {
      await app.close();
    },
  };
}
