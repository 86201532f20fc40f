// The directory: people in scope of the policy (SCP-1), their groups and roles, supervised use
// (PWD-6) and leaving dates (PWD-8). Every change is written with its audit entry in one
// transaction. Other modules read and change people only through this service.
import type { Transaction } from 'kysely';
import type { Actor, AuditLog } from '../audit/service.ts';
import type { PolicyHolder } from '../policy/holder.ts';
import { AppError } from '../shared/errors.ts';
import { newId } from '../store/columns.ts';
import type { Store } from '../store/database.ts';
import type { Database } from '../store/schema.ts';
import { type ExportOptions, exportPeople } from './csv-export.ts';
import { type ImportOptions, type ImportResult, importPeople } from './csv-import.ts';
import {
  changesBetween,
  clausesFor,
  type NormalisedPerson,
  normalisedOf,
  normaliseInput,
  type Person,
  type PersonInput,
  personColumns,
  sameList,
  toPerson,
} from './person.ts';
import * as repo from './repository.ts';
import { groupNameProblem, normaliseEmail, type PersonStatus, sortedUnique } from './rules.ts';

export type { ImportOptions, ImportResult } from './csv-import.ts';
export type { Person, PersonInput } from './person.ts';
export type { PersonStatus } from './rules.ts';

export interface Group {
  id: string;
  name: string;
  description: string;
  members: number;
  createdAt: string;
}

export interface SearchQuery {
  /** Matched (contains, case-insensitive) against names, e-mail and staff id. */
  q?: string | undefined;
  kind?: string | undefined;
  /** Group name (case-insensitive) or id. */
  group?: string | undefined;
  role?: string | undefined;
  status?: PersonStatus | undefined;
  limit?: number | undefined;
  offset?: number | undefined;
  /** A sort key, '-' in front for descending: name, email, staffId, kind, status, created, updated. */
  sort?: string | undefined;
}

export interface SearchResult {
  total: number;
  limit: number;
  offset: number;
  people: Person[];
}

export interface DirectoryDeps {
  store: Store;
  audit: AuditLog;
  policy: PolicyHolder;
  clock?: () => Date;
}

type Trx = Transaction<Database>;

export interface DirectoryService {
  createPerson(input: PersonInput, actor: Actor, trx?: Trx): Promise<Person>;
  updatePerson(id: string, patch: Partial<PersonInput>, actor: Actor, trx?: Trx): Promise<Person>;
  getPerson(id: string): Promise<Person | null>;
  findByEmail(email: string): Promise<Person | null>;
  setRoles(personId: string, roles: string[], actor: Actor, trx?: Trx): Promise<void>;
  countPeople(): Promise<number>;
  search(query?: SearchQuery): Promise<SearchResult>;
  listGroups(): Promise<Group[]>;
  createGroup(
    input: { name: string; description?: string },
    actor: Actor,
    trx?: Trx,
  ): Promise<Group>;
  updateGroup(
    id: string,
    patch: { name?: string; description?: string },
    actor: Actor,
    trx?: Trx,
  ): Promise<Group>;
  deleteGroup(id: string, actor: Actor, trx?: Trx): Promise<{ membersRemoved: number }>;
  addMembers(groupId: string, personIds: string[], actor: Actor, trx?: Trx): Promise<Group>;
  removeMembers(groupId: string, personIds: string[], actor: Actor, trx?: Trx): Promise<Group>;
  importPeople(input: Buffer | string, options: ImportOptions): Promise<ImportResult>;
  exportPeople(out: NodeJS.WritableStream, options?: ExportOptions): Promise<{ rows: number }>;
}

/** A person as stored, before groups are resolved to ids: what create and update compare. */
const describePerson = (row: { id: string; email: string; staff_id: string | null }) =>
  `${row.email}${row.staff_id ? ` (staff id ${row.staff_id})` : ''}, id ${row.id}`;

function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

const SORT_KEYS: readonly repo.SortKey[] = [
  'name',
  'email',
  'staffId',
  'kind',
  'status',
  'created',
  'updated',
];

export function createDirectoryService(deps: DirectoryDeps): DirectoryService {
  const { store, audit, policy } = deps;
  const clock = deps.clock ?? (() => new Date());
  const now = () => clock().toISOString();

  function inTrx<T>(trx: Trx | undefined, fn: (t: Trx) => Promise<T>): Promise<T> {
    return trx ? fn(trx) : store.db.transaction().execute(fn);
  }

  async function load(db: repo.Db, id: string): Promise<Person | null> {
    const row = await repo.personById(db, id);
    if (!row) return null;
    const [groups, roles] = await Promise.all([
      repo.groupNamesOf(db, [id]),
      repo.rolesOf(db, [id]),
    ]);
    return toPerson(row, groups.get(id) ?? [], roles.get(id) ?? []);
  }

  async function checkUnique(db: repo.Db, p: NormalisedPerson, selfId: string | null) {
    const byEmail = await repo.personByEmail(db, p.email);
    if (byEmail && byEmail.id !== selfId) {
      throw new AppError(
        'conflict',
        `The e-mail address ${p.email} already belongs to ${describePerson(byEmail)}. Use another address or change that person.`,
        { field: 'email', personId: byEmail.id },
      );
    }
    if (p.staffId) {
      const byStaff = await repo.personByStaffId(db, p.staffId);
      if (byStaff && byStaff.id !== selfId) {
        throw new AppError(
          'conflict',
          `The staff id ${p.staffId} already belongs to ${describePerson(byStaff)}. Check the staff id.`,
          { field: 'staffId', personId: byStaff.id },
        );
      }
    }
  }

  /** Group ids for the names, creating missing groups (with their audit entries). */
  async function ensureGroups(db: Trx, names: readonly string[], actor: Actor) {
    const lower = sortedUnique(names.map((n) => n.toLowerCase()));
    const found = await repo.groupsByLowerNames(db, lower);
    const created: repo.GroupRow[] = [];
    for (const name of names) {
      if (found.has(name.toLowerCase())) continue;
      const row = { id: newId(), name, description: '', created_at: now() };
      found.set(name.toLowerCase(), row);
      created.push(row);
    }
    if (created.length) {
      await repo.insertGroups(db, created);
      await audit.appendMany(
        created.map((g) => ({
          actor,
          action: 'group.created',
          target: { type: 'group', id: g.id },
          details: { name: g.name },
        })),
        db,
      );
    }
    return found;
  }

  async function writeGroups(
    db: Trx,
    personId: string,
    before: readonly string[],
    after: readonly string[],
    actor: Actor,
  ) {
    if (sameList(before, after)) return;
    const groups = await ensureGroups(db, [...before, ...after], actor);
    const id = (name: string) => groups.get(name.toLowerCase())!.id;
    const afterIds = new Set(after.map(id));
    const beforeIds = new Set(before.map(id));
    await repo.removeMemberships(
      db,
      personId,
      [...beforeIds].filter((g) => !afterIds.has(g)),
    );
    await repo.addMemberships(
      db,
      [...afterIds]
        .filter((g) => !beforeIds.has(g))
        .map((group_id) => ({ person_id: personId, group_id })),
    );
  }

  async function writeRoles(db: Trx, personId: string, before: string[], after: string[]) {
    await repo.removeRoles(
      db,
      personId,
      before.filter((r) => !after.includes(r)),
    );
    await repo.addRoles(
      db,
      after.filter((r) => !before.includes(r)).map((role) => ({ person_id: personId, role })),
    );
  }

  async function guarded<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new AppError(
          'conflict',
          'Another change saved the same e-mail address, staff id or group name at the same moment. Reload and try again.',
        );
      }
      throw error;
    }
  }

  async function groupOut(db: repo.Db, row: repo.GroupRow): Promise<Group> {
    return {
      id: row.id,
      name: row.name,
      description: row.description,
      members: await repo.memberCount(db, row.id),
      createdAt: row.created_at,
    };
  }

  async function requireGroup(db: repo.Db, id: string): Promise<repo.GroupRow> {
    const row = await repo.groupById(db, id);
    if (!row)
      throw new AppError('not_found', `There is no group with id ${id}. List groups to find it.`);
    return row;
  }

  async function checkGroupName(db: repo.Db, name: string, selfId: string | null) {
    const problem = groupNameProblem(name);
    if (problem)
      throw new AppError('validation_failed', `The group name is not valid: ${problem}.`);
    const existing = (await repo.groupsByLowerNames(db, [name.toLowerCase()])).get(
      name.toLowerCase(),
    );
    if (existing && existing.id !== selfId) {
      throw new AppError(
        'conflict',
        `A group called "${existing.name}" already exists (id ${existing.id}). Choose another name.`,
        { groupId: existing.id },
      );
    }
  }

  const service: DirectoryService = {
    async createPerson(input, actor, trx) {
      const p = normaliseInput(input, policy.current());
      return guarded(() =>
        inTrx(trx, async (db) => {
          await checkUnique(db, p, null);
          const id = newId();
          const at = now();
          await repo.insertPeople(db, [
            { id, ...personColumns(p), created_at: at, updated_at: at },
          ]);
          await writeGroups(db, id, [], p.groups, actor);
          await writeRoles(db, id, [], p.roles);
          await audit.append(
            {
              actor,
              action: 'person.created',
              target: { type: 'person', id },
              clauseIds: clausesFor(p, 'created'),
              details: { ...p },
            },
            db,
          );
          return (await load(db, id))!;
        }),
      );
    },

    updatePerson(id, patch, actor, trx) {
      return guarded(() =>
        inTrx(trx, async (db) => {
          const current = await load(db, id);
          if (!current)
            throw new AppError(
              'not_found',
              `There is no person with id ${id}. Search to find them.`,
            );
          const before = normalisedOf(current);
          const merged: PersonInput = { ...before };
          for (const [key, value] of Object.entries(patch)) {
            if (value !== undefined) (merged as unknown as Record<string, unknown>)[key] = value;
          }
          const after = normaliseInput(merged, policy.current());
          const changes = changesBetween(before, after);
          if (Object.keys(changes).length === 0) return current;
          await checkUnique(db, after, id);
          await repo.updatePerson(db, id, { ...personColumns(after), updated_at: now() });
          await writeGroups(db, id, before.groups, after.groups, actor);
          await writeRoles(db, id, before.roles, after.roles);
          await audit.append(
            {
              actor,
              action: 'person.updated',
              target: { type: 'person', id },
              clauseIds: clausesFor(after, changes),
              details: { email: after.email, changes },
            },
            db,
          );
          return (await load(db, id))!;
        }),
      );
    },

    getPerson: (id) => load(store.db, id),

    async findByEmail(email) {
      const row = await repo.personByEmail(store.db, normaliseEmail(email));
      return row ? load(store.db, row.id) : null;
    },

    async setRoles(personId, roles, actor, trx) {
      await service.updatePerson(personId, { roles }, actor, trx);
    },

    countPeople: () => repo.countPeople(store.db),

    async search(query = {}) {
      const limit = Math.min(Math.max(Math.trunc(query.limit ?? 50), 1), 5000);
      const offset = Math.max(Math.trunc(query.offset ?? 0), 0);
      const sortText = query.sort ?? 'name';
      const descending = sortText.startsWith('-');
      const sort = (descending ? sortText.slice(1) : sortText) as repo.SortKey;
      if (!SORT_KEYS.includes(sort)) {
        throw new AppError(
          'validation_failed',
          `"${sortText}" is not a sort order; use one of ${SORT_KEYS.join(', ')} (with - in front for descending).`,
        );
      }
      let groupId: string | undefined;
      if (query.group) {
        const byName = (
          await repo.groupsByLowerNames(store.db, [query.group.trim().toLowerCase()])
        ).get(query.group.trim().toLowerCase());
        const group = byName ?? (await repo.groupById(store.db, query.group));
        if (!group) return { total: 0, limit, offset, people: [] };
        groupId = group.id;
      }
      const { total, rows } = await repo.searchPeople(store.db, {
        q: query.q?.trim().toLowerCase() || undefined,
        kind: query.kind,
        groupId,
        role: query.role,
        status: query.status,
        sort,
        descending,
        limit,
        offset,
      });
      const ids = rows.map((r) => r.id);
      const [groups, roles] = await Promise.all([
        repo.groupNamesOf(store.db, ids),
        repo.rolesOf(store.db, ids),
      ]);
      return {
        total,
        limit,
        offset,
        people: rows.map((r) => toPerson(r, groups.get(r.id) ?? [], roles.get(r.id) ?? [])),
      };
    },

    async listGroups() {
      const rows = await repo.listGroups(store.db);
      return rows.map((r) => ({
        id: r.id,
        name: r.name,
        description: r.description,
        members: Number(r.members),
        createdAt: r.created_at,
      }));
    },

    async createGroup(input, actor, trx) {
      const name = input.name.trim();
      const description = (input.description ?? '').trim();
      return guarded(() =>
        inTrx(trx, async (db) => {
          await checkGroupName(db, name, null);
          const row = { id: newId(), name, description, created_at: now() };
          await repo.insertGroups(db, [row]);
          await audit.append(
            {
              actor,
              action: 'group.created',
              target: { type: 'group', id: row.id },
              details: { name, description },
            },
            db,
          );
          return groupOut(db, row);
        }),
      );
    },

    updateGroup(id, patch, actor, trx) {
      return guarded(() =>
        inTrx(trx, async (db) => {
          const row = await requireGroup(db, id);
          const name = patch.name?.trim() ?? row.name;
          const description = patch.description?.trim() ?? row.description;
          if (name === row.name && description === row.description) return groupOut(db, row);
          if (name !== row.name) await checkGroupName(db, name, id);
          await db.updateTable('groups').set({ name, description }).where('id', '=', id).execute();
          await audit.append(
            {
              actor,
              action: name !== row.name ? 'group.renamed' : 'group.updated',
              target: { type: 'group', id },
              details: {
                name: { from: row.name, to: name },
                description: { from: row.description, to: description },
              },
            },
            db,
          );
          return groupOut(db, { ...row, name, description });
        }),
      );
    },

    deleteGroup(id, actor, trx) {
      return inTrx(trx, async (db) => {
        const row = await requireGroup(db, id);
        const members = await repo.memberCount(db, id);
        await db.deleteFrom('person_groups').where('group_id', '=', id).execute();
        await db.deleteFrom('groups').where('id', '=', id).execute();
        await audit.append(
          {
            actor,
            action: 'group.deleted',
            target: { type: 'group', id },
            details: { name: row.name, membersRemoved: members },
          },
          db,
        );
        return { membersRemoved: members };
      });
    },

    addMembers(groupId, personIds, actor, trx) {
      return inTrx(trx, async (db) => {
        const group = await requireGroup(db, groupId);
        const wanted = sortedUnique(personIds);
        const existing = new Set((await repo.peopleByIds(db, wanted)).map((p) => p.id));
        const missing = wanted.filter((id) => !existing.has(id));
        if (missing.length) {
          throw new AppError(
            'not_found',
            `No person has the id(s) ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', ...' : ''}. Nobody was added.`,
            { missing },
          );
        }
        const already = new Set<string>();
        for (const part of repo.chunks(wanted)) {
          const rows = await db
            .selectFrom('person_groups')
            .select('person_id')
            .where('group_id', '=', groupId)
            .where('person_id', 'in', part)
            .execute();
          for (const r of rows) already.add(r.person_id);
        }
        const added = wanted.filter((id) => !already.has(id));
        if (added.length) {
          await repo.addMemberships(
            db,
            added.map((person_id) => ({ person_id, group_id: groupId })),
          );
          await audit.append(
            {
              actor,
              action: 'group.members-added',
              target: { type: 'group', id: groupId },
              details: { name: group.name, personIds: added },
            },
            db,
          );
        }
        return groupOut(db, group);
      });
    },

    removeMembers(groupId, personIds, actor, trx) {
      return inTrx(trx, async (db) => {
        const group = await requireGroup(db, groupId);
        const removed: string[] = [];
        for (const part of repo.chunks(sortedUnique(personIds))) {
          const rows = await db
            .deleteFrom('person_groups')
            .where('group_id', '=', groupId)
            .where('person_id', 'in', part)
            .returning('person_id')
            .execute();
          removed.push(...rows.map((r) => r.person_id));
        }
        if (removed.length) {
          await audit.append(
            {
              actor,
              action: 'group.members-removed',
              target: { type: 'group', id: groupId },
              details: { name: group.name, personIds: removed.sort() },
            },
            db,
          );
        }
        return groupOut(db, group);
      });
    },

    importPeople: (input, options) =>
      importPeople({ store, audit, policy: policy.current(), clock }, input, options),

    exportPeople: (out, options) => exportPeople(store, out, options),
  };
  return service;
}
