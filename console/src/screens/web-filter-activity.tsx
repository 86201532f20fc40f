// Web activity in aggregate (WEB-6): allowed and blocked requests by category and by hour of the
// day for a chosen period. Never one person: browsing detail is read only inside a monitoring case.
// The charts are plain SVG with a text summary, and every figure is also in a table.
import {
  Button,
  Card,
  Group,
  SimpleGrid,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { type FormEvent, useId, useMemo, useState } from 'react';
import { api } from '../api.ts';
import { Empty, ErrorAlert, Loading } from '../components/page.tsx';
import { formatDate, parseUkDate } from '../format.ts';
import type { ActivitySummary, Counts } from '../webfilter-data.ts';

export const BLOCKED_COLOUR = '#a51d1d';
export const ALLOWED_COLOUR = '#1e6b32';

const HOUR = new Intl.DateTimeFormat('en-GB', {
  hour: '2-digit',
  hour12: false,
  timeZone: 'Europe/London',
});

/** Today in UK time, minus `days`, as YYYY-MM-DD. */
function ukDay(days: number): string {
  const d = new Date(Date.now() - days * 86_400_000);
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/London' }).format(d);
  return parts;
}

const toUk = (iso: string) => formatDate(iso);

interface Row extends Counts {
  key: string;
  label: string;
}

/** Horizontal bars, blocked and allowed side by side for each row. */
function CategoryChart({ rows, title }: { rows: Row[]; title: string }) {
  const id = useId();
  const max = Math.max(1, ...rows.map((r) => Math.max(r.blocked, r.allowed)));
  const labelWidth = 220;
  const barArea = 360;
  const rowHeight = 34;
  const height = rows.length * rowHeight + 8;
  const summary = rows
    .map((r) => `${r.label}: ${r.blocked} blocked, ${r.allowed} allowed`)
    .join('; ');
  return (
    <svg
      viewBox={`0 0 ${labelWidth + barArea + 70} ${height}`}
      width="100%"
      role="img"
      aria-labelledby={`${id}-t ${id}-d`}
      style={{ maxWidth: 720, display: 'block' }}
    >
      <title id={`${id}-t`}>{title}</title>
      <desc id={`${id}-d`}>{summary}</desc>
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
    </svg>
  );
}

/** Twenty-four columns, blocked stacked under allowed. */
function HourChart({ rows, title }: { rows: Row[]; title: string }) {
  const id = useId();
  const max = Math.max(1, ...rows.map((r) => r.blocked + r.allowed));
  const col = 26;
  const chartHeight = 140;
  const left = 8;
  const busy = rows.filter((r) => r.blocked + r.allowed > 0);
  const summary = busy.length
    ? busy.map((r) => `${r.label}: ${r.blocked} blocked, ${r.allowed} allowed`).join('; ')
    : 'No requests in any hour.';
  return (
    <svg
      viewBox={`0 0 ${left + rows.length * col + 8} ${chartHeight + 24}`}
      width="100%"
      role="img"
      aria-labelledby={`${id}-t ${id}-d`}
      style={{ maxWidth: 720, display: 'block' }}
    >
      <title id={`${id}-t`}>{title}</title>
      <desc id={`${id}-d`}>{summary}</desc>
      <line
        x1={left}
        x2={left + rows.length * col}
        y1={chartHeight}
        y2={chartHeight}
        stroke="#495057"
      />
      {rows.map((r, i) => {
        const x = left + i * col + 3;
        const hb = (r.blocked / max) * (chartHeight - 8);
        const ha = (r.allowed / max) * (chartHeight - 8);
        return (
          <g key={r.key}>
            <rect x={x} y={chartHeight - hb} width={col - 6} height={hb} fill={BLOCKED_COLOUR} />
            <rect
              x={x}
              y={chartHeight - hb - ha}
              width={col - 6}
              height={ha}
              fill={ALLOWED_COLOUR}
            />
            {i % 3 === 0 ? (
              <text
                x={x + (col - 6) / 2}
                y={chartHeight + 16}
                textAnchor="middle"
                fontSize="11"
                fill="#212529"
              >
                {r.key}
              </text>
            ) : null}
          </g>
        );
      })}
    </svg>
  );
}

function Legend() {
  const swatch = (colour: string) => (
    <span
      aria-hidden="true"
      style={{ display: 'inline-block', width: 12, height: 12, background: colour, marginRight: 6 }}
    />
  );
  return (
    <Group gap="lg">
      <Text size="sm">
        {swatch(BLOCKED_COLOUR)}
        Blocked
      </Text>
      <Text size="sm">
        {swatch(ALLOWED_COLOUR)}
        Allowed
      </Text>
    </Group>
  );
}

function FiguresTable({ rows, caption, first }: { rows: Row[]; caption: string; first: string }) {
  return (
    <details>
      <summary>
        <Text span size="sm" fw={600}>
          Show the figures as a table
        </Text>
      </summary>
      <Table striped mt="xs" maw={560} aria-label={caption}>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{first}</Table.Th>
            <Table.Th ta="right">Blocked</Table.Th>
            <Table.Th ta="right">Allowed</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {rows.map((r) => (
            <Table.Tr key={r.key}>
              <Table.Th scope="row" fw={400}>
                {r.label}
              </Table.Th>
              <Table.Td ta="right">{r.blocked.toLocaleString('en-GB')}</Table.Td>
              <Table.Td ta="right">{r.allowed.toLocaleString('en-GB')}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </details>
  );
}

export function ActivityTab() {
  const [fromText, setFromText] = useState(() => toUk(ukDay(6)));
  const [toText, setToText] = useState(() => toUk(ukDay(0)));
  const [errors, setErrors] = useState<{ from?: string; to?: string }>({});
  const [range, setRange] = useState(() => ({ from: ukDay(6), to: ukDay(0) }));

  const summary = useQuery({
    queryKey: ['webfilter', 'summary', range.from, range.to],
    queryFn: () => api<ActivitySummary>('/api/webfilter/activity/summary', { query: range }),
  });

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const from = parseUkDate(fromText);
    const to = parseUkDate(toText);
    const next: { from?: string; to?: string } = {};
    if (!from) next.from = 'Enter a date as dd/mm/yyyy.';
    if (!to) next.to = 'Enter a date as dd/mm/yyyy.';
    if (from && to && from > to) next.to = 'The last day must be on or after the first day.';
    setErrors(next);
    if (from && to && !next.from && !next.to) setRange({ from, to });
  };

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
      <Card withBorder padding="lg">
        <form onSubmit={submit} noValidate>
          <Stack gap="sm">
            <Text size="sm">
              Counts of requests for everyone together (WEB-6). Browsing by one person is seen only
              inside a monitoring case.
            </Text>
            <Group align="flex-end" gap="md">
              <TextInput
                label="From"
                description="dd/mm/yyyy"
                value={fromText}
                onChange={(e) => setFromText(e.currentTarget.value)}
                error={errors.from}
                w={160}
              />
              <TextInput
                label="To"
                description="dd/mm/yyyy"
                value={toText}
                onChange={(e) => setToText(e.currentTarget.value)}
                error={errors.to}
                w={160}
              />
              <Button type="submit" variant="default">
                Show
              </Button>
            </Group>
          </Stack>
        </form>
      </Card>
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
                <Legend />
                <CategoryChart
                  rows={categories}
                  title={`Blocked and allowed requests by category, ${formatDate(range.from)} to ${formatDate(range.to)}`}
                />
                <FiguresTable
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
                <Legend />
                <HourChart rows={hours} title="Blocked and allowed requests by hour of the day" />
                <FiguresTable
                  rows={hours}
                  caption="Blocked and allowed requests by hour of the day"
                  first="Hour"
                />
              </Stack>
            </Card>
          </>
        )
      ) : null}
    </Stack>
  );
}

function Stat({ label, value }: { label: string; value: number }) {
  return (
    <Card withBorder padding="md">
      <Text size="sm" c="dimmed">
        {label}
      </Text>
      <Text fz={28} fw={700}>
        {value.toLocaleString('en-GB')}
      </Text>
    </Card>
  );
}
