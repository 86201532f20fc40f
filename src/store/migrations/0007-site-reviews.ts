// Requests to review a blocked site, made from the proxy's block page. The School Business
// Manager works through them (allow the site, or explain why it stays blocked); the proxy only
// records them.
import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

export async function up(db: Kysely<unknown>, _ctx: MigrationContext): Promise<void> {
  await db.schema
    .createTable('site_review_requests')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('host', 'text', (c) => c.notNull())
    .addColumn('url', 'text', (c) => c.notNull())
    .addColumn('person_id', 'text', (c) => c.references('people.id').onDelete('set null'))
    .addColumn('device_id', 'text', (c) => c.references('devices.id').onDelete('set null'))
    .addColumn('client_ip', 'text', (c) => c.notNull())
    .addColumn('categories', 'text', (c) => c.notNull()) // JSON array, as blocked
    .addColumn('clause_ids', 'text', (c) => c.notNull()) // JSON array, as blocked
    .addColumn('reason', 'text', (c) => c.notNull()) // the requester's words
    .addColumn('status', 'text', (c) => c.notNull()) // open | allowed | refused
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('decided_by', 'text')
    .addColumn('decided_at', 'text')
    .addColumn('decision_note', 'text')
    .execute();
  await db.schema
    .createIndex('site_review_requests_status')
    .on('site_review_requests')
    .columns(['status', 'created_at'])
    .execute();
}
