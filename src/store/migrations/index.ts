// One migration set for both databases. Each migration receives the dialect so that the rare
// statement that must differ (triggers) can; tables are built with Kysely's schema builder only.
// Migrations only go forward: a school restores from backup rather than migrating down.
import { type Kysely, type Migration, type MigrationProvider, Migrator } from 'kysely';
import type { DialectName, Store } from '../database.ts';
import * as foundation from './0001-foundation.ts';
import * as directory from './0002-directory.ts';
import * as auth from './0003-auth.ts';
import * as policyDocument from './0004-policy-document.ts';
import * as policyPacks from './0005-policy-packs.ts';
import * as webfilter from './0006-webfilter.ts';
import * as siteReviews from './0007-site-reviews.ts';
import * as webActivityHits from './0008-web-activity-hits.ts';
import * as mail from './0009-mail.ts';

export interface MigrationContext {
  dialect: DialectName;
}

type Step = (db: Kysely<unknown>, ctx: MigrationContext) => Promise<void>;

const steps: Record<string, { up: Step }> = {
  '0001-foundation': foundation,
  '0002-directory': directory,
  '0003-auth': auth,
  '0004-policy-document': policyDocument,
  '0005-policy-packs': policyPacks,
  '0006-webfilter': webfilter,
  '0007-site-reviews': siteReviews,
  '0008-web-activity-hits': webActivityHits,
  '0009-mail': mail,
};

class StaticProvider implements MigrationProvider {
  constructor(private readonly ctx: MigrationContext) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    return Object.fromEntries(
      Object.entries(steps).map(([name, step]) => [
        name,
        { up: (db: Kysely<unknown>) => step.up(db, this.ctx) },
      ]),
    );
  }
}

export interface MigrateResult {
  applied: string[];
}

export async function migrate(store: Store): Promise<MigrateResult> {
  const migrator = new Migrator({
    db: store.db as unknown as Kysely<unknown>,
    provider: new StaticProvider({ dialect: store.dialect }),
    migrationTableName: 'custos_migrations',
    migrationLockTableName: 'custos_migrations_lock',
    // Kysely looks for its tables across every schema unless told which; name ours so that a
    // second Custos schema in the same database is never mistaken for this one.
    ...(store.schema ? { migrationTableSchema: store.schema } : {}),
    // Each migration creates its own tables, so one that lands after a higher-numbered one (work
    // merged from parallel branches) still applies cleanly instead of refusing the database.
    allowUnorderedMigrations: true,
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(
      `Migration ${failed?.migrationName ?? '(unknown)'} failed: ${message}. No later migration ran; the database is as it was before that one.`,
    );
  }
  return {
    applied: (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName),
  };
}
