// The web filter over HTTP, mounted at /api/webfilter: "test a URL" (what the filter would do for
// a person or a device, and under which clauses), the activity summary and the visits report,
// which are aggregates only (WEB-6): per-person browsing is read only inside a monitoring case,
// and the lists (lists.routes.ts).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../api/context.ts';
import { downloadVerdict } from '../policy/decisions/web.ts';
import { AppError } from '../shared/errors.ts';
import { fromJson } from '../store/columns.ts';
import { normaliseHost } from './categories/index.ts';
import { listsRoutes } from './lists.routes.ts';
import { extensionOfPath } from './proxy/server.ts';
import {
  countsByCategories,
  countsByDirectoryGroup,
  countsByHour,
  countUnidentified,
  visitsByHostAndDay,
} from './reports.repository.ts';
import { webFilterFor } from './runtime.ts';
import { packGroupIndex } from './subjects.ts';

/**
 * Groups covering fewer people than this show no counts, and sites visited by fewer people on a
 * day are not named: a group of one is one person.
 */
export const MIN_GROUP_PEOPLE = 3;
const MAX_RANGE_DAYS = 366;

const named = z.object({ id: z.string(), name: z.string() });
const counts = z.object({ allowed: z.number(), blocked: z.number() });

export const TestQuery = z.object({
  url: z.string().min(1).max(4096).describe('an address: example.com, http://example.com/page'),
  person: z.string().max(254).optional().describe('a person id or e-mail address'),
  ip: z.string().max(64).optional().describe('the address of a registered device'),
});

export const TestResult = z.object({
  host: z.string(),
  path: z.string().nullable(),
  action: z.enum(['allow', 'block']),
  reason: z.string(),
  categories: z.array(named),
  clauses: z.array(z.object({ id: z.string(), title: z.string().nullable() })),
  alert: z.boolean(),
  person: z.object({ id: z.string(), label: z.string() }).nullable(),
  device: z.object({ id: z.string(), label: z.string() }).nullable(),
});

export const SummaryQuery = z.object({
  from: z.string().datetime({ offset: true }).or(z.string().date()).optional(),
  to: z.string().datetime({ offset: true }).or(z.string().date()).optional(),
});

export const SummaryResult = z.object({
  from: z.string(),
  to: z.string(),
  total: counts,
  byCategory: z.array(z.object({ category: z.string(), name: z.string() }).extend(counts.shape)),
  byGroup: z.array(
    z.object({ group: z.string(), name: z.string(), suppressed: z.boolean() }).extend(counts.shape),
  ),
  unidentified: counts,
  byHour: z.array(z.object({ hour: z.string() }).extend(counts.shape)),
});

export const VisitsQuery = SummaryQuery.extend({
  source: z
    .enum(['proxy', 'dns'])
    .optional()
    .describe('visits seen by the proxy or by the DNS filter; both when absent, side by side'),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(500)
    .default(50)
    .describe('sites per day and source, most visited first'),
});

const visitTotals = {
  visits: z.number().describe('visits begun that day'),
  requests: z.number(),
  blocked: z.number(),
};

export const VisitsResult = z.object({
  from: z.string(),
  to: z.string(),
  byHostDay: z.array(
    z.object({
      day: z.string(),
      source: z.string(),
      host: z.string(),
      ...visitTotals,
      people: z.number().describe('people (or devices) who visited; at least MIN_GROUP_PEOPLE'),
      totalSeconds: z.number(),
      medianSeconds: z.number().describe('median length of a visit'),
    }),
  ),
  withheld: z.array(
    z.object({
      day: z.string(),
      source: z.string(),
      hosts: z.number().describe('sites not named: too few visitors, or past the limit'),
      visits: z.number(),
    }),
  ),
});

function splitUrl(raw: string): { host: string; path: string | null } | null {
  const text = raw.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    return null;
  }
  const n = normaliseHost(url.hostname);
  if (!n.ok) return null;
  const https = url.protocol === 'https:';
  return { host: n.host, path: https ? null : `${url.pathname}${url.search}` };
}

const toIso = (value: string, end: boolean) => {
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    const d = new Date(`${value}T00:00:00Z`);
    if (end) d.setUTCDate(d.getUTCDate() + 1);
    return d.toISOString();
  }
  return new Date(value).toISOString();
};

/** The report range: `from` and `to` as dates or times; the last seven days when absent. */
function rangeOf(query: { from?: string | undefined; to?: string | undefined }, now: Date) {
  const to = query.to ? toIso(query.to, true) : now.toISOString();
  const from = query.from
    ? toIso(query.from, false)
    : new Date(Date.parse(to) - 7 * 86_400_000).toISOString();
  if (from >= to) throw new AppError('validation_failed', '"from" must be before "to".');
  if (Date.parse(to) - Date.parse(from) > MAX_RANGE_DAYS * 86_400_000) {
    throw new AppError('validation_failed', `Ask for at most ${MAX_RANGE_DAYS} days at a time.`);
  }
  return { from, to };
}

const add = (
  m: Map<string, { allowed: number; blocked: number }>,
  key: string,
  decision: string,
  n: number,
) => {
  const entry = m.get(key) ?? { allowed: 0, blocked: 0 };
  if (decision === 'block') entry.blocked += n;
  else entry.allowed += n;
  m.set(key, entry);
};

export const webfilterRoutes =
  (ctx: AppContext): FastifyPluginAsyncZod =>
  async (app) => {
    await app.register(listsRoutes(ctx));

    app.get(
      '/test',
      {
        config: { permission: 'webfilter.test' },
        schema: {
          tags: ['webfilter'],
          summary: 'Test a URL: what the web filter does for a person or device, and why',
          querystring: TestQuery,
          response: { 200: TestResult },
        },
      },
      async (request) => {
        const { url, person, ip } = request.query;
        const target = splitUrl(url);
        if (!target) {
          throw new AppError('validation_failed', 'That is not a web address. Try "example.com".');
        }
        const { state } = await webFilterFor(ctx);
        const engine = state.engine();
        let personId: string | null = null;
        if (person) {
          const found =
            engine.subjects.people.get(person) ??
            engine.subjects.peopleByEmail.get(person.toLowerCase());
          if (!found) {
            throw new AppError(
              'not_found',
              'No active person with that id or e-mail address. Check the directory.',
            );
          }
          personId = found.id;
        }
        const clientIp = ip
          ? normaliseHost(ip).ok
            ? (normaliseHost(ip) as { host: string }).host
            : ip
          : '';
        let decision = engine.decide({
          clientIp,
          personId,
          host: target.host,
          path: target.path ?? undefined,
          now: ctx.clock(),
        });
        let reason: string = decision.reason;
        if (decision.action === 'allow' && target.path !== null) {
          const ext = extensionOfPath(target.path);
          const verdict = ext ? downloadVerdict(engine.policy, `f.${ext}`) : null;
          if (verdict?.blocked) {
            decision = {
              ...decision,
              action: 'block',
              clauseIds: verdict.clauseIds,
              categories: [],
            };
            reason = 'download';
          }
        }
        const policy = engine.policy;
        return {
          host: target.host,
          path: target.path,
          action: decision.action,
          reason,
          categories: decision.categories.map((c) => ({
            id: c,
            name: policy.web.categories.get(c)?.name ?? c,
          })),
          clauses: decision.clauseIds.map((id) => ({
            id,
            title:
              (policy.clauses.get(id) ?? policy.clauses.get(id.replace(/\(.*$/, '')))?.title ??
              null,
          })),
          alert: decision.alert,
          person: decision.person ? { id: decision.person.id, label: decision.person.label } : null,
          device: decision.device ? { id: decision.device.id, label: decision.device.label } : null,
        };
      },
    );

    app.get(
      '/activity/summary',
      {
        config: { permission: 'webfilter.reports' },
        schema: {
          tags: ['webfilter'],
          summary:
            'Web activity in aggregate (WEB-6): allowed and blocked by category, pack group and hour; never one person',
          querystring: SummaryQuery,
          response: { 200: SummaryResult },
        },
      },
      async (request) => {
        const { from, to } = rangeOf(request.query, ctx.clock());
        const policy = ctx.policy.current();
        const [cats, hours, groups, unidentified] = await Promise.all([
          countsByCategories(ctx.store, from, to),
          countsByHour(ctx.store, from, to),
          countsByDirectoryGroup(ctx.store, from, to),
          countUnidentified(ctx.store, from, to),
        ]);
        const total = { allowed: 0, blocked: 0 };
        const byCategory = new Map<string, { allowed: number; blocked: number }>();
        for (const row of cats) {
          if (row.decision === 'block') total.blocked += row.n;
          else total.allowed += row.n;
          const list = fromJson<string[]>(row.key, []);
          for (const c of list.length ? list : ['(none)']) add(byCategory, c, row.decision, row.n);
        }
        const groupIds = packGroupIndex(policy.groups);
        const byGroup = new Map<string, { allowed: number; blocked: number; people: number }>();
        for (const row of groups) {
          const id = groupIds.get(row.name.trim().toLowerCase());
          if (!id) continue;
          const entry = byGroup.get(id) ?? { allowed: 0, blocked: 0, people: 0 };
          if (row.decision === 'block') entry.blocked += row.n;
          else entry.allowed += row.n;
          entry.people = Math.max(entry.people, row.people);
          byGroup.set(id, entry);
        }
        const byHour = new Map<string, { allowed: number; blocked: number }>();
        for (const row of hours) add(byHour, row.key, row.decision, row.n);
        const unknown = { allowed: 0, blocked: 0 };
        for (const row of unidentified) {
          if (row.decision === 'block') unknown.blocked += row.n;
          else unknown.allowed += row.n;
        }
        return {
          from,
          to,
          total,
          byCategory: [...byCategory]
            .map(([category, c]) => ({
              category,
              name: policy.web.categories.get(category)?.name ?? category,
              ...c,
            }))
            .sort((a, b) => b.blocked + b.allowed - (a.blocked + a.allowed)),
          byGroup: [...byGroup].map(([group, c]) => {
            const suppressed = c.people < MIN_GROUP_PEOPLE;
            return {
              group,
              name: policy.groups.get(group)?.name ?? group,
              suppressed,
              allowed: suppressed ? 0 : c.allowed,
              blocked: suppressed ? 0 : c.blocked,
            };
          }),
          unidentified: unknown,
          byHour: [...byHour].map(([hour, c]) => ({ hour: `${hour}:00`, ...c })),
        };
      },
    );

    app.get(
      '/activity/visits',
      {
        config: { permission: 'webfilter.reports' },
        schema: {
          tags: ['webfilter'],
          summary:
            'Visits per site and day (WEB-6): how many, by how many people, how long (total and median); sites too few people visited are counted, not named',
          querystring: VisitsQuery,
          response: { 200: VisitsResult },
        },
      },
      async (request) => {
        const { from, to } = rangeOf(request.query, ctx.clock());
        const report = await visitsByHostAndDay(ctx.store, from, to, {
          minPeople: MIN_GROUP_PEOPLE,
          limit: request.query.limit,
          source: request.query.source,
        });
        return {
          from,
          to,
          byHostDay: report.rows.map((r) => ({
            day: r.day,
            source: r.source,
            host: r.host,
            visits: r.visits,
            people: r.people,
            requests: r.requests,
            blocked: r.blocked,
            totalSeconds: Math.round(r.totalMs / 1000),
            medianSeconds: Math.round(r.medianMs / 1000),
          })),
          withheld: report.withheld,
        };
      },
    );
  };
