// SQL for policy versions and acceptances. Nothing but Kysely: the rules are in service.ts.
import type { Kysely, Transaction } from 'kysely';
import type { Database, PolicyAcceptancesTable, PolicyVersionsTable } from '../../store/schema.ts';

export type Db = Kysely<Database> | Transaction<Database>;
export type VersionRow = PolicyVersionsTable;
export type AcceptanceRow = PolicyAcceptancesTable;

export const countVersions = async (db: Db): Promise<number> => {
  const row = await db
    .selectFrom('policy_versions')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
};

export const allVersions = (db: Db): Promise<VersionRow[]> =>
  db.selectFrom('policy_versions').selectAll().orderBy('number', 'desc').execute();

export const versionByNumber = (db: Db, number: number): Promise<VersionRow | undefined> =>
  db.selectFrom('policy_versions').selectAll().where('number', '=', number).executeTakeFirst();

export const currentVersion = (db: Db): Promise<VersionRow | undefined> =>
  db
    .selectFrom('policy_versions')
    .selectAll()
    .where('status', '=', 'current')
    .orderBy('number', 'desc')
    .executeTakeFirst();

export const insertVersions = async (db: Db, rows: VersionRow[]): Promise<void> => {
  if (rows.length) await db.insertInto('policy_versions').values(rows).execute();
};

/** Marks the version in force superseded; answers how many rows changed (0 or 1). */
export async function supersede(db: Db, id: string, at: string): Promise<number> {
  const result = await db
    .updateTable('policy_versions')
    .set({ status: 'superseded', superseded_at: at })
    .where('id', '=', id)
    .where('status', '=', 'current')
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

export const acceptanceOf = (
  db: Db,
  versionId: string,
  personId: string,
): Promise<AcceptanceRow | undefined> =>
  db
    .selectFrom('policy_acceptances')
    .selectAll()
    .where('version_id', '=', versionId)
    .where('person_id', '=', personId)
    .executeTakeFirst();

/** Inserts unless the person already accepted this version; answers whether it inserted. */
export async function insertAcceptance(db: Db, row: AcceptanceRow): Promise<boolean> {
  const inserted = await db
    .insertInto('policy_acceptances')
    .values(row)
    .onConflict((oc) => oc.columns(['version_id', 'person_id']).doNothing())
    .returning('id')
    .execute();
  return inserted.length === 1;
}

export async function acceptancesOf(db: Db, versionId: string): Promise<Map<string, string>> {
  const rows = await db
    .selectFrom('policy_acceptances')
    .select(['person_id', 'accepted_at'])
    .where('version_id', '=', versionId)
    .execute();
  return new Map(rows.map((r) => [r.person_id, r.accepted_at]));
}
