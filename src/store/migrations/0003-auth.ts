// Accounts: remember the last TOTP time step accepted, so that one code cannot be used twice
// within its window; index the one-time tokens by purpose for the first-run check.
import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

export async function up(db: Kysely<unknown>, _ctx: MigrationContext): Promise<void> {
  await db.schema.alterTable('accounts').addColumn('totp_last_step', 'integer').execute();
  await db.schema
    .createIndex('setup_tokens_purpose')
    .on('setup_tokens')
    .columns(['purpose', 'used_at'])
    .execute();
}
