// The outbox: e-mail that Custos has decided to send, kept in the database in the same
// transaction as the change that caused it. A row is marked sent only after the relay accepted
// the message; until then it waits, with its last error, for the next attempt. Nothing here
// talks to a relay: src/notify/sender.ts does.
import type { Kysely, Transaction } from 'kysely';
import { newId } from '../store/columns.ts';
import type { Database, NotificationOutboxTable } from '../store/schema.ts';

type Db = Kysely<Database> | Transaction<Database>;

export interface OutgoingMessage {
  /** What the message is for, e.g. 'policy.acceptance-reminder'. */
  kind: string;
  to: { address: string; personId?: string | null };
  subject: string;
  text: string;
  html?: string | null;
  related?: { type: string; id: string } | null;
  /** A second message with the same key is not queued (one reminder a day, per person). */
  dedupeKey?: string | null;
}

export interface OutboxMessage {
  id: string;
  kind: string;
  to: string;
  toPersonId: string | null;
  subject: string;
  text: string;
  html: string | null;
  relatedType: string | null;
  relatedId: string | null;
  createdAt: string;
  nextAttemptAt: string;
  attempts: number;
  lastError: string | null;
  sentAt: string | null;
  messageId: string | null;
}

export const toOutboxMessage = (row: NotificationOutboxTable): OutboxMessage => ({
  id: row.id,
  kind: row.kind,
  to: row.to_address,
  toPersonId: row.to_person_id,
  subject: row.subject,
  text: row.text,
  html: row.html,
  relatedType: row.related_type,
  relatedId: row.related_id,
  createdAt: row.created_at,
  nextAttemptAt: row.next_attempt_at,
  attempts: Number(row.attempts),
  lastError: row.last_error,
  sentAt: row.sent_at,
  messageId: row.message_id,
});

// 17 columns a row: 200 rows stay well under PostgreSQL's and SQLite's parameter limits.
const CHUNK = 200;

/**
 * Queues messages; those whose dedupe key is already in the outbox are skipped. Answers the ids
 * queued. Pass the transaction of the change that asks for them.
 */
export async function enqueue(
  db: Db,
  messages: readonly OutgoingMessage[],
  now: string,
): Promise<string[]> {
  const queued: string[] = [];
  for (let i = 0; i < messages.length; i += CHUNK) {
    const rows: NotificationOutboxTable[] = messages.slice(i, i + CHUNK).map((m) => ({
      id: newId(),
      kind: m.kind,
      to_address: m.to.address,
      to_person_id: m.to.personId ?? null,
      subject: m.subject,
      text: m.text,
      html: m.html ?? null,
      related_type: m.related?.type ?? null,
      related_id: m.related?.id ?? null,
      dedupe_key: m.dedupeKey ?? null,
      created_at: now,
      next_attempt_at: now,
      attempts: 0,
      last_error: null,
      sent_at: null,
      message_id: null,
    }));
    const inserted = await db
      .insertInto('notification_outbox')
      .values(rows)
      .onConflict((oc) => oc.column('dedupe_key').doNothing())
      .returning('id')
      .execute();
    queued.push(...inserted.map((r) => r.id));
  }
  return queued;
}

export interface OutboxFilter {
  kind?: string;
  toPersonId?: string;
  relatedId?: string;
  pending?: boolean;
}

export async function listOutbox(db: Db, filter: OutboxFilter = {}): Promise<OutboxMessage[]> {
  let query = db.selectFrom('notification_outbox').selectAll();
  if (filter.kind) query = query.where('kind', '=', filter.kind);
  if (filter.toPersonId) query = query.where('to_person_id', '=', filter.toPersonId);
  if (filter.relatedId) query = query.where('related_id', '=', filter.relatedId);
  if (filter.pending !== undefined) {
    query = query.where('sent_at', filter.pending ? 'is' : 'is not', null);
  }
  const rows = await query.orderBy('created_at').orderBy('id').execute();
  return rows.map(toOutboxMessage);
}

/** When each person was last sent (or queued) a message of this kind about this record. */
export async function lastQueuedPerPerson(
  db: Db,
  kind: string,
  relatedId: string,
): Promise<Map<string, string>> {
  const rows = await db
    .selectFrom('notification_outbox')
    .select(['to_person_id', (eb) => eb.fn.max('created_at').as('last')])
    .where('kind', '=', kind)
    .where('related_id', '=', relatedId)
    .where('to_person_id', 'is not', null)
    .groupBy('to_person_id')
    .execute();
  return new Map(rows.map((r) => [r.to_person_id as string, String(r.last)]));
}
