// The policy as a published document (GOV-2 to GOV-6): one row per version, never edited in
// place once superseded; one acceptance per person per version; and the outbox of e-mail
// notifications, which keeps every message until the relay has accepted it.
import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

export async function up(db: Kysely<unknown>, _ctx: MigrationContext): Promise<void> {
  await db.schema
    .createTable('policy_versions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('number', 'integer', (c) => c.notNull().unique())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('release_date', 'text')
    .addColumn('approval_body', 'text')
    .addColumn('approval_date', 'text')
    .addColumn('approval_signatory', 'text')
    .addColumn('note', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('pack_name', 'text')
    .addColumn('pack_text', 'text')
    .addColumn('pack_sha256', 'text')
    .addColumn('published_at', 'text', (c) => c.notNull())
    .addColumn('published_by', 'text')
    .addColumn('published_by_label', 'text', (c) => c.notNull())
    .addColumn('superseded_at', 'text')
    .execute();
  await db.schema
    .createIndex('policy_versions_status')
    .on('policy_versions')
    .column('status')
    .execute();

  await db.schema
    .createTable('policy_acceptances')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('version_id', 'text', (c) => c.notNull().references('policy_versions.id'))
    .addColumn('person_id', 'text', (c) => c.notNull().references('people.id'))
    .addColumn('accepted_at', 'text', (c) => c.notNull())
    .addColumn('ip', 'text', (c) => c.notNull())
    .addColumn('user_agent', 'text', (c) => c.notNull())
    .addUniqueConstraint('policy_acceptances_version_person', ['version_id', 'person_id'])
    .execute();
  await db.schema
    .createIndex('policy_acceptances_person')
    .on('policy_acceptances')
    .column('person_id')
    .execute();

  await db.schema
    .createTable('notification_outbox')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('to_address', 'text', (c) => c.notNull())
    .addColumn('to_person_id', 'text')
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('text', 'text', (c) => c.notNull())
    .addColumn('html', 'text')
    .addColumn('related_type', 'text')
    .addColumn('related_id', 'text')
    .addColumn('dedupe_key', 'text', (c) => c.unique())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('next_attempt_at', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_error', 'text')
    .addColumn('sent_at', 'text')
    .addColumn('message_id', 'text')
    .execute();
  await db.schema
    .createIndex('notification_outbox_due')
    .on('notification_outbox')
    .columns(['sent_at', 'next_attempt_at'])
    .execute();
  await db.schema
    .createIndex('notification_outbox_person_kind')
    .on('notification_outbox')
    .columns(['to_person_id', 'kind', 'created_at'])
    .execute();
}
