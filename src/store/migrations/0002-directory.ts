// Indexes for searching and sorting the directory at school-trust scale (100,000 people): name
// order with a tiebreak for stable paging, case-insensitive prefix look-ups, status and role
// filters. Contains-matching scans, which stays fast at this size.
import { type Kysely, sql } from 'kysely';
import type { MigrationContext } from './index.ts';

export async function up(db: Kysely<unknown>, _ctx: MigrationContext): Promise<void> {
  await db.schema
    .createIndex('people_name_order')
    .on('people')
    .columns(['family_name', 'given_name', 'id'])
    .execute();
  await db.schema
    .createIndex('people_family_name_lower')
    .on('people')
    .expression(sql`lower(family_name)`)
    .execute();
  await db.schema
    .createIndex('people_given_name_lower')
    .on('people')
    .expression(sql`lower(given_name)`)
    .execute();
  await db.schema.createIndex('people_status').on('people').column('status').execute();
  await db.schema.createIndex('person_roles_role').on('person_roles').column('role').execute();
  await db.schema
    .createIndex('groups_name_lower')
    .on('groups')
    .expression(sql`lower(name)`)
    .unique()
    .execute();
}
