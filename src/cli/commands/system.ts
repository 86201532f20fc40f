// Commands that run or inspect the system as a whole: serve, migrate, config, audit verify.
import type { Command } from 'commander';
import pino from 'pino';
import { startApi } from '../../api/server.ts';
import { loadConfig, redactConfig, sqlitePathOf } from '../../config/config.ts';
import { watchAppliedPack } from '../../policy/packs.ts';
import { openStore } from '../../store/database.ts';
import { migrate } from '../../store/migrations/index.ts';
import { EXIT, openRuntime, type RuntimeOptions } from '../runtime.ts';
import { missingServeFlags } from '../serve-flags.ts';

export const runtimeOptions = (program: Command): RuntimeOptions => {
  const { config } = program.opts<{ config?: string }>();
  return { configFile: config };
};

const SERVICES = ['api', 'proxy', 'dns', 'mail'] as const;

interface ServeOptions {
  host?: string;
  port?: string;
  only?: string;
  policyFromFolder?: boolean;
}

export function registerSystemCommands(program: Command): void {
  program
    .command('serve')
    .description(
      'Run Custos: the console and API, the web proxy, the DNS filter and the mail gateway.',
    )
    .option('--host <address>', 'address to listen on (server.host)')
    .option('--port <port>', 'port of the console and API (server.port)')
    .option('--only <services>', `comma-separated subset to run: ${SERVICES.join(', ')}`)
    .option('--policy-from-folder', 'use the policy.pack folder even if a pack was applied')
    .action(async (opts: ServeOptions) => {
      const only = opts.only ? opts.only.split(',').map((s) => s.trim()) : [...SERVICES];
      const unknown = only.filter((s) => !(SERVICES as readonly string[]).includes(s));
      if (unknown.length) {
        console.error(`Unknown service(s): ${unknown.join(', ')}. Known: ${SERVICES.join(', ')}.`);
        process.exitCode = EXIT.usage;
        return;
      }
      const config = loadConfig({
        file: program.opts<{ config?: string }>().config,
        overrides: { 'server.host': opts.host, 'server.port': opts.port },
      });
      const log = pino({ level: config.log.level, base: { service: 'custos' } });
      const missing = missingServeFlags();
      if (missing.length) {
        log.warn(
          { missing },
          `node was started without ${missing.join(' ')}: the proxy's and DNS filter's slowest answers will be slower (start it as "node ${missing.join(' ')} bin/custos.js serve", see docs/installation.md)`,
        );
      }
      const runtime = await openRuntime({ config, log, ignoreAppliedPack: opts.policyFromFolder });
      // A pack applied by another process (another machine's console) is picked up here.
      const stopWatch = watchAppliedPack(runtime.store, runtime.policy, {
        intervalMs: config.policy.watchIntervalMs,
        log,
      });
      const listener = await startApi(runtime, config.server);
      log.info(
        {
          url: listener.address.url,
          store: runtime.store.describe,
          policy: runtime.policy.current().name,
        },
        'Custos console and API listening',
      );
      const gateways: { stop(): Promise<void> }[] = [];
      const { ensureFirstRunLink } = await import('../../auth/first-run.ts');
      const link = await ensureFirstRunLink(runtime);
      if (link) {
        process.stdout.write(
          `\nNo account exists yet. Open this one-time link to create the School Business Manager's account:\n\n  ${link}\n\n(or run "custos init" in a terminal). The link works once and expires in 24 hours.\n\n`,
        );
      }
      let jobs: Promise<{ stop(): Promise<void> } | null> | null = null;
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        log.info({ signal }, 'stopping: finishing requests in flight');
        const timer = setTimeout(() => {
          log.error('requests did not finish in time; exiting');
          process.exit(1);
        }, config.server.shutdownGraceMs);
        timer.unref();
        stopWatch();
        for (const gateway of gateways) await gateway.stop();
        await listener.stop();
        await (await jobs)?.stop();
        await runtime.close();
        log.info('stopped');
        log.flush?.();
        process.exit(0);
      };
      process.once('SIGTERM', () => void stop('SIGTERM'));
      process.once('SIGINT', () => void stop('SIGINT'));
      // The gateways start once SIGTERM is handled, so that a stop during start-up drains cleanly.
      if (only.includes('proxy')) {
        const { startProxyService } = await import('../../webfilter/proxy/service.ts');
        gateways.push(await startProxyService(runtime, { ownPorts: [listener.address.port] }));
      }
      if (only.includes('dns')) {
        const { startDnsService } = await import('../../webfilter/dns/service.ts');
        gateways.push(await startDnsService(runtime));
      }
      if (only.includes('mail') && config.mail.relay.enabled) {
        const { startMailService } = await import('../../mail/service.ts');
        gateways.push(await startMailService(runtime));
      }
      // Once the signal handlers are in place: the policy versions are recorded (GOV-4), then
      // reminders run on a timer, on the machine that serves the API (gateway-only machines leave
      // them to it).
      if (only.includes('api')) {
        jobs = import('../../notify/background.ts')
          .then(({ startBackgroundJobs }) => startBackgroundJobs(runtime))
          .catch((error: unknown) => {
            log.error({ err: error }, 'scheduled reminders did not start');
            return null;
          });
      }
    });

  program
    .command('migrate')
    .description('Bring the database schema up to date (also done on every start).')
    .action(async () => {
      const config = loadConfig({ file: program.opts<{ config?: string }>().config });
      const store = await openStore({ url: config.database.url, sqlitePath: sqlitePathOf(config) });
      try {
        const { applied } = await migrate(store);
        console.log(
          applied.length
            ? `Applied ${applied.length} migration(s) to ${store.describe}: ${applied.join(', ')}`
            : `${store.describe} is up to date.`,
        );
      } finally {
        await store.destroy();
      }
    });

  program
    .command('config')
    .description('Print the effective configuration (file and environment), secrets redacted.')
    .option('--json', 'print JSON instead of YAML')
    .action(async (opts: { json?: boolean }) => {
      const config = loadConfig({ file: program.opts<{ config?: string }>().config });
      const redacted = redactConfig(config);
      if (opts.json) console.log(JSON.stringify(redacted, null, 2));
      else console.log((await import('yaml')).stringify(redacted).trimEnd());
    });

  const audit = program.command('audit').description('The audit trail.');
  audit
    .command('verify')
    .description('Check the whole hash chain; names the first broken entry.')
    .action(async () => {
      const runtime = await openRuntime(runtimeOptions(program));
      try {
        const result = await runtime.audit.verify((checked, total) => {
          if (process.stderr.isTTY) process.stderr.write(`\rChecked ${checked} of ${total}`);
        });
        if (process.stderr.isTTY) process.stderr.write('\n');
        if (result.ok) {
          console.log(
            `The audit chain is unbroken: ${result.entries} entries, last hash ${result.lastHash}.`,
          );
        } else {
          console.log(
            `The audit chain is BROKEN at entry ${result.brokenAt} of ${result.entries}: ${result.problem}.`,
          );
          process.exitCode = EXIT.failure;
        }
      } finally {
        await runtime.close();
      }
    });
}
