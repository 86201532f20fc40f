// Aggregate counts of web activity for reports (WEB-6): by category, by pack group and by hour.
// Only counts leave this file; one person's browsing is read only inside a monitoring case.
import { sql } from 'kysely';
import type { Store } from '../store/database.ts';

export interface CountRow {
  key: string;
  decision: string;
  n: number;
}

const range = (from: string, to: string) => ({ from, to });

export async function countsByCategories(store: Store, from: string, to: string) {
  const r = range(from, to);
  const rows = await store.db
    .selectFrom('web_activity')
    .select(['categories', 'decision', sql<number>`count(*)`.as('n')])
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
    .select([hour.as('hour'), 'decision', sql<number>`count(*)`.as('n')])
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
        sql<number>`count(*)`.as('n'),
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
    .select(['decision', sql<number>`count(*)`.as('n')])
    .where('at', '>=', from)
    .where('at', '<', to)
    .where('person_id', 'is', null)
    .groupBy('decision')
    .execute();
  return rows.map((row) => ({ decision: row.decision, n: Number(row.n) }));
}
