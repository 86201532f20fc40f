// The audit log: append-only and hash-chained. Each entry stores the SHA-256 of the previous
// entry, and its own hash covers every stored column, so altering, removing or reordering any
// entry breaks the chain at that point and `custos audit verify` names it. The database refuses
// UPDATE and DELETE on the table (triggers in the foundation migration); no code here issues one.
import { createHash } from 'node:crypto';
import { type Kysely, sql, type Transaction } from 'kysely';
import type { Store } from '../store/database.ts';
import type { AuditLogTable, Database } from '../store/schema.ts';

export const GENESIS_HASH = '0'.repeat(64);

export interface Actor {
  /** Person id, or null for the system itself. */
  id: string | null;
  /** What a reader sees: an e-mail address, "system", "cli". */
  label: string;
}

export const SYSTEM_ACTOR: Actor = { id: null, label: 'system' };

export interface AuditInput {
  actor: Actor;
  /** Dotted verb, e.g. 'person.created', 'session.signed-in', 'policy.applied'. */
  action: string;
  target?: { type: string; id: string } | undefined;
  clauseIds?: readonly string[] | undefined;
  reason?: string | undefined;
  details?: Record<string, unknown> | undefined;
}

export interface AuditEntry {
  seq: number;
  at: string;
  actorId: string | null;
  actorLabel: string;
  action: string;
  targetType: string | null;
  targetId: string | null;
  clauseIds: string[];
  reason: string | null;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export type VerifyResult =
  | { ok: true; entries: number; lastHash: string }
  | { ok: false; entries: number; brokenAt: number; problem: string };

export function hashEntry(row: Omit<AuditLogTable, 'hash'>): string {
  const canonical = JSON.stringify([
    row.seq,
    row.at,
    row.actor_id,
    row.actor_label,
    row.action,
    row.target_type,
    row.target_id,
    row.clause_ids,
    row.reason,
    row.details,
    row.prev_hash,
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}

function toEntry(row: AuditLogTable): AuditEntry {
  return {
    seq: Number(row.seq),
    at: row.at,
    actorId: row.actor_id,
    actorLabel: row.actor_label,
    action: row.action,
    targetType: row.target_type,
    targetId: row.target_id,
    clauseIds: JSON.parse(row.clause_ids) as string[],
    reason: row.reason,
    details: JSON.parse(row.details) as Record<string, unknown>,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

export interface AuditFilter {
  actorId?: string | undefined;
  action?: string | undefined;
  clauseId?: string | undefined;
  targetType?: string | undefined;
  targetId?: string | undefined;
  from?: string | undefined; // ISO date or timestamp, inclusive
  to?: string | undefined; // ISO date or timestamp, exclusive
  beforeSeq?: number | undefined; // paging: entries older than this
  limit?: number | undefined;
}

export interface AuditLog {
  /**
   * Appends one entry. Pass the transaction that makes the change being recorded, so that the
   * change and its record commit together or not at all.
   */
  append(input: AuditInput, trx?: Transaction<Database>): Promise<AuditEntry>;
  /**
   * Appends many entries in order with one lock and batched inserts (imports). Answers the
   * sequence numbers used; an empty list writes nothing and answers lastSeq < firstSeq.
   */
  appendMany(
    inputs: readonly AuditInput[],
    trx?: Transaction<Database>,
  ): Promise<{ firstSeq: number; lastSeq: number }>;
  list(filter?: AuditFilter): Promise<AuditEntry[]>;
  verify(onProgress?: (checked: number, total: number) => void): Promise<VerifyResult>;
}

export function createAuditLog(store: Store, clock: () => Date = () => new Date()): AuditLog {
  /** Appends in order under one lock; calls `keep` with each row written (for single appends). */
  async function appendIn(
    trx: Kysely<Database>,
    inputs: readonly AuditInput[],
    keep?: (row: AuditLogTable) => void,
  ): Promise<{ firstSeq: number; lastSeq: number }> {
    if (store.dialect === 'postgres') {
      // Serialise appenders across processes (gateways on several machines share one chain).
      await sql`select pg_advisory_xact_lock(7470696)`.execute(trx);
    }
    const last = await trx
      .selectFrom('audit_log')
      .select(['seq', 'hash'])
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    let seq = last ? Number(last.seq) : 0;
    const firstSeq = seq + 1;
    let prevHash = last?.hash ?? GENESIS_HASH;
    const at = clock().toISOString();
    // Chunks keep each statement under the databases' bound-parameter limits and keep memory flat
    // for large imports: only one chunk of rows exists at a time.
    for (let i = 0; i < inputs.length; i += 500) {
      const rows = inputs.slice(i, i + 500).map((input) => {
        const row = rowFor(input, ++seq, at, prevHash);
        prevHash = row.hash;
        return row;
      });
      await trx.insertInto('audit_log').values(rows).execute();
      if (keep) for (const row of rows) keep(row);
    }
    return { firstSeq, lastSeq: seq };
  }

  function rowFor(input: AuditInput, seq: number, at: string, prevHash: string): AuditLogTable {
    const partial: Omit<AuditLogTable, 'hash'> = {
      seq,
      at,
      actor_id: input.actor.id,
      actor_label: input.actor.label,
      action: input.action,
      target_type: input.target?.type ?? null,
      target_id: input.target?.id ?? null,
      clause_ids: JSON.stringify([...(input.clauseIds ?? [])]),
      reason: input.reason ?? null,
      details: JSON.stringify(input.details ?? {}),
      prev_hash: prevHash,
    };
    return { ...partial, hash: hashEntry(partial) };
  }

  return {
    async append(input, trx) {
      let written: AuditLogTable | undefined;
      const keep = (row: AuditLogTable) => {
        written = row;
      };
      if (trx) await appendIn(trx, [input], keep);
      else await store.db.transaction().execute((t) => appendIn(t, [input], keep));
      return toEntry(written!);
    },

    async appendMany(inputs, trx) {
      if (trx) return appendIn(trx, inputs);
      return store.db.transaction().execute((t) => appendIn(t, inputs));
    },

    async list(filter = {}) {
      let query = store.db.selectFrom('audit_log').selectAll();
      if (filter.actorId) query = query.where('actor_id', '=', filter.actorId);
      if (filter.action) query = query.where('action', '=', filter.action);
      if (filter.targetType) query = query.where('target_type', '=', filter.targetType);
      if (filter.targetId) query = query.where('target_id', '=', filter.targetId);
      if (filter.from) query = query.where('at', '>=', filter.from);
      if (filter.to) query = query.where('at', '<', filter.to);
      if (filter.beforeSeq) query = query.where('seq', '<', filter.beforeSeq);
      if (filter.clauseId) query = query.where('clause_ids', 'like', `%"${filter.clauseId}"%`);
      const rows = await query
        .orderBy('seq', 'desc')
        .limit(Math.min(filter.limit ?? 100, 1000))
        .execute();
      return rows.map(toEntry);
    },

    async verify(onProgress) {
      const total = Number(
        (
          await store.db
            .selectFrom('audit_log')
            .select((eb) => eb.fn.countAll().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
      let prevHash = GENESIS_HASH;
      let expectedSeq = 1;
      let checked = 0;
      const page = 5000;
      for (;;) {
        const rows = await store.db
          .selectFrom('audit_log')
          .selectAll()
          .where('seq', '>=', expectedSeq)
          .orderBy('seq', 'asc')
          .limit(page)
          .execute();
        for (const row of rows) {
          const seq = Number(row.seq);
          if (seq !== expectedSeq) {
            return {
              ok: false,
              entries: total,
              brokenAt: expectedSeq,
              problem: `entry ${expectedSeq} is missing (the next entry is ${seq})`,
            };
          }
          if (row.prev_hash !== prevHash) {
            return {
              ok: false,
              entries: total,
              brokenAt: seq,
              problem: `entry ${seq} does not point at entry ${seq - 1} (its previous-hash does not match)`,
            };
          }
          const { hash, ...rest } = row;
          if (hashEntry({ ...rest, seq }) !== hash) {
            return {
              ok: false,
              entries: total,
              brokenAt: seq,
              problem: `entry ${seq} was altered after it was written (its content does not match its hash)`,
            };
          }
          prevHash = hash;
          expectedSeq++;
          checked++;
        }
        onProgress?.(checked, total);
        if (rows.length < page) break;
      }
      if (checked !== total) {
        return {
          ok: false,
          entries: total,
          brokenAt: expectedSeq,
          problem: `${total - checked} entries are out of sequence after entry ${expectedSeq - 1}`,
        };
      }
      return { ok: true, entries: total, lastHash: prevHash };
    },
  };
}
