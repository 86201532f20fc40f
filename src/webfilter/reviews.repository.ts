// Requests to review a blocked site (site_review_requests, recorded by the proxy's block page):
// nothing but Kysely.
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../store/schema.ts';

type Db = Kysely<Database> | Transaction<Database>;

type ReviewStatus = 'open' | 'allowed' | 'refused';

export interface ReviewRow {
  id: string;
  host: string;
  url: string;
  person_id: string | null;
  device_id: string | null;
  client_ip: string;
  categories: string;
  clause_ids: string;
  reason: string;
  status: string;
  created_at: string;
  decided_by: string | null;
  decided_at: string | null;
  decision_note: string | null;
  given_name: string | null;
  family_name: string | null;
  email: string | null;
  device_label: string | null;
}

const LIMIT = 500;

function withPeople(db: Db) {
  return db
    .selectFrom('site_review_requests as r')
    .leftJoin('people as p', 'p.id', 'r.person_id')
    .leftJoin('devices as d', 'd.id', 'r.device_id')
    .select([
      'r.id',
      'r.host',
      'r.url',
      'r.person_id',
      'r.device_id',
      'r.client_ip',
      'r.categories',
      'r.clause_ids',
      'r.reason',
      'r.status',
      'r.created_at',
      'r.decided_by',
      'r.decided_at',
      'r.decision_note',
      'p.given_name',
      'p.family_name',
      'p.email',
      'd.label as device_label',
    ]);
}

/** Open requests oldest first (the order to work through them); decided ones newest first. */
export function listReviews(db: Db, which: 'open' | 'decided'): Promise<ReviewRow[]> {
  const query = withPeople(db).limit(LIMIT);
  return which === 'open'
    ? query.where('r.status', '=', 'open').orderBy('r.created_at').orderBy('r.id').execute()
    : query
        .where('r.status', '<>', 'open')
        .orderBy('r.decided_at', 'desc')
        .orderBy('r.id')
        .execute();
}

export function reviewById(db: Db, id: string): Promise<ReviewRow | undefined> {
  return withPeople(db).where('r.id', '=', id).executeTakeFirst();
}

export async function countOpenReviews(db: Db): Promise<number> {
  const row = await db
    .selectFrom('site_review_requests')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('status', '=', 'open')
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Records the decision on a request still open; answers false when it was decided meanwhile. */
export async function markDecided(
  db: Db,
  id: string,
  decision: { status: Exclude<ReviewStatus, 'open'>; by: string; at: string; note: string },
): Promise<boolean> {
  const result = await db
    .updateTable('site_review_requests')
    .set({
      status: decision.status,
      decided_by: decision.by,
      decided_at: decision.at,
      decision_note: decision.note,
    })
    .where('id', '=', id)
    .where('status', '=', 'open')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** The requester, for the e-mail about the decision: only while they are still at the school. */
export function requesterOf(
  db: Db,
  personId: string,
): Promise<{ id: string; email: string; given_name: string; status: string } | undefined> {
  return db
    .selectFrom('people')
    .select(['id', 'email', 'given_name', 'status'])
    .where('id', '=', personId)
    .executeTakeFirst();
}

/** "Given Family" of a person, for saying who decided. */
export async function nameOf(db: Db, personId: string): Promise<string | null> {
  const row = await db
    .selectFrom('people')
    .select(['given_name', 'family_name'])
    .where('id', '=', personId)
    .executeTakeFirst();
  return row ? `${row.given_name} ${row.family_name}`.trim() : null;
}
