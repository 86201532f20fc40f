// What the web and DNS filter need to know who is behind a request and what applies to them:
// attached devices (SYS-6), access withdrawals (BRE-2), per-person site restrictions (PER-4),
// personal-use authorisations (PER-1/2), the school's own allow and deny lists, and the activity
// records themselves (WEB-6/7). The approval workflows that fill the registers come later; the
// filters only read them.
import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

export async function up(db: Kysely<unknown>, _ctx: MigrationContext): Promise<void> {
  await db.schema
    .createTable('devices')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('person_id', 'text', (c) => c.references('people.id').onDelete('set null'))
    .addColumn('kind', 'text', (c) => c.notNull()) // laptop, tablet, phone, ... (SCP-2)
    .addColumn('label', 'text', (c) => c.notNull())
    .addColumn('mac', 'text')
    .addColumn('hostname', 'text')
    .addColumn('ip', 'text')
    .addColumn('status', 'text', (c) => c.notNull()) // approved | pending | revoked
    .addColumn('approved_by', 'text')
    .addColumn('approved_at', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('devices_ip').on('devices').column('ip').execute();
  await db.schema.createIndex('devices_person').on('devices').column('person_id').execute();

  await db.schema
    .createTable('access_withdrawals')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('person_id', 'text', (c) => c.notNull().references('people.id').onDelete('cascade'))
    .addColumn('web', 'integer', (c) => c.notNull())
    .addColumn('mail', 'integer', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('withdrawn_by', 'text', (c) => c.notNull())
    .addColumn('withdrawn_at', 'text', (c) => c.notNull())
    .addColumn('lifted_by', 'text')
    .addColumn('lifted_at', 'text')
    .execute();
  await db.schema
    .createIndex('access_withdrawals_person')
    .on('access_withdrawals')
    .column('person_id')
    .execute();

  await db.schema
    .createTable('web_restrictions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('person_id', 'text', (c) => c.notNull().references('people.id').onDelete('cascade'))
    .addColumn('host', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('removed_by', 'text')
    .addColumn('removed_at', 'text')
    .execute();
  await db.schema
    .createIndex('web_restrictions_person')
    .on('web_restrictions')
    .column('person_id')
    .execute();

  await db.schema
    .createTable('personal_use_authorisations')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('person_id', 'text', (c) => c.notNull().references('people.id').onDelete('cascade'))
    .addColumn('starts_on', 'text', (c) => c.notNull()) // YYYY-MM-DD
    .addColumn('ends_on', 'text') // YYYY-MM-DD, inclusive; null = until withdrawn
    .addColumn('daily_from', 'text') // HH:MM local time, null = all day
    .addColumn('daily_to', 'text')
    .addColumn('categories', 'text', (c) => c.notNull()) // JSON array; [] = every PER-2 category
    .addColumn('conditions', 'text', (c) => c.notNull())
    .addColumn('approved_by', 'text', (c) => c.notNull())
    .addColumn('approved_at', 'text', (c) => c.notNull())
    .addColumn('withdrawn_by', 'text')
    .addColumn('withdrawn_at', 'text')
    .execute();

  await db.schema
    .createTable('web_lists')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('list', 'text', (c) => c.notNull()) // allow | deny
    .addColumn('host', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('added_by', 'text', (c) => c.notNull())
    .addColumn('added_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('web_lists_entry')
    .on('web_lists')
    .columns(['list', 'host'])
    .unique()
    .execute();

  await db.schema
    .createTable('web_activity')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull()) // proxy | dns | import
    .addColumn('person_id', 'text')
    .addColumn('device_id', 'text')
    .addColumn('client_ip', 'text', (c) => c.notNull())
    .addColumn('method', 'text')
    .addColumn('host', 'text', (c) => c.notNull())
    .addColumn('path', 'text')
    .addColumn('categories', 'text', (c) => c.notNull()) // JSON array
    .addColumn('decision', 'text', (c) => c.notNull()) // allow | block
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('clause_ids', 'text', (c) => c.notNull()) // JSON array
    .addColumn('status', 'integer')
    .addColumn('bytes', 'integer', (c) => c.notNull())
    .addColumn('duration_ms', 'integer', (c) => c.notNull())
    .addColumn('search_terms', 'text')
    .execute();
  await db.schema.createIndex('web_activity_at').on('web_activity').column('at').execute();
  await db.schema
    .createIndex('web_activity_person_at')
    .on('web_activity')
    .columns(['person_id', 'at'])
    .execute();
}
