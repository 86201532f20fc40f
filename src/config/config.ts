// Custos configuration: one zod-validated object, read from an optional YAML file and then from
// environment variables (CUSTOS_SECTION__KEY=value, plus DATABASE_URL). Every setting carries a
// description; `custos config` prints the effective values with secrets redacted and
// docs/configuration.md is generated from the same schema.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

const port = z.coerce.number().int().min(0).max(65535);
/** true/false from YAML, or "true"/"false"/"1"/"0" from the environment. */
const flag = z.union([
  z.boolean(),
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .transform((v) => ['true', '1', 'yes'].includes(v)),
]);

const oidcProvider = z
  .object({
    clientId: z
      .string()
      .min(1)
      .describe('The application (client) id registered with the provider.'),
    clientSecret: z.string().min(1).describe('The client secret registered with the provider.'),
    issuer: z
      .string()
      .url()
      .optional()
      .describe(
        'Issuer URL. Microsoft: https://login.microsoftonline.com/TENANT_ID/v2.0; Google: https://accounts.google.com. Only needed to override the default.',
      ),
    allowedDomains: z
      .array(z.string())
      .default([])
      .describe(
        'E-mail domains whose people may sign in this way (for example ["palfreyinfant.co.uk"]). Empty allows any domain of people already in the directory.',
      ),
  })
  .describe('An OpenID Connect provider.');

export const ConfigSchema = z.object({
  dataDir: z
    .string()
    .default('./data')
    .describe('Folder for the SQLite database, keys and other local state.'),
  server: z
    .object({
      host: z.string().default('0.0.0.0').describe('Address the console and API listen on.'),
      port: port.default(8080).describe('Port of the console and API.'),
      publicUrl: z
        .string()
        .url()
        .default('http://localhost:8080')
        .describe(
          'The address people use to reach the console; used in links sent by e-mail and printed in the terminal, and as the OpenID Connect redirect base.',
        ),
      bodyLimitBytes: z.coerce
        .number()
        .int()
        .positive()
        .default(10 * 1024 * 1024)
        .describe('Largest request body the API accepts (CSV imports included).'),
      trustProxy: flag
        .default(false)
        .describe(
          'Trust X-Forwarded-For from a reverse proxy in front of the console. Leave off unless there is one.',
        ),
      shutdownGraceMs: z.coerce
        .number()
        .int()
        .positive()
        .default(10_000)
        .describe('How long SIGTERM waits for requests in flight before closing.'),
    })
    .prefault({})
    .describe('The console and API.'),
  database: z
    .object({
      url: z
        .string()
        .optional()
        .describe(
          'PostgreSQL connection string (postgres://user:pass@host:5432/db). When unset, SQLite is used. Also read from DATABASE_URL.',
        ),
      sqlitePath: z
        .string()
        .optional()
        .describe('SQLite database file. Defaults to custos.db inside dataDir.'),
    })
    .prefault({})
    .describe('Where Custos keeps its records.'),
  policy: z
    .object({
      pack: z
        .string()
        .default('./policy-packs/palfrey-infant')
        .describe('Folder of the policy pack in force (policy.yaml inside).'),
    })
    .prefault({})
    .describe('The policy pack.'),
  auth: z
    .object({
      cookieSecure: z
        .enum(['auto', 'always', 'never'])
        .default('auto')
        .describe(
          'Mark the session cookie Secure: "auto" does so when publicUrl is https, "always" or "never" force it.',
        ),
      sessionMaxHours: z.coerce
        .number()
        .positive()
        .default(12)
        .describe('A session ends this many hours after sign-in, whatever the activity.'),
      maxFailedSignIns: z.coerce
        .number()
        .int()
        .positive()
        .default(5)
        .describe('Failed sign-ins in a row before the account is locked for lockoutMinutes.'),
      lockoutMinutes: z.coerce
        .number()
        .positive()
        .default(15)
        .describe('How long an account stays locked after too many failed sign-ins.'),
      signInRatePerMinute: z.coerce
        .number()
        .int()
        .positive()
        .default(20)
        .describe('Sign-in attempts one client address may make per minute.'),
      argon2: z
        .object({
          memoryKiB: z.coerce
            .number()
            .int()
            .min(8192)
            .default(19456)
            .describe('Argon2id memory cost in KiB (OWASP minimum 19 MiB).'),
          timeCost: z.coerce.number().int().min(1).default(2).describe('Argon2id iterations.'),
          parallelism: z.coerce.number().int().min(1).default(1).describe('Argon2id lanes.'),
        })
        .prefault({})
        .describe('Password hashing cost; see bench/sign-in.ts for its price per attempt.'),
      oidc: z
        .object({
          microsoft: oidcProvider.optional().describe('Sign in with Microsoft (Entra ID).'),
          google: oidcProvider.optional().describe('Sign in with Google (Workspace).'),
        })
        .prefault({})
        .describe('Single sign-on providers; each appears on the sign-in page once configured.'),
    })
    .prefault({})
    .describe('Accounts, sessions and sign-in.'),
  log: z
    .object({
      level: z
        .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
        .default('info')
        .describe('Least severe log level written.'),
    })
    .prefault({})
    .describe('Logging (JSON lines on standard output).'),
});

export type Config = z.infer<typeof ConfigSchema>;

export class ConfigError extends Error {
  constructor(
    message: string,
    readonly problems: string[],
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

const ENV_PREFIX = 'CUSTOS_';

/** Turns CUSTOS_AUTH__OIDC__GOOGLE__CLIENT_ID into ['auth', 'oidc', 'google', 'clientId']. */
export function envKeyToPath(key: string): string[] {
  return key
    .slice(ENV_PREFIX.length)
    .split('__')
    .map((part) => part.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()));
}

function setPath(target: Record<string, unknown>, keys: string[], value: unknown): void {
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]!] = value;
}

function envValue(raw: string): unknown {
  const trimmed = raw.trim();
  if (trimmed.startsWith('[') || trimmed.startsWith('{')) {
    try {
      return JSON.parse(trimmed);
    } catch {
      return raw;
    }
  }
  return raw;
}

export interface LoadConfigOptions {
  /** A YAML file; when unset, CUSTOS_CONFIG or ./custos.yaml if it exists. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Values that win over everything else (command-line flags). */
  overrides?: Record<string, unknown>;
}

export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const explicit = options.file ?? env.CUSTOS_CONFIG;
  const file = explicit ?? (existsSync('custos.yaml') ? 'custos.yaml' : undefined);
  let raw: Record<string, unknown> = {};
  if (file) {
    if (!existsSync(file)) throw new ConfigError(`Configuration file ${file} does not exist.`, []);
    const parsed = parseYaml(readFileSync(file, 'utf8')) as unknown;
    if (parsed !== null && (typeof parsed !== 'object' || Array.isArray(parsed))) {
      throw new ConfigError(`Configuration file ${file} must hold a YAML mapping.`, []);
    }
    raw = (parsed as Record<string, unknown>) ?? {};
  }
  for (const [key, value] of Object.entries(env)) {
    if (!key.startsWith(ENV_PREFIX) || key === 'CUSTOS_CONFIG' || value === undefined) continue;
    setPath(raw, envKeyToPath(key), envValue(value));
  }
  if (env.DATABASE_URL) setPath(raw, ['database', 'url'], env.DATABASE_URL);
  for (const [dotted, value] of Object.entries(options.overrides ?? {})) {
    if (value !== undefined) setPath(raw, dotted.split('.'), value);
  }
  const result = ConfigSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map(
      (issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`,
    );
    throw new ConfigError(
      `The configuration is not valid${file ? ` (${file} and environment)` : ''}:\n  ${problems.join('\n  ')}`,
      problems,
    );
  }
  return result.data;
}

export function sqlitePathOf(config: Config): string {
  return config.database.sqlitePath ?? path.join(config.dataDir, 'custos.db');
}

const SECRET_KEY = /secret|password|token|key$/i;

/** A copy with secrets replaced, for printing. */
export function redactConfig(config: Config): unknown {
  const walk = (value: unknown, key: string): unknown => {
    if (typeof value === 'string') {
      if (SECRET_KEY.test(key)) return '(redacted)';
      if (key === 'url' && /^postgres(ql)?:/.test(value)) {
        try {
          const url = new URL(value);
          if (url.password) url.password = 'redacted';
          return url.toString();
        } catch {
          return '(redacted)';
        }
      }
      return value;
    }
    if (Array.isArray(value)) return value.map((v) => walk(v, key));
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, k)]));
    }
    return value;
  };
  return walk(config, '');
}
