// Aggregate counts of web activity for reports (WEB-6): by category, by pack group and by hour,
// and visits per site and day (how long, how often). Only counts leave this file; one person's
// browsing is read only inside a monitoring case. A row of web_activity stands for `hits`
// identical requests, so requests are counted as sum(hits), never count(*).
import { sql } from 'kysely';
import type { Store } from '../store/database.ts';

export interface CountRow {
  key: string;
  decision: string;
  n: number;
}

const range = (from: string, to: string) => ({ from, to });
const requests = sql<number>`sum(${sql.ref('hits')})`;

export async function countsByCategories(store: Store, from: string, to: string) {
  const r = range(from, to);
  const rows = await store.db
    .selectFrom('web_activity')
    .select(['categories', 'decision', requests.as('n')])
    .where('at', '>=', r.from)
    .where('at', '<', r.to)
    .groupBy(['categories', 'decision'])
    .execute();
  return rows.map((row) => ({ key: row.categories, decision: row.decision, n: Number(row.n) }));
}

export async function countsByHour(store: Store, from: string, to: string): Promise<CountRow[]> {
  const hour = sql<string>`substr(${sql.ref('at')}, 1, 13)`;
  const rows = await store.db
    .selectFrom('web_activity')
    .select([hour.as('hour'), 'decision', requests.as('n')])
    .where('at', '>=', from)
    .where('at', '<', to)
    .groupBy([hour, 'decision'])
    .orderBy(hour)
    .execute();
  return rows.map((row) => ({ key: row.hour, decision: row.decision, n: Number(row.n) }));
}

/** Counts per directory group name and decision, with how many distinct people each group covers. */
export async function countsByDirectoryGroup(store: Store, from: string, to: string) {
  const base = () =>
    store.db
      .selectFrom('web_activity')
      .innerJoin('person_groups', 'person_groups.person_id', 'web_activity.person_id')
      .innerJoin('groups', 'groups.id', 'person_groups.group_id')
      .where('web_activity.at', '>=', from)
      .where('web_activity.at', '<', to);
  const [rows, people] = await Promise.all([
    base()
      .select([
        'groups.name as name',
        'web_activity.decision as decision',
        sql<number>`sum(${sql.ref('web_activity.hits')})`.as('n'),
      ])
      .groupBy(['groups.name', 'web_activity.decision'])
      .execute(),
    base()
      .select([
        'groups.name as name',
        sql<number>`count(distinct ${sql.ref('web_activity.person_id')})`.as('people'),
      ])
      .groupBy('groups.name')
      .execute(),
  ]);
  const peopleOf = new Map(people.map((p) => [p.name, Number(p.people)]));
  return rows.map((row) => ({
    name: row.name,
    decision: row.decision,
    n: Number(row.n),
    people: peopleOf.get(row.name) ?? 0,
  }));
}

export async function countUnidentified(store: Store, from: string, to: string) {
  const rows = await store.db
    .selectFrom('web_activity')
    .select(['decision', requests.as('n')])
    .where('at', '>=', from)
    .where('at', '<', to)
    .where('person_id', 'is', null)
    .groupBy('decision')
    .execute();
  return rows.map((row) => ({ decision: row.decision, n: Number(row.n) }));
}

export interface VisitsRow {
  /** YYYY-MM-DD (UTC) on which the visits began. */
  day: string;
  source: string;
  host: string;
  visits: number;
  /** Distinct people (or devices, or addresses where nobody is known) who visited. */
  people: number;
  requests: number;
  blocked: number;
  totalMs: number;
  medianMs: number;
}

export interface VisitsReport {
  /** Sites visited by at least `minPeople` on a day, most visited first, `limit` per day. */
  rows: VisitsRow[];
  /** Per day and source, what the rows leave out: sites visited by fewer people, or past the limit. */
  withheld: { day: string; source: string; hosts: number; visits: number }[];
}

/**
 * Visits per site and day (WEB-6: duration and frequency), school-wide. A site visited by fewer
 * than `minPeople` on a day is counted in `withheld` only, without its name: a site one person
 * visits can point at that person.
 */
export async function visitsByHostAndDay(
  store: Store,
  from: string,
  to: string,
  options: { minPeople: number; limit: number; source?: string | undefined },
): Promise<VisitsReport> {
  const source = options.source ? sql`and source = ${options.source}` : sql``;
  // The median by row numbers within each (day, source, host): portable to SQLite and PostgreSQL.
  const result = await sql<{
    day: string;
    source: string;
    host: string;
    visits: number | string;
    people: number | string;
    requests: number | string;
    blocked: number | string;
    total_ms: number | string;
    median_ms: number | string;
  }>`
    with v as (
      select substr(started_at, 1, 10) as day, source, host, duration_ms, requests, blocked,
        coalesce(person_id, device_id, client_ip) as subject
      from web_visits
      where started_at >= ${from} and started_at < ${to} ${source}
    ),
    ranked as (
      select day, source, host, duration_ms,
        row_number() over (partition by day, source, host order by duration_ms) as rn,
        count(*) over (partition by day, source, host) as n
      from v
    ),
    medians as (
      select day, source, host, avg(duration_ms) as median_ms
      from ranked
      where rn = (n + 1) / 2 or rn = (n + 2) / 2
      group by day, source, host
    ),
    totals as (
      select day, source, host, count(*) as visits, count(distinct subject) as people,
        sum(requests) as requests, sum(blocked) as blocked, sum(duration_ms) as total_ms
      from v
      group by day, source, host
    )
    select t.day, t.source, t.host, t.visits, t.people, t.requests, t.blocked, t.total_ms,
      m.median_ms
    from totals t
    join medians m on m.day = t.day and m.source = t.source and m.host = t.host
    order by t.day, t.source, t.visits desc, t.host
  `.execute(store.db);
  const rows: VisitsRow[] = [];
  const withheld = new Map<
    string,
    { day: string; source: string; hosts: number; visits: number }
  >();
  const shown = new Map<string, number>();
  for (const r of result.rows) {
    const group = `${r.day}|${r.source}`;
    const visits = Number(r.visits);
    const count = shown.get(group) ?? 0;
    if (Number(r.people) < options.minPeople || count >= options.limit) {
      const w = withheld.get(group) ?? { day: r.day, source: r.source, hosts: 0, visits: 0 };
      w.hosts++;
      w.visits += visits;
      withheld.set(group, w);
      continue;
    }
    shown.set(group, count + 1);
    rows.push({
      day: r.day,
      source: r.source,
      host: r.host,
      visits,
      people: Number(r.people),
      requests: Number(r.requests),
      blocked: Number(r.blocked),
      totalMs: Number(r.total_ms),
      medianMs: Math.round(Number(r.median_ms)),
    });
  }
  return { rows, withheld: [...withheld.values()] };
}
