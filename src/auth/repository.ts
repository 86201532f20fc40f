// The SQL of accounts, one-time tokens and single sign-on identities. Nothing but Kysely; callers
// pass the transaction to run in. People are read here only joined to their account (for
// sign-in); they are created and changed through the directory service.
import type { Kysely } from 'kysely';
import type { AccountsTable, Database, SetupTokensTable } from '../store/schema.ts';

export type Db = Kysely<Database>;
export type AccountRow = AccountsTable;

export interface AccountWithPerson {
  account: AccountRow;
  person: {
    id: string;
    email: string;
    givenName: string;
    familyName: string;
    status: string;
  };
}

const personColumns = [
  'people.id as p_id',
  'people.email as p_email',
  'people.given_name as p_given_name',
  'people.family_name as p_family_name',
  'people.status as p_status',
] as const;

function split(row: AccountRow & Record<`p_${string}`, string>): AccountWithPerson {
  const { p_id, p_email, p_given_name, p_family_name, p_status, ...account } = row;
  return {
    account: account as AccountRow,
    person: {
      id: p_id!,
      email: p_email!,
      givenName: p_given_name!,
      familyName: p_family_name!,
      status: p_status!,
    },
  };
}

function withPerson(db: Db) {
  return db
    .selectFrom('accounts')
    .innerJoin('people', 'people.id', 'accounts.person_id')
    .selectAll('accounts')
    .select(personColumns);
}

export async function accountByEmail(db: Db, email: string): Promise<AccountWithPerson | null> {
  const row = await withPerson(db).where('people.email', '=', email).executeTakeFirst();
  return row ? split(row as never) : null;
}

export async function accountById(db: Db, id: string): Promise<AccountWithPerson | null> {
  const row = await withPerson(db).where('accounts.id', '=', id).executeTakeFirst();
  return row ? split(row as never) : null;
}

export async function accountByPersonId(
  db: Db,
  personId: string,
): Promise<AccountWithPerson | null> {
  const row = await withPerson(db).where('accounts.person_id', '=', personId).executeTakeFirst();
  return row ? split(row as never) : null;
}

export async function insertAccount(db: Db, row: AccountRow): Promise<void> {
  await db.insertInto('accounts').values(row).execute();
}

export async function updateAccount(
  db: Db,
  id: string,
  values: Partial<Omit<AccountRow, 'id' | 'person_id' | 'created_at'>>,
): Promise<void> {
  await db.updateTable('accounts').set(values).where('id', '=', id).execute();
}

/** Adds one to the failed counter and returns the new value. */
export async function incrementFailures(db: Db, id: string, updatedAt: string): Promise<number> {
  await db
    .updateTable('accounts')
    .set((eb) => ({ failed_sign_ins: eb('failed_sign_ins', '+', 1), updated_at: updatedAt }))
    .where('id', '=', id)
    .execute();
  const row = await db
    .selectFrom('accounts')
    .select('failed_sign_ins')
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
  return Number(row.failed_sign_ins);
}

/**
 * Records a TOTP step as used, only if it is later than the last one: false when another request
 * took this step (or a later one) first.
 */
export async function claimTotpStep(db: Db, id: string, step: number): Promise<boolean> {
  const result = await db
    .updateTable('accounts')
    .set({ totp_last_step: step, failed_sign_ins: 0 })
    .where('id', '=', id)
    .where((eb) => eb.or([eb('totp_last_step', 'is', null), eb('totp_last_step', '<', step)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function countAccounts(db: Db): Promise<number> {
  const row = await db
    .selectFrom('accounts')
    .select((eb) => eb.fn.countAll().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function rolesOfPerson(db: Db, personId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('person_roles')
    .select('role')
    .where('person_id', '=', personId)
    .execute();
  return rows.map((r) => r.role).sort();
}

export async function insertToken(db: Db, row: SetupTokensTable): Promise<void> {
  await db.insertInto('setup_tokens').values(row).execute();
}

/** Marks an unused, unexpired token of this purpose as used; the row, or null if none was. */
export async function redeemToken(
  db: Db,
  id: string,
  purpose: string,
  now: string,
): Promise<SetupTokensTable | null> {
  const result = await db
    .updateTable('setup_tokens')
    .set({ used_at: now })
    .where('id', '=', id)
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) !== 1) return null;
  return (
    (await db.selectFrom('setup_tokens').selectAll().where('id', '=', id).executeTakeFirst()) ??
    null
  );
}

/** Removes unused tokens of a purpose (and account), so only the newest link works. */
export async function dropUnusedTokens(
  db: Db,
  purpose: string,
  accountId: string | null,
): Promise<void> {
  let query = db
    .deleteFrom('setup_tokens')
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null);
  query =
    accountId === null
      ? query.where('account_id', 'is', null)
      : query.where('account_id', '=', accountId);
  await query.execute();
}

export async function accountIdByIdentity(
  db: Db,
  provider: string,
  subject: string,
): Promise<string | null> {
  const row = await db
    .selectFrom('oidc_identities')
    .select('account_id')
    .where('provider', '=', provider)
    .where('subject', '=', subject)
    .executeTakeFirst();
  return row?.account_id ?? null;
}

export async function insertIdentity(db: Db, row: Database['oidc_identities']): Promise<void> {
  await db.insertInto('oidc_identities').values(row).execute();
}

export async function insertSecurityFlag(db: Db, row: Database['security_flags']): Promise<void> {
  await db.insertInto('security_flags').values(row).execute();
}
