// Fresh, migrated stores for tests: SQLite in a temporary folder always, and PostgreSQL at
// TEST_DATABASE_URL (default postgres://127.0.0.1:5432/test) in a schema of its own per store.
// Without a reachable PostgreSQL the PostgreSQL cases are skipped with a printed reason; under
// CI=true they fail instead, so CI cannot pass by not testing PostgreSQL.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeEach, describe } from 'vitest';
import { type DialectName, openStore, type Store } from '../../src/store/database.ts';
import { migrate } from '../../src/store/migrations/index.ts';

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://127.0.0.1:5432/test';

let pgReachable: Promise<string | null> | undefined;

/** null when reachable, otherwise the reason. */
export function postgresProblem(): Promise<string | null> {
  pgReachable ??= (async () => {
    const url = new URL(TEST_DATABASE_URL);
    if (!url.username) url.username = (await import('node:os')).userInfo().username;
    const client = new pg.Client({
      connectionString: url.toString(),
      connectionTimeoutMillis: 3000,
    });
    try {
      await client.connect();
      await client.query('select 1');
      return null;
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    } finally {
      await client.end().catch(() => {});
    }
  })();
  return pgReachable;
}

const cleanups: (() => Promise<void>)[] = [];

export async function freshStore(dialect: DialectName): Promise<Store> {
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(path.join(tmpdir(), 'custos-test-'));
    const store = await openStore({ sqlitePath: path.join(dir, 'custos.db') });
    await migrate(store);
    cleanups.push(async () => {
      await store.destroy().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    });
    return store;
  }
  const schema = `t_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const store = await openStore({ url: TEST_DATABASE_URL, sqlitePath: '', pgSchema: schema });
  await migrate(store);
  cleanups.push(async () => {
    await store.destroy().catch(() => {});
    const url = new URL(TEST_DATABASE_URL);
    if (!url.username) url.username = (await import('node:os')).userInfo().username;
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    await client.query(`drop schema if exists ${schema} cascade`);
    await client.end();
  });
  return store;
}

export async function cleanupStores(): Promise<void> {
  while (cleanups.length) await cleanups.pop()!();
}

const problem = await postgresProblem();
if (problem && process.env.CI === 'true') {
  throw new Error(
    `PostgreSQL at ${TEST_DATABASE_URL} is not reachable (${problem}); CI requires it.`,
  );
}
if (problem) {
  console.warn(
    `[store tests] skipping PostgreSQL: ${TEST_DATABASE_URL} is not reachable (${problem}).`,
  );
}

export const dialects: DialectName[] = problem ? ['sqlite'] : ['sqlite', 'postgres'];

/**
 * Runs a block of tests once per database. `ctx.store` is a fresh, migrated store for each test.
 */
export function describeEachStore(
  name: string,
  body: (ctx: { readonly store: Store; readonly dialect: DialectName }) => void,
): void {
  for (const dialect of dialects) {
    describe(`${name} [${dialect}]`, () => {
      const ctx = { store: undefined as unknown as Store, dialect };
      beforeEach(async () => {
        ctx.store = await freshStore(dialect);
      });
      afterEach(async () => {
        await cleanupStores();
      });
      afterAll(async () => {
        await cleanupStores();
      });
      body(ctx);
    });
  }
}
