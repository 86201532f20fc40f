// Who is told when the pack says "notify these roles": every active person holding one of the
// roles who has an account that is not disabled. A person who has left, or whose account is
// switched off, gets no mail about the school's business.
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../store/schema.ts';

type Db = Kysely<Database> | Transaction<Database>;

export interface RoleRecipient {
  personId: string;
  email: string;
  givenName: string;
}

export async function activeHoldersOf(db: Db, roles: readonly string[]): Promise<RoleRecipient[]> {
  if (roles.length === 0) return [];
  const rows = await db
    .selectFrom('people')
    .innerJoin('person_roles', 'person_roles.person_id', 'people.id')
    .innerJoin('accounts', 'accounts.person_id', 'people.id')
    .select(['people.id', 'people.email', 'people.given_name'])
    .distinct()
    .where('person_roles.role', 'in', [...roles])
    .where('people.status', '=', 'active')
    .where('accounts.disabled', '=', 0)
    .orderBy('people.id')
    .execute();
  return rows.map((r) => ({ personId: r.id, email: r.email, givenName: r.given_name }));
}
