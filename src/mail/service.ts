// The mail gateway as `custos serve` runs it: the vault key, the virus scanner, the next hops
// (outbound: a smart host, or each recipient domain's MX), the pipeline of checks and the SMTP
// listener. stop() closes the listener first (no new messages), then the connections to the next
// hops. The console's quarantine (routes.ts) opens held content and hands it on with the same
// vault and next hops (quarantineFor).
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { createAccountsService } from '../auth/accounts.service.ts';
import type { Runtime } from '../cli/runtime.ts';
import type { Config } from '../config/config.ts';
import { createVault, loadOrCreateMasterKey } from '../vault/vault.ts';
import { createProxyAuthenticator } from '../webfilter/proxy/auth.ts';
import { mailChecks } from './checks.ts';
import { ClamdClient, clamdOptionsFromConfig, scannerStatus } from './clamd.ts';
import { createQuarantine } from './quarantine.ts';
import { createDeliverer, type Deliverer, type NextHop } from './relay/deliver.ts';
import { createMxDeliverer } from './relay/deliver-mx.ts';
import { dnsLookups } from './relay/mx.ts';
import { createMailPipeline } from './relay/pipeline.ts';
import { type RelayOptions, startRelay } from './relay/server.ts';
import type { Direction } from './types.ts';

export const vaultKeyFileOf = (config: Config) =>
  config.mail.vaultKeyFile ?? path.join(config.dataDir, 'vault.key');

const hopOf = (hop: Config['mail']['inbound']): NextHop => ({
  host: hop.host,
  port: hop.port,
  secure: hop.secure,
  requireTls: hop.requireTls,
  verifyCertificate: hop.verifyCertificate,
  ...(hop.username ? { username: hop.username, password: hop.password ?? '' } : {}),
});

/** Outbound: the smart host, or the recipient domains' own mail servers (delivery: mx). */
function outboundDeliverer(config: Config, timing: { hostname: string; timeoutMs: number }) {
  const out = config.mail.outbound;
  if (out.delivery === 'smarthost') return createDeliverer(hopOf(out), timing);
  return createMxDeliverer({
    ...timing,
    port: out.mx.port,
    requireTls: out.requireTls,
    dns: dnsLookups({ servers: out.mx.dnsServers, timeoutMs: out.mx.dnsTimeoutMs }),
  });
}

/** The vault and the next hops of both directions, as the configuration names them. */
export function gatewayPartsOf(config: Config) {
  const timing = {
    hostname: config.mail.relay.hostname ?? hostname(),
    timeoutMs: config.mail.relay.nextHopTimeoutMs,
  };
  return {
    vault: createVault(loadOrCreateMasterKey(vaultKeyFileOf(config))),
    deliver: {
      inbound: createDeliverer(hopOf(config.mail.inbound), timing),
      outbound: outboundDeliverer(config, timing),
    } satisfies Record<Direction, Deliverer>,
  };
}

export type GatewayParts = ReturnType<typeof gatewayPartsOf>;

/**
 * Release and delete held messages with the gateway's vault and next hops: the gateway's own
 * parts when given, else parts of its own from the configuration (the API's case), whose
 * connections close() ends.
 */
export function quarantineFor(
  runtime: Pick<Runtime, 'config' | 'store' | 'audit' | 'policy' | 'clock'>,
  parts: GatewayParts = gatewayPartsOf(runtime.config),
) {
  const { store, audit, policy, clock } = runtime;
  const quarantine = createQuarantine({
    store,
    audit,
    vault: parts.vault,
    policy: () => policy.current(),
    deliver: parts.deliver,
    addDisclaimer: mailChecks().addDisclaimer,
    clock,
  });
  return {
    ...quarantine,
    close() {
      parts.deliver.inbound.close();
      parts.deliver.outbound.close();
    },
  };
}

export type GatewayQuarantine = ReturnType<typeof quarantineFor>;

export function relayOptionsOf(config: Config): RelayOptions {
  const r = config.mail.relay;
  return {
    host: r.host,
    port: r.port,
    hostname: r.hostname ?? hostname(),
    maxMessageBytes: r.maxMessageBytes,
    maxRecipients: r.maxRecipients,
    trustedNetworks: r.trustedNetworks,
    tls:
      r.tlsCertFile && r.tlsKeyFile
        ? { cert: readFileSync(r.tlsCertFile), key: readFileSync(r.tlsKeyFile) }
        : null,
    allowInsecureAuth: r.allowInsecureAuth,
    socketTimeoutMs: r.socketTimeoutMs,
    maxClients: r.maxClients,
  };
}

export async function startMailService(
  runtime: Pick<Runtime, 'config' | 'store' | 'audit' | 'policy' | 'log' | 'clock'>,
) {
  const { config, store, audit, policy, log, clock } = runtime;
  const mailLog = log.child({ service: 'mail' });
  const options = relayOptionsOf(config);
  const parts = gatewayPartsOf(config);
  const { vault, deliver } = parts;
  const scanner = new ClamdClient(clamdOptionsFromConfig(config.mail.clamd));
  const status = await scannerStatus(config.mail.clamd);
  if (!status.answering || status.failOpen) {
    mailLog.error({ clamd: status.address, failOpen: status.failOpen }, status.message);
  }
  const checks = mailChecks();
  const pipeline = createMailPipeline({
    store,
    audit,
    log: mailLog,
    policy: () => policy.current(),
    vault,
    inspect: checks.inspect,
    scan: (raw) => scanner.scan(raw),
    evaluate: checks.evaluate,
    addDisclaimer: checks.addDisclaimer,
    deliver,
    failOpen: config.mail.clamd.failOpen,
    hostname: options.hostname,
    clock,
  });
  const authenticator = createProxyAuthenticator({
    verifier: createAccountsService({ store, audit, policy, config, clock }),
    cacheSeconds: config.proxy.authCacheSeconds,
  });
  const listener = await startRelay(
    {
      log: mailLog,
      localDomains: () => policy.current().mail.domains,
      authenticate: async (username, password, ip) => {
        const basic = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
        const result = await authenticator.check(basic, ip);
        return result.ok ? result.personId : null;
      },
      handle: pipeline.handle,
    },
    options,
  );
  mailLog.info({ url: listener.address.url }, 'Custos mail gateway listening');
  return {
    ...listener,
    /** Release and delete held messages, with this gateway's vault and next hops. */
    quarantine: quarantineFor(runtime, parts),
    async stop() {
      await listener.stop();
      deliver.inbound.close();
      deliver.outbound.close();
    },
  };
}
