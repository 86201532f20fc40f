// What every command that touches the system needs, opened once: configuration, the migrated
// store, the policy in force, the audit log and sessions. Commands call openRuntime() and close()
// when done, so none of them re-implements start-up.
import pino, { type Logger } from 'pino';
import { type AuditLog, createAuditLog } from '../audit/service.ts';
import { createSessionService, type SessionService } from '../auth/session.service.ts';
import { type Config, loadConfig, sqlitePathOf } from '../config/config.ts';
import { createPolicyHolder, type PolicyHolder } from '../policy/holder.ts';
import { markStartupPolicy, startupPolicy } from '../policy/packs.ts';
import { openStore, type Store } from '../store/database.ts';
import { migrate } from '../store/migrations/index.ts';

export interface Runtime {
  config: Config;
  store: Store;
  audit: AuditLog;
  policy: PolicyHolder;
  sessions: SessionService;
  log: Logger;
  clock: () => Date;
  close(): Promise<void>;
}

export class StartupError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'StartupError';
  }
}

export interface RuntimeOptions {
  configFile?: string | undefined;
  overrides?: Record<string, unknown>;
  /** Logger to use; commands default to warnings only on stderr so their output stays clean. */
  log?: Logger;
  config?: Config;
  /** Start from the configured folder even when a pack was applied in the console. */
  ignoreAppliedPack?: boolean | undefined;
}

export async function openRuntime(options: RuntimeOptions = {}): Promise<Runtime> {
  const config =
    options.config ??
    loadConfig({
      ...(options.configFile ? { file: options.configFile } : {}),
      ...(options.overrides ? { overrides: options.overrides } : {}),
    });
  const log = options.log ?? pino({ level: 'warn' }, pino.destination(2));
  let store: Store;
  try {
    store = await openStore({ url: config.database.url, sqlitePath: sqlitePathOf(config) });
    await store.ping();
  } catch (error) {
    throw new StartupError(
      `Cannot open the database (${config.database.url ? 'PostgreSQL' : sqlitePathOf(config)}): ${error instanceof Error ? error.message : String(error)}`,
      EXIT.unavailable,
    );
  }
  await migrate(store);
  // Precedence: the pack applied most recently in the console (database), else the folder.
  const started = await startupPolicy(store, config.policy.pack, {
    ignoreApplied: options.ignoreAppliedPack ?? false,
  });
  if (!started.ok) {
    await store.destroy();
    throw new StartupError(started.message, EXIT.config);
  }
  log.info(
    started.source === 'database'
      ? { policy: started.policy.name, source: 'database', id: started.pack.id }
      : { policy: started.policy.name, source: 'folder', folder: started.folder },
    started.source === 'database'
      ? 'policy pack in force: the one applied in the console (it takes precedence over policy.pack)'
      : 'policy pack in force: the configured folder (no pack has been applied in the console)',
  );
  const clock = () => new Date();
  const audit = createAuditLog(store, clock);
  const policy = createPolicyHolder(started.policy);
  await markStartupPolicy(store, policy, started);
  const sessions = createSessionService({ store, config, policy, audit, clock });
  return {
    config,
    store,
    audit,
    policy,
    sessions,
    log,
    clock,
    close: () => store.destroy(),
  };
}

/** Exit codes, documented in docs/cli.md. */
export const EXIT = {
  ok: 0,
  failure: 1, // the command ran and found a problem (invalid pack, broken chain, rejected import)
  usage: 2, // wrong arguments
  config: 3, // configuration or policy pack invalid
  unavailable: 4, // database or port unavailable
} as const;
