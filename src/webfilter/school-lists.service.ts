// The school's own allow and deny lists (web_lists): hosts the school lets through whatever their
// category, or blocks whatever the category lists say. Each change is audited in the same
// transaction; the caller refreshes the running filter so the change takes effect at once.
import type { Kysely, Transaction } from 'kysely';
import type { Actor, AuditLog } from '../audit/service.ts';
import { AppError } from '../shared/errors.ts';
import { newId } from '../store/columns.ts';
import type { Store } from '../store/database.ts';
import type { Database } from '../store/schema.ts';
import { normaliseHost } from './categories/index.ts';

/** The school's lists carry out "legitimate work purposes only" (MIS-1). */
export const SCHOOL_LIST_CLAUSES = ['MIS-1'] as const;

export type SchoolListName = 'allow' | 'deny';

export interface SchoolListEntry {
  id: string;
  list: SchoolListName;
  host: string;
  reason: string;
  addedBy: string;
  addedAt: string;
}

export interface SchoolListInput {
  list: SchoolListName;
  host: string;
  reason: string;
}

export function createSchoolListsService(deps: {
  store: Store;
  audit: AuditLog;
  clock: () => Date;
}) {
  const { store, audit } = deps;

  /** Adds an entry inside the caller's transaction (a review allowed, say), audited with it. */
  async function addIn(
    trx: Transaction<Database>,
    input: SchoolListInput,
    actor: Actor,
  ): Promise<SchoolListEntry> {
    const n = normaliseHost(input.host);
    if (!n.ok) {
      throw new AppError(
        'validation_failed',
        `"${input.host.slice(0, 100)}" is not a host name or address. Give a name such as example.com.`,
      );
    }
    const entry: SchoolListEntry = {
      id: newId(),
      list: input.list,
      host: n.host,
      reason: input.reason.trim(),
      addedBy: actor.label,
      addedAt: deps.clock().toISOString(),
    };
    const existing = await trx
      .selectFrom('web_lists')
      .select(['list'])
      .where('host', '=', entry.host)
      .executeTakeFirst();
    if (existing) {
      throw new AppError(
        'conflict',
        `${entry.host} is already on the school's ${existing.list} list. Remove it there first.`,
      );
    }
    await trx
      .insertInto('web_lists')
      .values({
        id: entry.id,
        list: entry.list,
        host: entry.host,
        reason: entry.reason,
        added_by: entry.addedBy,
        added_at: entry.addedAt,
      })
      .execute();
    await audit.append(
      {
        actor,
        action: 'webfilter.list-entry.added',
        target: { type: 'web_list_entry', id: entry.id },
        clauseIds: SCHOOL_LIST_CLAUSES,
        reason: entry.reason,
        details: { list: entry.list, host: entry.host },
      },
      trx,
    );
    return entry;
  }

  return {
    async list(): Promise<SchoolListEntry[]> {
      const rows = await store.db
        .selectFrom('web_lists')
        .selectAll()
        .orderBy('list')
        .orderBy('host')
        .execute();
      return rows.map((r) => ({
        id: r.id,
        list: r.list as SchoolListName,
        host: r.host,
        reason: r.reason,
        addedBy: r.added_by,
        addedAt: r.added_at,
      }));
    },

    async add(input: SchoolListInput, actor: Actor): Promise<SchoolListEntry> {
      return store.db.transaction().execute((trx) => addIn(trx, input, actor));
    },

    addIn,

    /** The entry for this host on either list, if there is one. */
    async entryFor(
      db: Kysely<Database> | Transaction<Database>,
      host: string,
    ): Promise<{ id: string; list: SchoolListName } | null> {
      const row = await db
        .selectFrom('web_lists')
        .select(['id', 'list'])
        .where('host', '=', host)
        .executeTakeFirst();
      return row ? { id: row.id, list: row.list as SchoolListName } : null;
    },

    async remove(id: string, actor: Actor): Promise<void> {
      await store.db.transaction().execute(async (trx) => {
        const row = await trx
          .selectFrom('web_lists')
          .selectAll()
          .where('id', '=', id)
          .executeTakeFirst();
        if (!row) throw new AppError('not_found', 'No such entry on the school lists.');
        await trx.deleteFrom('web_lists').where('id', '=', id).execute();
        await audit.append(
          {
            actor,
            action: 'webfilter.list-entry.removed',
            target: { type: 'web_list_entry', id },
            clauseIds: SCHOOL_LIST_CLAUSES,
            details: { list: row.list, host: row.host },
          },
          trx,
        );
      });
    },
  };
}
