// Policy packs uploaded in the console: every upload is kept with its check result, and the pack
// applied most recently is the one in force (it wins over the configured folder on start-up).
import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

export async function up(db: Kysely<unknown>, _ctx: MigrationContext): Promise<void> {
  await db.schema
    .createTable('policy_packs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('file_name', 'text', (c) => c.notNull())
    .addColumn('yaml', 'text', (c) => c.notNull())
    .addColumn('sha256', 'text', (c) => c.notNull())
    .addColumn('size_bytes', 'integer', (c) => c.notNull())
    .addColumn('valid', 'integer', (c) => c.notNull())
    .addColumn('errors', 'text', (c) => c.notNull())
    .addColumn('summary', 'text')
    .addColumn('uploaded_at', 'text', (c) => c.notNull())
    .addColumn('uploaded_by', 'text')
    .addColumn('uploaded_by_label', 'text', (c) => c.notNull())
    .addColumn('applied_at', 'text')
    .addColumn('applied_by', 'text')
    .addColumn('applied_by_label', 'text')
    .execute();
  await db.schema
    .createIndex('policy_packs_applied_at')
    .on('policy_packs')
    .column('applied_at')
    .execute();
  await db.schema
    .createIndex('policy_packs_uploaded_at')
    .on('policy_packs')
    .column('uploaded_at')
    .execute();
}
