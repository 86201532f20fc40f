// The proxy as `custos serve` runs it: the lists loaded, the engine kept current, the activity
// recorder, proxy authentication against Custos accounts, and the listener; stop() undoes all of
// it in order (no new requests, the queued activity written, timers stopped).
import { createAccountsService } from '../../auth/accounts.service.ts';
import type { Runtime } from '../../cli/runtime.ts';
import { activityOptionsFrom, createActivityRecorder } from '../activity.ts';
import { stopWebFilter, webAlertsFor, webFilterFor } from '../runtime.ts';
import { createProxyAuthenticator } from './auth.ts';
import { type ProxyListener, startProxy } from './server.ts';

export async function startProxyService(
  runtime: Pick<Runtime, 'config' | 'store' | 'audit' | 'policy' | 'log' | 'clock'>,
  options: { ownPorts?: readonly number[] } = {},
): Promise<ProxyListener> {
  const { config, store, audit, policy, log, clock } = runtime;
  const { state } = await webFilterFor(runtime);
  const activity = createActivityRecorder(store, { ...activityOptionsFrom(config), log });
  const alerts = webAlertsFor(runtime);
  const authenticator =
    config.proxy.requireAuth === 'never'
      ? undefined
      : createProxyAuthenticator({
          verifier: createAccountsService({ store, audit, policy, config, clock }),
          cacheSeconds: config.proxy.authCacheSeconds,
        });
  const listener = await startProxy(
    {
      engine: state.engine,
      activity,
      store,
      audit,
      log: log.child({ service: 'proxy' }),
      clock,
      alerts,
      ...(authenticator ? { authenticator } : {}),
    },
    { ...config.proxy, publicUrl: config.server.publicUrl, ownPorts: options.ownPorts ?? [] },
  );
  log.info(
    { url: listener.address.url, requireAuth: config.proxy.requireAuth },
    'Custos web proxy listening',
  );
  return {
    ...listener,
    async stop() {
      await listener.stop();
      await alerts.settled();
      await activity.stop();
      await stopWebFilter(store);
    },
  };
}
