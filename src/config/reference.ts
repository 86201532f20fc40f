// Renders the configuration reference (docs/configuration.md) from the schema itself, so the
// documentation cannot drift from the code: a test compares the file with this output.
import { z } from 'zod';
import { ConfigSchema } from './config.ts';

interface JsonSchema {
  type?: string;
  description?: string;
  properties?: Record<string, JsonSchema>;
  anyOf?: JsonSchema[];
  enum?: unknown[];
  items?: JsonSchema;
}

export interface SettingDoc {
  path: string;
  env: string;
  type: string;
  default: unknown;
  description: string | undefined;
}

const toEnvSegment = (key: string) => key.replace(/([A-Z])/g, '_$1').toUpperCase();
export const envNameOf = (path: string[]) => `CUSTOS_${path.map(toEnvSegment).join('__')}`;

function typeOf(schema: JsonSchema): string {
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(' \\| ');
  if (schema.anyOf) {
    const bool = schema.anyOf.some((s) => s.type === 'boolean');
    return bool ? 'boolean' : schema.anyOf.map(typeOf).join(' \\| ');
  }
  if (schema.type === 'array') return `list of ${schema.items ? typeOf(schema.items) : 'values'}`;
  return schema.type ?? 'value';
}

function valueAt(root: unknown, path: string[]): unknown {
  let node = root;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

export function settings(): SettingDoc[] {
  const json = z.toJSONSchema(ConfigSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const defaults = ConfigSchema.parse({});
  const out: SettingDoc[] = [];
  const walk = (schema: JsonSchema, path: string[]) => {
    if (schema.type === 'object' && schema.properties) {
      for (const [key, child] of Object.entries(schema.properties)) walk(child, [...path, key]);
      return;
    }
    out.push({
      path: path.join('.'),
      env: envNameOf(path),
      type: typeOf(schema),
      default: valueAt(defaults, path),
      description: schema.description,
    });
  };
  walk(json, []);
  return out;
}

export function sections(): { key: string; description: string | undefined }[] {
  const json = z.toJSONSchema(ConfigSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  return Object.entries(json.properties ?? {})
    .filter(([, s]) => s.type === 'object')
    .map(([key, s]) => ({ key, description: s.description }));
}

export function renderReference(): string {
  const lines = [
    '# Configuration reference',
    '',
    'Custos reads one configuration object: first a YAML file (`--config FILE`, else `CUSTOS_CONFIG`, else',
    '`./custos.yaml` when it exists), then environment variables, which win. Every setting has a',
    'default, so Custos runs with no configuration at all (SQLite under `./data`, the Palfrey Infant',
    'School pack). `custos config` prints the effective values with secrets redacted.',
    '',
    'An environment variable is `CUSTOS_` followed by the path in upper case, with `__` between levels',
    'and `_` between words: `auth.oidc.microsoft.clientId` is `CUSTOS_AUTH__OIDC__MICROSOFT__CLIENT_ID`.',
    'Lists are given as JSON (`CUSTOS_AUTH__OIDC__GOOGLE__ALLOWED_DOMAINS=\'["palfreyinfant.co.uk"]\'`).',
    '`DATABASE_URL` is also read, as `database.url`.',
    '',
    'This file is generated from the schema in `src/config/config.ts` by `npm run docs:config`; a test',
    'fails when it is out of date.',
    '',
    '## Example `custos.yaml`',
    '',
    '```yaml',
    'server:',
    '  port: 8080',
    '  publicUrl: https://custos.palfreyinfant.co.uk',
    'database:',
    '  url: postgres://custos:secret@db.internal:5432/custos',
    'auth:',
    '  oidc:',
    '    microsoft:',
    '      clientId: 00000000-0000-0000-0000-000000000000',
    '      clientSecret: from-the-app-registration',
    '      issuer: https://login.microsoftonline.com/YOUR-TENANT-ID/v2.0',
    '```',
    '',
  ];
  const all = settings();
  for (const section of [{ key: '', description: 'Top level.' }, ...sections()]) {
    const rows = all.filter((s) =>
      section.key ? s.path.startsWith(`${section.key}.`) : !s.path.includes('.'),
    );
    if (!rows.length) continue;
    lines.push(`## ${section.key || 'General'}`, '', section.description ?? '', '');
    lines.push(
      '| setting | environment variable | type | default | meaning |',
      '|---|---|---|---|---|',
    );
    for (const s of rows) {
      const def = s.default === undefined ? '(unset)' : `\`${JSON.stringify(s.default)}\``;
      lines.push(
        `| \`${s.path}\` | \`${s.env}\` | ${s.type} | ${def} | ${(s.description ?? '').replaceAll('|', '\\|')} |`,
      );
    }
    lines.push('');
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(renderReference());
}
