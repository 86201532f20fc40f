// The mail gateway's records as the console reads them (mail_messages): held messages, and counts
// for the activity report. Nothing but Kysely; the message content (mail_content) is never read
// here.
import { sql } from 'kysely';
import type { Store } from '../store/database.ts';

/** At most this many held messages are listed at once. */
export const HELD_LIMIT = 500;

export interface HeldRow {
  id: string;
  received_at: string;
  direction: string;
  envelope_from: string;
  envelope_to: string;
  header_from: string | null;
  subject: string;
  size: number;
  attachments: string;
  verdicts: string;
  action: string;
  private: number;
}

/** Held messages, oldest first (the order to work through them). */
export function listHeld(store: Store): Promise<HeldRow[]> {
  return store.db
    .selectFrom('mail_messages')
    .select([
      'id',
      'received_at',
      'direction',
      'envelope_from',
      'envelope_to',
      'header_from',
      'subject',
      'size',
      'attachments',
      'verdicts',
      'action',
      'private',
    ])
    .where('status', '=', 'held')
    .orderBy('received_at')
    .orderBy('id')
    .limit(HELD_LIMIT)
    .execute();
}

export function heldById(
  store: Store,
  id: string,
): Promise<{ id: string; direction: string; envelope_from: string; status: string } | undefined> {
  return store.db
    .selectFrom('mail_messages')
    .select(['id', 'direction', 'envelope_from', 'status'])
    .where('id', '=', id)
    .executeTakeFirst();
}

export function decisionOf(
  store: Store,
  id: string,
): Promise<{ status: string; next_hop_reply: string | null } | undefined> {
  return store.db
    .selectFrom('mail_messages')
    .select(['status', 'next_hop_reply'])
    .where('id', '=', id)
    .executeTakeFirst();
}

/** How many messages are held, and since when the oldest has waited. */
export async function heldSummary(store: Store): Promise<{ count: number; oldest: string | null }> {
  const row = await store.db
    .selectFrom('mail_messages')
    .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.min('received_at').as('oldest')])
    .where('status', '=', 'held')
    .executeTakeFirstOrThrow();
  return { count: Number(row.n), oldest: row.oldest ?? null };
}

const hourOf = sql<string>`substr(${sql.ref('received_at')}, 1, 13)`;

/** Messages per hour (UTC, 'YYYY-MM-DDTHH'), direction and status in [from, to). */
export async function countsByHour(
  store: Store,
  from: string,
  to: string,
): Promise<{ hour: string; direction: string; status: string; n: number }[]> {
  const rows = await store.db
    .selectFrom('mail_messages')
    .select([hourOf.as('hour'), 'direction', 'status', sql<number>`count(*)`.as('n')])
    .where('received_at', '>=', from)
    .where('received_at', '<', to)
    .groupBy([hourOf, 'direction', 'status'])
    .execute();
  return rows.map((r) => ({ ...r, n: Number(r.n) }));
}

/**
 * The verdicts of the messages that have any, per hour, in [from, to). Only the JSON of the
 * verdicts leaves the database, never who sent what to whom.
 */
export async function verdictsByHour(
  store: Store,
  from: string,
  to: string,
): Promise<{ hour: string; verdicts: string; n: number }[]> {
  const rows = await store.db
    .selectFrom('mail_messages')
    .select([hourOf.as('hour'), 'verdicts', sql<number>`count(*)`.as('n')])
    .where('received_at', '>=', from)
    .where('received_at', '<', to)
    .where('verdicts', '<>', '[]')
    .groupBy([hourOf, 'verdicts'])
    .execute();
  return rows.map((r) => ({ ...r, n: Number(r.n) }));
}
