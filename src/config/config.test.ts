import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, envKeyToPath, loadConfig, redactConfig } from './config.ts';
import { renderReference, settings } from './reference.ts';

describe('configuration', () => {
  it('runs with no file and no environment on the embedded defaults', () => {
    const config = loadConfig({ env: {} });
    expect(config.server.port).toBe(8080);
    expect(config.database.url).toBeUndefined();
    expect(config.policy.pack).toBe('./policy-packs/palfrey-infant');
  });

  it('reads a YAML file, then lets the environment win', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'custos-config-'));
    const file = path.join(dir, 'custos.yaml');
    writeFileSync(file, 'server:\n  port: 9000\n  host: 127.0.0.1\n');
    const config = loadConfig({
      file,
      env: { CUSTOS_SERVER__PORT: '9100', DATABASE_URL: 'postgres://h/db' },
    });
    expect(config.server).toMatchObject({ port: 9100, host: '127.0.0.1' });
    expect(config.database.url).toBe('postgres://h/db');
  });

  it('maps environment names to camel-case paths', () => {
    expect(envKeyToPath('CUSTOS_AUTH__OIDC__MICROSOFT__CLIENT_ID')).toEqual([
      'auth',
      'oidc',
      'microsoft',
      'clientId',
    ]);
  });

  it('names every invalid setting', () => {
    try {
      loadConfig({ env: { CUSTOS_SERVER__PORT: 'eighty', CUSTOS_LOG__LEVEL: 'loud' } });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const problems = (error as ConfigError).problems.join('\n');
      expect(problems).toMatch(/server\.port/);
      expect(problems).toMatch(/log\.level/);
    }
  });

  it('refuses a file that is not a mapping', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'custos-config-'));
    const file = path.join(dir, 'custos.yaml');
    writeFileSync(file, '- a\n- b\n');
    expect(() => loadConfig({ file, env: {} })).toThrow(/YAML mapping/);
  });

  it('redacts secrets and database passwords when printed', () => {
    const config = loadConfig({
      env: {
        DATABASE_URL: 'postgres://custos:hunter2@db/custos',
        CUSTOS_AUTH__OIDC__GOOGLE__CLIENT_ID: 'id',
        CUSTOS_AUTH__OIDC__GOOGLE__CLIENT_SECRET: 'shh',
      },
    });
    const text = JSON.stringify(redactConfig(config));
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('shh');
    expect(text).toContain('"clientId":"id"');
  });

  it('documents every setting', () => {
    const undocumented = settings().filter((s) => !s.description);
    expect(undocumented.map((s) => s.path)).toEqual([]);
  });

  it('docs/configuration.md is generated from the current schema (npm run docs:config)', () => {
    const onDisk = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    expect(onDisk).toBe(renderReference());
  });
});
