// The directory's SQL: people, their groups and roles, groups. Nothing but Kysely; callers pass
// the transaction to run in.
import { type Kysely, sql } from 'kysely';
import type { Database, PeopleTable } from '../store/schema.ts';

export type Db = Kysely<Database>;
export type PersonRow = PeopleTable;

// Keeps every statement well under SQLite's (32,766) and PostgreSQL's (65,535) bound-parameter
// limits; bulk inserts use the largest rows-per-statement that stays under 24,000 parameters.
const CHUNK = 500;
const PARAMS_PER_INSERT = 24_000;
const rowsPerInsert = (columns: number) => Math.floor(PARAMS_PER_INSERT / columns);

export function chunks<T>(items: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export async function insertPeople(db: Db, rows: readonly PersonRow[]): Promise<void> {
  for (const part of chunks(rows, rowsPerInsert(12)))
    await db.insertInto('people').values(part).execute();
}

export async function peopleByIds(db: Db, ids: readonly string[]): Promise<PersonRow[]> {
  const out: PersonRow[] = [];
  for (const part of chunks(ids)) {
    out.push(...(await db.selectFrom('people').selectAll().where('id', 'in', part).execute()));
  }
  return out;
}

export async function personById(db: Db, id: string): Promise<PersonRow | undefined> {
  return db.selectFrom('people').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function personByEmail(db: Db, email: string): Promise<PersonRow | undefined> {
  return db.selectFrom('people').selectAll().where('email', '=', email).executeTakeFirst();
}

export async function personByStaffId(db: Db, staffId: string): Promise<PersonRow | undefined> {
  return db.selectFrom('people').selectAll().where('staff_id', '=', staffId).executeTakeFirst();
}

/** People whose staff id or e-mail is among the given ones. */
export async function peopleByKeys(
  db: Db,
  staffIds: readonly string[],
  emails: readonly string[],
): Promise<PersonRow[]> {
  const found = new Map<string, PersonRow>();
  for (const part of chunks(staffIds)) {
    for (const row of await db
      .selectFrom('people')
      .selectAll()
      .where('staff_id', 'in', part)
      .execute())
      found.set(row.id, row);
  }
  for (const part of chunks(emails)) {
    for (const row of await db
      .selectFrom('people')
      .selectAll()
      .where('email', 'in', part)
      .execute())
      found.set(row.id, row);
  }
  return [...found.values()];
}

export async function updatePerson(
  db: Db,
  id: string,
  values: Partial<Omit<PersonRow, 'id' | 'created_at'>>,
): Promise<void> {
  await db.updateTable('people').set(values).where('id', '=', id).execute();
}

/** Group names per person id, each list sorted. */
export async function groupNamesOf(db: Db, personIds: readonly string[]) {
  const out = new Map<string, string[]>();
  for (const part of chunks(personIds)) {
    const rows = await db
      .selectFrom('person_groups')
      .innerJoin('groups', 'groups.id', 'person_groups.group_id')
      .select(['person_groups.person_id as personId', 'groups.name as name'])
      .where('person_groups.person_id', 'in', part)
      .execute();
    for (const row of rows) {
      const list = out.get(row.personId) ?? [];
      list.push(row.name);
      out.set(row.personId, list);
    }
  }
  for (const list of out.values()) list.sort();
  return out;
}

export async function rolesOf(db: Db, personIds: readonly string[]) {
  const out = new Map<string, string[]>();
  for (const part of chunks(personIds)) {
    const rows = await db
      .selectFrom('person_roles')
      .select(['person_id', 'role'])
      .where('person_id', 'in', part)
      .execute();
    for (const row of rows) {
      const list = out.get(row.person_id) ?? [];
      list.push(row.role);
      out.set(row.person_id, list);
    }
  }
  for (const list of out.values()) list.sort();
  return out;
}

export async function addRoles(
  db: Db,
  rows: readonly { person_id: string; role: string }[],
): Promise<void> {
  for (const part of chunks(rows, rowsPerInsert(2)))
    await db.insertInto('person_roles').values(part).execute();
}

export async function removeRoles(db: Db, personId: string, roles: readonly string[]) {
  if (roles.length === 0) return;
  await db
    .deleteFrom('person_roles')
    .where('person_id', '=', personId)
    .where('role', 'in', roles)
    .execute();
}

export async function addMemberships(
  db: Db,
  rows: readonly { person_id: string; group_id: string }[],
): Promise<void> {
  for (const part of chunks(rows, rowsPerInsert(2)))
    await db.insertInto('person_groups').values(part).execute();
}

export async function removeMemberships(db: Db, personId: string, groupIds: readonly string[]) {
  if (groupIds.length === 0) return;
  await db
    .deleteFrom('person_groups')
    .where('person_id', '=', personId)
    .where('group_id', 'in', groupIds)
    .execute();
}

// ---- groups

export interface GroupRow {
  id: string;
  name: string;
  description: string;
  created_at: string;
}

/** Groups whose lower-cased name is among the given lower-cased names, keyed by lower-cased name. */
export async function groupsByLowerNames(db: Db, lowerNames: readonly string[]) {
  const out = new Map<string, GroupRow>();
  for (const part of chunks(lowerNames)) {
    const rows = await db
      .selectFrom('groups')
      .selectAll()
      .where(sql<string>`lower(name)`, 'in', part)
      .execute();
    for (const row of rows) out.set(row.name.toLowerCase(), row);
  }
  return out;
}

export async function insertGroups(db: Db, rows: readonly GroupRow[]): Promise<void> {
  for (const part of chunks(rows)) await db.insertInto('groups').values(part).execute();
}

export async function groupById(db: Db, id: string): Promise<GroupRow | undefined> {
  return db.selectFrom('groups').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listGroups(db: Db) {
  return db
    .selectFrom('groups')
    .leftJoin('person_groups', 'person_groups.group_id', 'groups.id')
    .select((eb) => [
      'groups.id',
      'groups.name',
      'groups.description',
      'groups.created_at',
      eb.fn.count<number>('person_groups.person_id').as('members'),
    ])
    .groupBy(['groups.id', 'groups.name', 'groups.description', 'groups.created_at'])
    .orderBy('groups.name')
    .execute();
}

export async function memberCount(db: Db, groupId: string): Promise<number> {
  const row = await db
    .selectFrom('person_groups')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('group_id', '=', groupId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

// ---- search

export type SortKey = 'name' | 'email' | 'staffId' | 'kind' | 'status' | 'created' | 'updated';

export interface SearchFilter {
  q?: string | undefined; // lower-cased
  kind?: string | undefined;
  groupId?: string | undefined;
  role?: string | undefined;
  status?: string | undefined;
  sort: SortKey;
  descending: boolean;
  limit: number;
  offset: number;
}

const escapeLike = (value: string) => value.replace(/[\\%_]/g, (c) => `\\${c}`);

function filtered(db: Db, f: SearchFilter) {
  let query = db.selectFrom('people');
  if (f.kind) query = query.where('people.kind', '=', f.kind);
  if (f.status) query = query.where('people.status', '=', f.status);
  if (f.groupId) {
    const groupId = f.groupId;
    query = query.where((eb) =>
      eb.exists(
        eb
          .selectFrom('person_groups')
          .select(sql.lit(1).as('one'))
          .whereRef('person_groups.person_id', '=', 'people.id')
          .where('person_groups.group_id', '=', groupId),
      ),
    );
  }
  if (f.role) {
    const role = f.role;
    query = query.where((eb) =>
      eb.exists(
        eb
          .selectFrom('person_roles')
          .select(sql.lit(1).as('one'))
          .whereRef('person_roles.person_id', '=', 'people.id')
          .where('person_roles.role', '=', role),
      ),
    );
  }
  if (f.q) {
    const contains = `%${escapeLike(f.q)}%`;
    query = query.where(
      sql<boolean>`(lower(people.given_name) like ${contains} escape '\\'
        or lower(people.family_name) like ${contains} escape '\\'
        or people.email like ${contains} escape '\\'
        or lower(people.staff_id) like ${contains} escape '\\'
        or lower(people.given_name || ' ' || people.family_name) like ${contains} escape '\\')`,
    );
  }
  return query;
}

export async function searchPeople(
  db: Db,
  f: SearchFilter,
): Promise<{ total: number; rows: PersonRow[] }> {
  const base = filtered(db, f);
  const totalRow = await base
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  const dir = f.descending ? 'desc' : 'asc';
  let query = base.selectAll('people');
  switch (f.sort) {
    case 'name':
      query = query.orderBy('people.family_name', dir).orderBy('people.given_name', dir);
      break;
    case 'email':
      query = query.orderBy('people.email', dir);
      break;
    case 'staffId':
      query = query.orderBy('people.staff_id', dir);
      break;
    case 'kind':
      query = query.orderBy('people.kind', dir).orderBy('people.family_name', dir);
      break;
    case 'status':
      query = query.orderBy('people.status', dir).orderBy('people.family_name', dir);
      break;
    case 'created':
      query = query.orderBy('people.created_at', dir);
      break;
    case 'updated':
      query = query.orderBy('people.updated_at', dir);
      break;
  }
  const rows = await query.orderBy('people.id', dir).limit(f.limit).offset(f.offset).execute();
  return { total: Number(totalRow.n), rows };
}

export async function countPeople(db: Db): Promise<number> {
  const row = await db
    .selectFrom('people')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
