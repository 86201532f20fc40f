// Web activity in aggregate (WEB-6): allowed and blocked requests by category and by hour of the
// day, and the sites people spend most time on, for a chosen period. Never one person: browsing
// detail is read only inside a monitoring case. The charts are plain SVG with a text summary, and
// every figure is also in a table.
import { Card, SegmentedControl, SimpleGrid, Stack, Table, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { api } from '../api.ts';
import {
  Chart,
  FiguresTable,
  HorizontalBars,
  Legend,
  lastWeek,
  PeriodForm,
  StackedBars,
  Stat,
} from '../components/charts.tsx';
import { Empty, ErrorAlert, Loading } from '../components/page.tsx';
import { formatDate, plural } from '../format.ts';
import {
  type ActivitySummary,
  type Counts,
  type SiteDayVisits,
  useActivityVisits,
  VISITS_LIMIT,
  type VisitSource,
  type WithheldVisits,
} from '../webfilter-data.ts';

export const BLOCKED_COLOUR = '#a51d1d';
export const ALLOWED_COLOUR = '#1e6b32';
const VISIT_COLOUR = '#1f5f8b';

/**
 * A site is named only when at least this many people visited it on a day (MIN_GROUP_PEOPLE in
 * src/webfilter/routes.ts): a site one person visits can point at that person.
 */
const MIN_PEOPLE = 3;
/** Sites in the chart; the table lists more. */
const TOP_SITES = 10;
const TABLE_SITES = 100;

const HOUR = new Intl.DateTimeFormat('en-GB', {
  hour: '2-digit',
  hour12: false,
  timeZone: 'Europe/London',
});

interface Row extends Counts {
  key: string;
  label: string;
}

/** Horizontal bars, blocked and allowed side by side for each row. */
function CategoryChart({ rows, title }: { rows: Row[]; title: string }) {
  const max = Math.max(1, ...rows.map((r) => Math.max(r.blocked, r.allowed)));
  const labelWidth = 220;
  const barArea = 360;
  const rowHeight = 34;
  const height = rows.length * rowHeight + 8;
  const summary = rows
    .map((r) => `${r.label}: ${r.blocked} blocked, ${r.allowed} allowed`)
    .join('; ');
  return (
    <Chart
      width={labelWidth + barArea + 70}
      height={height}
      maxWidth={720}
      title={title}
      summary={summary}
    >
      {rows.map((r, i) => {
        const y = i * rowHeight + 4;
        const wb = (r.blocked / max) * barArea;
        const wa = (r.allowed / max) * barArea;
        return (
          <g key={r.key}>
            <text x={labelWidth - 8} y={y + 17} textAnchor="end" fontSize="13" fill="#212529">
              {r.label.length > 27 ? `${r.label.slice(0, 26)}…` : r.label}
            </text>
            <rect x={labelWidth} y={y + 2} width={wb} height={12} fill={BLOCKED_COLOUR} />
            <text x={labelWidth + wb + 4} y={y + 12} fontSize="11" fill="#212529">
              {r.blocked}
            </text>
            <rect x={labelWidth} y={y + 16} width={wa} height={12} fill={ALLOWED_COLOUR} />
            <text x={labelWidth + wa + 4} y={y + 26} fontSize="11" fill="#212529">
              {r.allowed}
            </text>
          </g>
        );
      })}
    </Chart>
  );
}

/** Twenty-four columns, blocked stacked under allowed. */
function HourChart({ rows, title }: { rows: Row[]; title: string }) {
  const busy = rows.filter((r) => r.blocked + r.allowed > 0);
  return (
    <StackedBars
      columns={rows.map((r) => ({
        key: r.key,
        label: r.key,
        segments: [
          { key: 'blocked', colour: BLOCKED_COLOUR, value: r.blocked },
          { key: 'allowed', colour: ALLOWED_COLOUR, value: r.allowed },
        ],
      }))}
      title={title}
      summary={
        busy.length
          ? busy.map((r) => `${r.label}: ${r.blocked} blocked, ${r.allowed} allowed`).join('; ')
          : 'No requests in any hour.'
      }
      chartHeight={140}
      left={8}
      column={26}
      below={24}
      labelEvery={3}
      maxWidth={720}
    />
  );
}

const BLOCKED_AND_ALLOWED = [
  { colour: BLOCKED_COLOUR, label: 'Blocked' },
  { colour: ALLOWED_COLOUR, label: 'Allowed' },
];

function CountsTable({ rows, caption, first }: { rows: Row[]; caption: string; first: string }) {
  return (
    <FiguresTable caption={caption} head={[first, 'Blocked', 'Allowed']} maw={560}>
      {rows.map((r) => (
        <Table.Tr key={r.key}>
          <Table.Th scope="row" fw={400}>
            {r.label}
          </Table.Th>
          <Table.Td ta="right">{r.blocked.toLocaleString('en-GB')}</Table.Td>
          <Table.Td ta="right">{r.allowed.toLocaleString('en-GB')}</Table.Td>
        </Table.Tr>
      ))}
    </FiguresTable>
  );
}

export function ActivityTab() {
  const [range, setRange] = useState(lastWeek);

  const summary = useQuery({
    queryKey: ['webfilter', 'summary', range.from, range.to],
    queryFn: () => api<ActivitySummary>('/api/webfilter/activity/summary', { query: range }),
  });

  const data = summary.data;
  const categories = useMemo<Row[]>(
    () =>
      (data?.byCategory ?? []).map((c) => ({
        key: c.category,
        label: c.category === '(none)' ? 'In no category' : c.name,
        allowed: c.allowed,
        blocked: c.blocked,
      })),
    [data],
  );
  const hours = useMemo<Row[]>(() => {
    const rows: Row[] = Array.from({ length: 24 }, (_, h) => {
      const key = String(h).padStart(2, '0');
      return { key, label: `${key}:00 to ${key}:59`, allowed: 0, blocked: 0 };
    });
    for (const h of data?.byHour ?? []) {
      const at = Date.parse(`${h.hour.slice(0, 13)}:00:00Z`);
      if (Number.isNaN(at)) continue;
      const row = rows[Number(HOUR.format(at)) % 24];
      if (!row) continue;
      row.allowed += h.allowed;
      row.blocked += h.blocked;
    }
    return rows;
  }, [data]);

  return (
    <Stack gap="lg">
      <PeriodForm initial={range} onChoose={setRange}>
        Counts of requests and visits for everyone together (WEB-6). Browsing by one person is seen
        only inside a monitoring case.
      </PeriodForm>
      <ErrorAlert error={summary.error} title="The activity did not load" />
      {summary.isPending ? <Loading label="Counting the requests…" /> : null}
      {data ? (
        data.total.allowed + data.total.blocked === 0 ? (
          <Empty title="No web requests in this period">
            Nothing passed through the web filter from {formatDate(range.from)} to{' '}
            {formatDate(range.to)}. Choose a longer period, or check that the school's devices use
            the filter as their proxy or DNS server (see docs/web-filter.md).
          </Empty>
        ) : (
          <>
            <SimpleGrid cols={{ base: 1, sm: 3 }}>
              <Stat label="Requests" value={data.total.allowed + data.total.blocked} />
              <Stat label="Blocked" value={data.total.blocked} />
              <Stat label="Allowed" value={data.total.allowed} />
            </SimpleGrid>
            <Card withBorder padding="lg" data-testid="activity-by-category">
              <Stack gap="sm">
                <Title order={2} size="h4">
                  By category
                </Title>
                <Legend items={BLOCKED_AND_ALLOWED} />
                <CategoryChart
                  rows={categories}
                  title={`Blocked and allowed requests by category, ${formatDate(range.from)} to ${formatDate(range.to)}`}
                />
                <CountsTable
                  rows={categories}
                  caption="Blocked and allowed requests by category"
                  first="Category"
                />
              </Stack>
            </Card>
            <Card withBorder padding="lg" data-testid="activity-by-hour">
              <Stack gap="sm">
                <Title order={2} size="h4">
                  By hour of the day (UK time)
                </Title>
                <Legend items={BLOCKED_AND_ALLOWED} />
                <HourChart rows={hours} title="Blocked and allowed requests by hour of the day" />
                <CountsTable
                  rows={hours}
                  caption="Blocked and allowed requests by hour of the day"
                  first="Hour"
                />
              </Stack>
            </Card>
            <SiteVisits range={range} />
          </>
        )
      ) : null}
    </Stack>
  );
}

// --- Sites people spend time on (WEB-6: duration and frequency) ----------------------------------

/** 45 s, 3 min 40 s, 2 h 5 min. */
function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  const h = Math.floor(m / 60);
  return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
}

interface Site {
  host: string;
  visits: number;
  totalSeconds: number;
  medianSeconds: number;
  /** The most people who visited it on one day of the period. */
  mostPeople: number;
}

/**
 * The middle of the days' medians, each counted as often as its day had visits. The report gives a
 * median per day; for a single day this is that median exactly.
 */
function medianOfDays(days: { seconds: number; visits: number }[]): number {
  const sorted = [...days].sort((a, b) => a.seconds - b.seconds);
  const half = sorted.reduce((n, d) => n + d.visits, 0) / 2;
  let seen = 0;
  for (const d of sorted) {
    seen += d.visits;
    if (seen >= half) return d.seconds;
  }
  return sorted.at(-1)?.seconds ?? 0;
}

/** One source's days added up per site, the most time first. */
function sitesOf(rows: SiteDayVisits[]): Site[] {
  const bySite = new Map<
    string,
    Omit<Site, 'medianSeconds'> & { days: { seconds: number; visits: number }[] }
  >();
  for (const r of rows) {
    const site = bySite.get(r.host) ?? {
      host: r.host,
      visits: 0,
      totalSeconds: 0,
      mostPeople: 0,
      days: [],
    };
    site.visits += r.visits;
    site.totalSeconds += r.totalSeconds;
    site.mostPeople = Math.max(site.mostPeople, r.people);
    site.days.push({ seconds: r.medianSeconds, visits: r.visits });
    bySite.set(r.host, site);
  }
  return [...bySite.values()]
    .map(({ days, ...site }) => ({ ...site, medianSeconds: medianOfDays(days) }))
    .sort(
      (a, b) =>
        b.totalSeconds - a.totalSeconds || b.visits - a.visits || a.host.localeCompare(b.host),
    );
}

interface Withheld {
  /** Sites not named, counted once for each day on which they were visited. */
  hosts: number;
  visits: number;
  /** True when a day reached the report's limit, so some sites were left out for that too. */
  pastLimit: boolean;
}

function withheldOf(rows: SiteDayVisits[], withheld: WithheldVisits[]): Withheld {
  const named = new Map<string, number>();
  for (const r of rows) named.set(r.day, (named.get(r.day) ?? 0) + 1);
  return {
    hosts: withheld.reduce((n, w) => n + w.hosts, 0),
    visits: withheld.reduce((n, w) => n + w.visits, 0),
    pastLimit: [...named.values()].some((n) => n >= VISITS_LIMIT),
  };
}

const siteLine = (s: Site) =>
  `${formatDuration(s.totalSeconds)} · ${plural(s.visits, 'visit')} · median ${formatDuration(s.medianSeconds)}`;

/** Horizontal bars of total time, with the visits and the median visit beside each. */
function VisitChart({ sites, title }: { sites: Site[]; title: string }) {
  return (
    <HorizontalBars
      bars={sites.map((s) => ({
        key: s.host,
        label: s.host.length > 27 ? `…${s.host.slice(-26)}` : s.host,
        value: s.totalSeconds,
        colour: VISIT_COLOUR,
        text: siteLine(s),
      }))}
      title={title}
      summary={sites
        .map(
          (s) =>
            `${s.host}: ${formatDuration(s.totalSeconds)} in ${plural(s.visits, 'visit')}, median visit ${formatDuration(s.medianSeconds)}`,
        )
        .join('; ')}
      labelWidth={220}
      barArea={250}
      textArea={270}
      rowHeight={30}
      maxWidth={760}
    />
  );
}

function SiteTable({ sites, severalDays }: { sites: Site[]; severalDays: boolean }) {
  return (
    <FiguresTable
      caption="Time spent on each site, visits and median visit"
      head={['Site', 'Total time', 'Visits', 'Median visit', 'Most people in a day']}
      maw={760}
      more={sites.length > TABLE_SITES ? ` (the ${TABLE_SITES} sites with the most time)` : ''}
      after={
        <Text size="sm" c="dimmed" mt="xs" maw={760}>
          A visit runs from the first request to a site to the last, until a few minutes pass
          without one.
          {severalDays
            ? " Over several days, a site's median visit is the middle of its daily medians, weighted by their visits."
            : ''}
        </Text>
      }
    >
      {sites.slice(0, TABLE_SITES).map((s) => (
        <Table.Tr key={s.host}>
          <Table.Th scope="row" fw={400}>
            {s.host}
          </Table.Th>
          <Table.Td ta="right">{formatDuration(s.totalSeconds)}</Table.Td>
          <Table.Td ta="right">{s.visits.toLocaleString('en-GB')}</Table.Td>
          <Table.Td ta="right">{formatDuration(s.medianSeconds)}</Table.Td>
          <Table.Td ta="right">{s.mostPeople.toLocaleString('en-GB')}</Table.Td>
        </Table.Tr>
      ))}
    </FiguresTable>
  );
}

function WithheldLine({ withheld, days }: { withheld: Withheld; days: number }) {
  if (withheld.hosts === 0) return null;
  const one = withheld.hosts === 1;
  return (
    <Text size="sm" data-testid="visits-withheld">
      <Text span fw={600} inherit>
        Withheld for privacy:
      </Text>{' '}
      {plural(withheld.hosts, 'site')} with {plural(withheld.visits, 'visit')},{' '}
      {one ? 'visited' : 'each visited'} by fewer than {MIN_PEOPLE} people that day
      {days > 1 ? ' (a site is counted once for each day)' : ''}. A site that only one or two people
      visit could show who they are, so {one ? 'it is' : 'they are'} counted but not named.
      {withheld.pastLimit
        ? ` On the busiest days, the sites beyond the ${VISITS_LIMIT} most visited are counted here too.`
        : ''}
    </Text>
  );
}

const SOURCE_LABEL: Record<VisitSource, string> = {
  proxy: 'Seen by the proxy',
  dns: 'Seen by the DNS filter',
};

function SiteVisits({ range }: { range: { from: string; to: string } }) {
  const visits = useActivityVisits(range);
  const [chosen, setChosen] = useState<VisitSource | null>(null);
  const data = visits.data;
  // The proxy's and the DNS filter's visits are never added together: a browser's visit is seen
  // by both. The proxy's are shown first, as they time a visit by its requests, not its lookups.
  const sources = useMemo(() => {
    const present = new Set<string>();
    for (const r of data?.byHostDay ?? []) present.add(r.source);
    for (const w of data?.withheld ?? []) present.add(w.source);
    return (['proxy', 'dns'] as const).filter((s) => present.has(s));
  }, [data]);
  const source: VisitSource = chosen && sources.includes(chosen) ? chosen : (sources[0] ?? 'proxy');
  const view = useMemo(() => {
    const rows = (data?.byHostDay ?? []).filter((r) => r.source === source);
    const withheld = (data?.withheld ?? []).filter((w) => w.source === source);
    // Over several days a site may be withheld on each of them: it is then counted each time.
    const days = new Set(withheld.map((w) => w.day)).size;
    return { sites: sitesOf(rows), withheld: withheldOf(rows, withheld), days };
  }, [data, source]);
  const period = `${formatDate(range.from)} to ${formatDate(range.to)}`;

  return (
    <Card withBorder padding="lg" data-testid="activity-visits">
      <Stack gap="sm">
        <Title order={2} size="h4">
          Sites people spend time on
        </Title>
        <Text size="sm">
          Everyone's visits together, {period}: the sites with the most time spent on them, with the
          number of visits and the median visit (half the visits were shorter). No person is named,
          and a site is named only when at least {MIN_PEOPLE} people visited it on the same day.
        </Text>
        {sources.length > 1 ? (
          <SegmentedControl
            aria-label="Which visits"
            value={source}
            onChange={(v) => setChosen(v as VisitSource)}
            data={sources.map((s) => ({ value: s, label: SOURCE_LABEL[s] }))}
            maw={420}
          />
        ) : sources.length === 1 ? (
          <Text size="sm" c="dimmed">
            {SOURCE_LABEL[source]}.
          </Text>
        ) : null}
        <ErrorAlert error={visits.error} title="The visits did not load" />
        {visits.isPending ? <Loading label="Counting the visits…" /> : null}
        {data && view.sites.length === 0 ? (
          <Empty
            title={
              view.withheld.hosts
                ? `No site was visited by ${MIN_PEOPLE} or more people on one day`
                : 'No visits recorded in this period'
            }
          >
            The sites people spend most time on will appear here, with their visits and the median
            visit, once at least {MIN_PEOPLE} people have visited a site on the same day. The web
            filter writes its activity once a minute, so a visit shows here a minute or two after it
            begins.
          </Empty>
        ) : null}
        {view.sites.length ? (
          <VisitChart
            sites={view.sites.slice(0, TOP_SITES)}
            title={`The ${Math.min(TOP_SITES, view.sites.length)} sites with the most time spent on them, ${period}`}
          />
        ) : null}
        {data ? <WithheldLine withheld={view.withheld} days={view.days} /> : null}
        {view.sites.length ? (
          <SiteTable sites={view.sites} severalDays={range.from !== range.to} />
        ) : null}
      </Stack>
    </Card>
  );
}
