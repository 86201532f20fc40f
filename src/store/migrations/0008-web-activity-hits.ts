// Web activity recorded in aggregate (WEB-6): one row stands for identical decisions within a
// time window (hits, last_at), and visits group one person's (or device's) requests to one site
// into sessions, so that duration and frequency can be reported. Sums of bytes and durations need
// 64 bits on PostgreSQL (SQLite's integers have them already).
import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

export async function up(db: Kysely<unknown>, ctx: MigrationContext): Promise<void> {
  await db.schema
    .alterTable('web_activity')
    .addColumn('hits', 'integer', (c) => c.notNull().defaultTo(1))
    .execute();
  // null: the same as `at` (one hit, or every hit in the same millisecond).
  await db.schema.alterTable('web_activity').addColumn('last_at', 'text').execute();
  if (ctx.dialect === 'postgres') {
    await db.schema
      .alterTable('web_activity')
      .alterColumn('bytes', (c) => c.setDataType('bigint'))
      .alterColumn('duration_ms', (c) => c.setDataType('bigint'))
      .execute();
  }

  await db.schema
    .createTable('web_visits')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('source', 'text', (c) => c.notNull()) // proxy | dns
    .addColumn('person_id', 'text')
    .addColumn('device_id', 'text')
    .addColumn('client_ip', 'text', (c) => c.notNull())
    .addColumn('host', 'text', (c) => c.notNull())
    .addColumn('started_at', 'text', (c) => c.notNull())
    .addColumn('ended_at', 'text', (c) => c.notNull())
    .addColumn('duration_ms', 'bigint', (c) => c.notNull()) // ended_at - started_at
    .addColumn('requests', 'integer', (c) => c.notNull())
    .addColumn('blocked', 'integer', (c) => c.notNull())
    .addColumn('bytes', 'bigint', (c) => c.notNull())
    .addColumn('closed', 'integer', (c) => c.notNull()) // 0 while the visit may go on
    .execute();
  await db.schema.createIndex('web_visits_started').on('web_visits').column('started_at').execute();
  await db.schema
    .createIndex('web_visits_person_started')
    .on('web_visits')
    .columns(['person_id', 'started_at'])
    .execute();
}
