// The DNS filter as `custos serve` runs it: the web filter shared with the proxy in this process
// (lists loaded once, engine kept current), an activity recorder and the listener; stop() undoes
// it in order (no new queries, the queued activity written).
import type { Runtime } from '../../cli/runtime.ts';
import { createActivityRecorder } from '../activity.ts';
import { stopWebFilter, webAlertsFor, webFilterFor } from '../runtime.ts';
import { type DnsFilter, startDnsFilter } from './server.ts';

export async function startDnsService(
  runtime: Pick<Runtime, 'config' | 'store' | 'audit' | 'policy' | 'log'>,
): Promise<DnsFilter> {
  const { config, store, log } = runtime;
  const { state } = await webFilterFor(runtime);
  const activity = createActivityRecorder(store, { log });
  const dnsLog = log.child({ service: 'dns' });
  const alerts = webAlertsFor(runtime);
  const filter = await startDnsFilter({ state, activity, alerts, log: dnsLog }, config.dns);
  log.info(
    {
      udp: `${filter.address.udp.address}:${filter.address.udp.port}`,
      tcp: `${filter.address.tcp.address}:${filter.address.tcp.port}`,
      upstreams: config.dns.upstreams.length > 0 ? config.dns.upstreams : 'from /etc/resolv.conf',
      udpTransport: filter.udp.transport,
    },
    'Custos DNS filter listening',
  );
  if (filter.udp.problem !== null) {
    dnsLog.warn(
      { problem: filter.udp.problem },
      'DNS filter reads UDP a datagram at a time (node:dgram): batched UDP is unavailable',
    );
  }
  return {
    ...filter,
    async stop() {
      await filter.stop();
      await alerts.settled();
      await activity.stop();
      await stopWebFilter(store);
    },
  };
}
