// The web filter as the console reads it from /api/webfilter: the result of testing an address,
// the activity summary and the visits per site (aggregates only, WEB-6), the loaded category lists
// with what each pack group blocks, the update job, the school's own allow and deny lists, and the
// requests to review a blocked site.
import { useQuery } from '@tanstack/react-query';
import { api } from './api.ts';

export interface TestResult {
  host: string;
  path: string | null;
  action: 'allow' | 'block';
  reason: string;
  categories: { id: string; name: string }[];
  clauses: { id: string; title: string | null }[];
  alert: boolean;
  person: { id: string; label: string } | null;
  device: { id: string; label: string } | null;
}

export interface Counts {
  allowed: number;
  blocked: number;
}

export interface ActivitySummary {
  from: string;
  to: string;
  total: Counts;
  byCategory: ({ category: string; name: string } & Counts)[];
  byGroup: ({ group: string; name: string; suppressed: boolean } & Counts)[];
  unidentified: Counts;
  byHour: ({ hour: string } & Counts)[];
}

/** Where a visit was seen: the proxy's and the DNS filter's visits are never added together. */
export type VisitSource = 'proxy' | 'dns';

/** One site on one day (UTC), for everyone together; only sites at least three people visited. */
export interface SiteDayVisits {
  day: string;
  source: string;
  host: string;
  visits: number;
  people: number;
  requests: number;
  blocked: number;
  totalSeconds: number;
  medianSeconds: number;
}

/** Per day and source, the sites not named: too few people visited them, or past the limit. */
export interface WithheldVisits {
  day: string;
  source: string;
  hosts: number;
  visits: number;
}

export interface ActivityVisits {
  from: string;
  to: string;
  byHostDay: SiteDayVisits[];
  withheld: WithheldVisits[];
}

/** The most sites per day and source the visits report names (the API's own maximum). */
export const VISITS_LIMIT = 500;

/** Visits per site and day for a period of YYYY-MM-DD days, both sources (WEB-6). */
export function useActivityVisits(range: { from: string; to: string }) {
  return useQuery({
    queryKey: ['webfilter', 'visits', range.from, range.to],
    queryFn: () =>
      api<ActivityVisits>('/api/webfilter/activity/visits', {
        query: { ...range, limit: VISITS_LIMIT },
      }),
  });
}

/**
 * Whether a category is blocked for one pack group (or for everyone), and under which clauses. For
 * a group, `blocked` is what applies to its members (the default groups' rules included) and
 * `rule` the group's own rule in the pack; `rule` is undefined when the server does not say.
 */
export interface BlockState {
  blocked: boolean;
  clauseIds: string[];
  rule?: 'block' | 'allow' | null;
}

export interface ListCategory {
  id: string;
  name: string;
  /** False for a list loaded that the policy pack does not name (never blocked). */
  inPolicy: boolean;
  domains: number;
  urls: number;
  everyone: BlockState;
  /** Keyed by pack group id. */
  groups: Record<string, BlockState>;
}

export interface ListsState {
  source: string | null;
  sha256: string | null;
  loadedAt: string | null;
  groups: { id: string; name: string }[];
  /** web.defaultGroups: every person is in these for web rules. */
  defaultGroups: string[];
  categories: ListCategory[];
  totals: { domains: number; urls: number };
}

export interface UpdateJob {
  id?: string;
  phase: string;
  done: number;
  total: number;
  error: string | { code?: string; message: string } | null;
}

export const jobError = (job: UpdateJob): string | null =>
  job.error === null || job.error === undefined
    ? null
    : typeof job.error === 'string'
      ? job.error
      : job.error.message;

export type SchoolListName = 'allow' | 'deny';

export interface SchoolListEntry {
  id: string | null;
  list: SchoolListName;
  host: string;
  reason: string;
  addedAt: string | null;
  addedBy: string | null;
}

export const LISTS_KEY = ['webfilter', 'lists'] as const;
export const SCHOOL_LISTS_KEY = ['webfilter', 'school-lists'] as const;

// --- Reading the answers tolerantly: the lists endpoints are new, and their shape may grow. ------

type Loose = Record<string, unknown>;
const isObject = (v: unknown): v is Loose => typeof v === 'object' && v !== null;
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

function clauseIdsOf(v: Loose): string[] {
  const list = v.clauseIds ?? v.clauses ?? [];
  if (!Array.isArray(list)) return [];
  return list
    .map((c) => (typeof c === 'string' ? c : isObject(c) ? str(c.id) : null))
    .filter((c): c is string => !!c);
}

function blockStateOf(v: unknown): BlockState {
  if (typeof v === 'boolean') return { blocked: v, clauseIds: [] };
  if (!isObject(v)) return { blocked: false, clauseIds: [] };
  const state: BlockState = { blocked: v.blocked === true, clauseIds: clauseIdsOf(v) };
  if (v.rule === 'block' || v.rule === 'allow' || v.rule === null) state.rule = v.rule;
  return state;
}

export function readLists(body: unknown): ListsState {
  const root = isObject(body) ? body : {};
  const groupNames = new Map<string, string>();
  if (Array.isArray(root.groups)) {
    for (const g of root.groups) {
      if (isObject(g)) {
        const id = str(g.id) ?? str(g.group);
        if (id) groupNames.set(id, str(g.name) ?? id);
      }
    }
  }
  const categories: ListCategory[] = [];
  for (const raw of Array.isArray(root.categories) ? root.categories : []) {
    if (!isObject(raw)) continue;
    const id = str(raw.id) ?? str(raw.category);
    if (!id) continue;
    const entries = isObject(raw.entries) ? raw.entries : isObject(raw.counts) ? raw.counts : raw;
    const groups: Record<string, BlockState> = {};
    const rawGroups = raw.groups ?? raw.packGroups;
    if (Array.isArray(rawGroups)) {
      for (const g of rawGroups) {
        if (!isObject(g)) continue;
        const gid = str(g.id) ?? str(g.group);
        if (!gid) continue;
        groups[gid] = blockStateOf(g);
        if (!groupNames.has(gid)) groupNames.set(gid, str(g.name) ?? gid);
      }
    } else if (isObject(rawGroups)) {
      for (const [gid, g] of Object.entries(rawGroups)) {
        groups[gid] = blockStateOf(g);
        if (!groupNames.has(gid)) groupNames.set(gid, isObject(g) ? (str(g.name) ?? gid) : gid);
      }
    }
    categories.push({
      id,
      name: str(raw.name) ?? id,
      inPolicy: raw.inPolicy !== false,
      domains: num(entries.domains),
      urls: num(entries.urls),
      everyone: blockStateOf(raw.everyone),
      groups,
    });
  }
  const totals = isObject(root.totals)
    ? { domains: num(root.totals.domains), urls: num(root.totals.urls) }
    : {
        domains: categories.reduce((n, c) => n + c.domains, 0),
        urls: categories.reduce((n, c) => n + c.urls, 0),
      };
  return {
    source: str(root.source),
    sha256: str(root.sha256) ?? (isObject(root.installed) ? str(root.installed.sha256) : null),
    loadedAt: str(root.loadedAt),
    groups: [...groupNames].map(([id, name]) => ({ id, name })),
    defaultGroups: Array.isArray(root.defaultGroups)
      ? root.defaultGroups.filter((g): g is string => typeof g === 'string')
      : [],
    categories,
    totals,
  };
}

export function readSchoolLists(body: unknown): SchoolListEntry[] {
  const root = isObject(body) ? body : {};
  const out: SchoolListEntry[] = [];
  const push = (raw: unknown, fallback: SchoolListName | null) => {
    if (!isObject(raw)) return;
    const list = raw.list === 'allow' || raw.list === 'deny' ? raw.list : fallback;
    const host = str(raw.host);
    if (!list || !host) return;
    out.push({
      id: str(raw.id),
      list,
      host,
      reason: str(raw.reason) ?? '',
      addedAt: str(raw.addedAt) ?? str(raw.createdAt),
      addedBy: isObject(raw.addedBy)
        ? str(raw.addedBy.label)
        : (str(raw.addedBy) ?? (isObject(raw.createdBy) ? str(raw.createdBy.label) : null)),
    });
  };
  const all = Array.isArray(body) ? body : (root.entries ?? root.items);
  if (Array.isArray(all)) for (const e of all) push(e, null);
  for (const name of ['allow', 'deny'] as const) {
    const list = root[name];
    if (Array.isArray(list)) for (const e of list) push(e, name);
  }
  return out;
}

export function useLists(enabled = true) {
  return useQuery({
    queryKey: LISTS_KEY,
    queryFn: async () => readLists(await api<unknown>('/api/webfilter/lists')),
    enabled,
    retry: false,
  });
}

// --- Requests to review a blocked site, made from block pages (MIS-1, SYS-5) ---------------------

export type ReviewStatus = 'open' | 'allowed' | 'refused';

export interface ReviewRequest {
  id: string;
  host: string;
  url: string;
  reason: string;
  status: ReviewStatus;
  createdAt: string;
  requester: {
    personId: string | null;
    name: string | null;
    email: string | null;
    device: { id: string; label: string } | null;
    ip: string;
  };
  categories: { id: string; name: string; blockedForEveryone: boolean }[];
  clauses: { id: string; title: string | null }[];
  decision: { by: string; at: string; note: string | null } | null;
}

export const REVIEWS_KEY = ['webfilter', 'reviews'] as const;

export function useReviewRequests(status: 'open' | 'decided') {
  return useQuery({
    queryKey: [...REVIEWS_KEY, status],
    queryFn: () =>
      api<{ requests: ReviewRequest[]; open: number }>('/api/webfilter/reviews', {
        query: { status },
      }),
  });
}
