// Reads the registers the filters need, as rows for buildSubjectSnapshot().
import type { Store } from '../store/database.ts';
import type { SubjectRows } from './subjects.ts';

export async function loadSubjectRows(
  store: Store,
  packGroups: ReadonlyMap<string, string>,
): Promise<SubjectRows> {
  const db = store.db;
  const [people, memberships, devices, withdrawals, restrictions, personalUse] = await Promise.all([
    db.selectFrom('people').select(['id', 'email', 'kind', 'status']).execute(),
    db
      .selectFrom('person_groups')
      .innerJoin('groups', 'groups.id', 'person_groups.group_id')
      .select(['person_groups.person_id', 'groups.name'])
      .execute(),
    db.selectFrom('devices').select(['id', 'person_id', 'label', 'ip', 'status']).execute(),
    db
      .selectFrom('access_withdrawals')
      .select(['id', 'person_id', 'web', 'reason'])
      .where('lifted_at', 'is', null)
      .execute(),
    db
      .selectFrom('web_restrictions')
      .select(['person_id', 'host'])
      .where('removed_at', 'is', null)
      .execute(),
    db
      .selectFrom('personal_use_authorisations')
      .select(['id', 'person_id', 'starts_on', 'ends_on', 'daily_from', 'daily_to', 'categories'])
      .where('withdrawn_at', 'is', null)
      .execute(),
  ]);
  const groupsOf = new Map<string, string[]>();
  for (const m of memberships) {
    const list = groupsOf.get(m.person_id) ?? [];
    list.push(m.name);
    groupsOf.set(m.person_id, list);
  }
  return {
    people: people.map((p) => ({ ...p, groups: groupsOf.get(p.id) ?? [] })),
    packGroups,
    devices,
    withdrawals: withdrawals.map((w) => ({ ...w, web: Number(w.web) })),
    restrictions,
    personalUse,
  };
}

export async function loadSchoolLists(store: Store): Promise<{ allow: string[]; deny: string[] }> {
  const rows = await store.db.selectFrom('web_lists').select(['list', 'host']).execute();
  return {
    allow: rows.filter((r) => r.list === 'allow').map((r) => r.host),
    deny: rows.filter((r) => r.list === 'deny').map((r) => r.host),
  };
}
