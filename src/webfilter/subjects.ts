// Who is behind a web request or DNS query, as the filters see it: an immutable snapshot of the
// people, devices, withdrawals (BRE-2), restrictions (PER-4) and personal-use authorisations
// (PER-1/2) the registers hold. Built from rows (subjects.repository.ts) and swapped whole when
// they change, so the hot path reads plain maps and never waits on the database.
import { normaliseHost } from './categories/index.ts';

export interface PersonalUseWindow {
  readonly id: string;
  readonly startsOn: string; // YYYY-MM-DD
  readonly endsOn: string | null; // inclusive
  readonly dailyFrom: string | null; // HH:MM
  readonly dailyTo: string | null;
  /** Categories it lifts; empty means every category blocked only under PER-2. */
  readonly categories: readonly string[];
}

export interface WebPerson {
  readonly id: string;
  readonly label: string; // e-mail address
  readonly kind: string;
  readonly groups: readonly string[]; // pack group ids
  readonly withdrawal: { readonly id: string; readonly reason: string } | null;
  readonly restrictedHosts: ReadonlySet<string>;
  readonly personalUse: readonly PersonalUseWindow[];
}

export interface WebDevice {
  readonly id: string;
  readonly personId: string | null;
  readonly label: string;
  readonly ip: string;
}

export interface SubjectSnapshot {
  readonly people: ReadonlyMap<string, WebPerson>;
  readonly peopleByEmail: ReadonlyMap<string, WebPerson>;
  /** Approved devices by their address. */
  readonly devicesByIp: ReadonlyMap<string, WebDevice>;
  readonly builtAt: string;
}

export interface SubjectRows {
  people: { id: string; email: string; kind: string; status: string; groups: string[] }[];
  /** Directory group names to pack group ids: a directory group counts when its name is a pack group's id or name. */
  packGroups: ReadonlyMap<string, string>;
  devices: {
    id: string;
    person_id: string | null;
    label: string;
    ip: string | null;
    status: string;
  }[];
  withdrawals: { id: string; person_id: string; web: number; reason: string }[];
  restrictions: { person_id: string; host: string }[];
  personalUse: {
    id: string;
    person_id: string;
    starts_on: string;
    ends_on: string | null;
    daily_from: string | null;
    daily_to: string | null;
    categories: string;
  }[];
}

const groupKey = (name: string) => name.trim().toLowerCase();

/** The lookup from directory group names to pack group ids, by id or by name. */
export function packGroupIndex(groups: ReadonlyMap<string, { name: string }>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [id, group] of groups) {
    out.set(groupKey(id), id);
    out.set(groupKey(group.name), id);
  }
  return out;
}

export function buildSubjectSnapshot(rows: SubjectRows, now: Date = new Date()): SubjectSnapshot {
  const withdrawals = new Map<string, { id: string; reason: string }>();
  for (const w of rows.withdrawals)
    if (w.web === 1) withdrawals.set(w.person_id, { id: w.id, reason: w.reason });
  const restrictions = new Map<string, Set<string>>();
  for (const r of rows.restrictions) {
    const n = normaliseHost(r.host);
    if (!n.ok) continue;
    const set = restrictions.get(r.person_id) ?? new Set<string>();
    set.add(n.host);
    restrictions.set(r.person_id, set);
  }
  const personalUse = new Map<string, PersonalUseWindow[]>();
  for (const a of rows.personalUse) {
    const list = personalUse.get(a.person_id) ?? [];
    list.push(
      Object.freeze({
        id: a.id,
        startsOn: a.starts_on,
        endsOn: a.ends_on,
        dailyFrom: a.daily_from,
        dailyTo: a.daily_to,
        categories: Object.freeze(JSON.parse(a.categories) as string[]),
      }),
    );
    personalUse.set(a.person_id, list);
  }
  const people = new Map<string, WebPerson>();
  const peopleByEmail = new Map<string, WebPerson>();
  for (const p of rows.people) {
    if (p.status !== 'active') continue;
    const groups = [
      ...new Set(
        p.groups.map((g) => rows.packGroups.get(groupKey(g))).filter((g): g is string => !!g),
      ),
    ];
    const person: WebPerson = Object.freeze({
      id: p.id,
      label: p.email,
      kind: p.kind,
      groups: Object.freeze(groups.sort()),
      withdrawal: withdrawals.get(p.id) ?? null,
      restrictedHosts: restrictions.get(p.id) ?? new Set<string>(),
      personalUse: Object.freeze(personalUse.get(p.id) ?? []),
    });
    people.set(p.id, person);
    peopleByEmail.set(p.email.toLowerCase(), person);
  }
  const devicesByIp = new Map<string, WebDevice>();
  for (const d of rows.devices) {
    if (d.status !== 'approved' || !d.ip) continue;
    const n = normaliseHost(d.ip);
    if (!n.ok) continue;
    devicesByIp.set(
      n.host,
      Object.freeze({ id: d.id, personId: d.person_id, label: d.label, ip: n.host }),
    );
  }
  return Object.freeze({ people, peopleByEmail, devicesByIp, builtAt: now.toISOString() });
}

export const emptySnapshot = (): SubjectSnapshot =>
  buildSubjectSnapshot({
    people: [],
    packGroups: new Map(),
    devices: [],
    withdrawals: [],
    restrictions: [],
    personalUse: [],
  });
