// Mail in aggregate: messages per day in and out, what became of them, and the verdicts of the
// policy's rules per rule and per day. Counts only, never one person's mail: reading who wrote to
// whom needs a monitoring case (MON-1, MON-5). The charts are plain SVG with a text summary, and
// every figure is also in a table (as on the web filter's Activity tab).
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
import { type FormEvent, type ReactNode, useId, useMemo, useState } from 'react';
import { Empty, ErrorAlert, Loading } from '../components/page.tsx';
import { formatDate, parseUkDate } from '../format.ts';
import {
  ACTION_COLOUR,
  ACTION_LABEL,
  type MailAction,
  type MailActivity,
  type Outcomes,
  useMailActivity,
} from '../mail-data.ts';
import { ClauseLinks } from './mail-parts.tsx';

const INBOUND_COLOUR = '#1f5f8b';
const OUTBOUND_COLOUR = '#8a4b00';
/** Rules on the chart by day, in the order of the legend; distinct and dark enough for labels. */
const RULE_COLOURS = [
  '#a51d1d',
  '#1f5f8b',
  '#8a4b00',
  '#1e6b32',
  '#5f3dc4',
  '#495057',
  '#0b7285',
  '#862e9c',
];
const OTHER_COLOUR = '#adb5bd';
const MAX_RULES_BY_DAY = RULE_COLOURS.length;

const DAY_MS = 86_400_000;

/** Today in UK time, minus `days`, as YYYY-MM-DD. */
function ukDay(days: number): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/London' }).format(
    new Date(Date.now() - days * DAY_MS),
  );
}

function daysBetween(from: string, to: string): string[] {
  const out: string[] = [];
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += DAY_MS) {
    out.push(new Date(t).toISOString().slice(0, 10));
  }
  return out;
}

/** 07/03 for a YYYY-MM-DD day. */
const shortDay = (day: string) => `${day.slice(8, 10)}/${day.slice(5, 7)}`;

function Swatch({ colour }: { colour: string }) {
  return (
    <span
      aria-hidden="true"
      style={{ display: 'inline-block', width: 12, height: 12, background: colour, marginRight: 6 }}
    />
  );
}

interface Segment {
  key: string;
  colour: string;
  value: number;
}

/** One stacked column per day; labels under every few columns so they never overlap. */
function DayColumns({
  days,
  segments,
  title,
  summary,
}: {
  days: string[];
  segments: (day: string) => Segment[];
  title: string;
  summary: string;
}) {
  const id = useId();
  const chartHeight = 160;
  const width = 720;
  const left = 36;
  // The chart keeps its width (so its text keeps its size); the columns share it.
  const col = Math.max(2, Math.floor((width - left - 8) / Math.max(1, days.length)));
  const barWidth = Math.max(1, Math.min(col - 4, 56));
  const totals = days.map((d) => segments(d).reduce((n, s) => n + s.value, 0));
  const max = Math.max(1, ...totals);
  const every = Math.max(1, Math.ceil(44 / col));
  return (
    <svg
      viewBox={`0 0 ${width} ${chartHeight + 26}`}
      width="100%"
      role="img"
      aria-labelledby={`${id}-t ${id}-d`}
      style={{ maxWidth: 760, display: 'block' }}
    >
      <title id={`${id}-t`}>{title}</title>
      <desc id={`${id}-d`}>{summary}</desc>
      <text x={left - 6} y={12} textAnchor="end" fontSize="11" fill="#212529">
        {max}
      </text>
      <text x={left - 6} y={chartHeight} textAnchor="end" fontSize="11" fill="#212529">
        0
      </text>
      <line
        x1={left}
        x2={left + days.length * col}
        y1={chartHeight}
        y2={chartHeight}
        stroke="#495057"
      />
      {days.map((day, i) => {
        const x = left + i * col + (col - barWidth) / 2;
        let y = chartHeight;
        return (
          <g key={day}>
            {segments(day).map((s) => {
              const h = (s.value / max) * (chartHeight - 8);
              y -= h;
              return s.value > 0 ? (
                <rect key={s.key} x={x} y={y} width={barWidth} height={h} fill={s.colour} />
              ) : null;
            })}
            {i % every === 0 ? (
              <text
                x={x + barWidth / 2}
                y={chartHeight + 16}
                textAnchor="middle"
                fontSize="11"
                fill="#212529"
              >
                {shortDay(day)}
              </text>
            ) : null}
          </g>
        );
      })}
    </svg>
  );
}

/** Horizontal bars, one per rule and action, in the action's colour. */
function RuleBars({ rows, title }: { rows: MailActivity['byRule']; title: string }) {
  const id = useId();
  const labelWidth = 260;
  const barArea = 340;
  const rowHeight = 28;
  const max = Math.max(1, ...rows.map((r) => r.messages));
  const summary = rows
    .map((r) => `${r.name} (${ACTION_LABEL[r.action]}): ${r.messages}`)
    .join('; ');
  return (
    <svg
      viewBox={`0 0 ${labelWidth + barArea + 120} ${rows.length * rowHeight + 8}`}
      width="100%"
      role="img"
      aria-labelledby={`${id}-t ${id}-d`}
      style={{ maxWidth: 760, display: 'block' }}
    >
      <title id={`${id}-t`}>{title}</title>
      <desc id={`${id}-d`}>{summary}</desc>
      {rows.map((r, i) => {
        const y = i * rowHeight + 4;
        const w = Math.max(2, (r.messages / max) * barArea);
        const label = r.name.length > 34 ? `${r.name.slice(0, 33)}…` : r.name;
        return (
          <g key={`${r.rule}-${r.action}`}>
            <text x={labelWidth - 8} y={y + 15} textAnchor="end" fontSize="13" fill="#212529">
              {label}
            </text>
            <rect x={labelWidth} y={y + 3} width={w} height={16} fill={ACTION_COLOUR[r.action]} />
            <text x={labelWidth + w + 6} y={y + 15} fontSize="12" fill="#212529">
              {r.messages} {ACTION_LABEL[r.action].toLowerCase()}
            </text>
          </g>
        );
      })}
    </svg>
  );
}

function Figures({
  caption,
  head,
  children,
}: {
  caption: string;
  head: string[];
  children: ReactNode;
}) {
  return (
    <details>
      <summary>
        <Text span size="sm" fw={600}>
          Show the figures as a table
        </Text>
      </summary>
      <Table striped mt="xs" maw={760} aria-label={caption}>
        <Table.Thead>
          <Table.Tr>
            {head.map((h, i) => (
              <Table.Th key={h} ta={i === 0 ? undefined : 'right'}>
                {h}
              </Table.Th>
            ))}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>{children}</Table.Tbody>
      </Table>
    </details>
  );
}

const OUTCOME_HEAD: [keyof Outcomes, string][] = [
  ['delivered', 'Delivered'],
  ['held', 'Held'],
  ['released', 'Released'],
  ['deleted', 'Deleted'],
  ['rejected', 'Refused'],
  ['failed', 'Retried'],
];

export function MailActivityTab() {
  const [fromText, setFromText] = useState(() => formatDate(ukDay(6)));
  const [toText, setToText] = useState(() => formatDate(ukDay(0)));
  const [errors, setErrors] = useState<{ from?: string; to?: string }>({});
  const [range, setRange] = useState(() => ({ from: ukDay(6), to: ukDay(0) }));
  const activity = useMailActivity(range);
  const data = activity.data;

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

  const view = useMemo(() => {
    if (!data) return null;
    const days = daysBetween(data.from, data.to);
    const perDay = new Map<string, { inbound: number; outbound: number } & Outcomes>();
    for (const d of days) {
      perDay.set(d, {
        inbound: 0,
        outbound: 0,
        delivered: 0,
        held: 0,
        released: 0,
        deleted: 0,
        rejected: 0,
        failed: 0,
      });
    }
    for (const row of data.byDay) {
      const entry = perDay.get(row.day);
      if (!entry) continue;
      entry[row.direction] += row.messages;
      for (const [k] of OUTCOME_HEAD) entry[k] += row[k];
    }
    // The busiest rules get a colour each; the rest are counted together.
    const ruleTotals = new Map<string, { name: string; messages: number }>();
    for (const r of data.byRule) {
      const t = ruleTotals.get(r.rule) ?? { name: r.name, messages: 0 };
      t.messages += r.messages;
      ruleTotals.set(r.rule, t);
    }
    const ranked = [...ruleTotals.entries()].sort((a, b) => b[1].messages - a[1].messages);
    const coloured = ranked.slice(0, MAX_RULES_BY_DAY).map(([rule, t], i) => ({
      rule,
      name: t.name,
      colour: RULE_COLOURS[i]!,
    }));
    const others = ranked.length > MAX_RULES_BY_DAY;
    const ruleDay = new Map<string, number>();
    for (const r of data.byRuleDay) ruleDay.set(`${r.day} ${r.rule}`, r.messages);
    return { days, perDay, coloured, others, ranked, ruleDay };
  }, [data]);

  const period = data ? `${formatDate(data.from)} to ${formatDate(data.to)}` : '';

  return (
    <Stack gap="lg">
      <Card withBorder padding="lg">
        <form onSubmit={submit} noValidate>
          <Stack gap="sm">
            <Text size="sm">
              Counts of mail through the gateway, for everyone together: nothing here names a
              sender, a recipient or a subject. Reading one person's mail needs a monitoring case
              (MON-1, MON-5). Days are UK days.
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
      <ErrorAlert error={activity.error} title="The mail activity did not load" />
      {activity.isPending ? <Loading label="Counting the messages…" /> : null}
      {data && view ? (
        <>
          <SimpleGrid cols={{ base: 2, sm: 4 }}>
            <Stat label="Messages" value={data.total.messages} />
            <Stat label="Inbound" value={data.total.inbound} />
            <Stat label="Outbound" value={data.total.outbound} />
            <Stat label="Held now (any day)" value={data.heldNow} />
          </SimpleGrid>
          {data.total.messages === 0 ? (
            <Empty title="No mail in this period">
              No message passed through the gateway from {formatDate(data.from)} to{' '}
              {formatDate(data.to)}. Choose a longer period, or check that the school's mail service
              sends its mail through Custos (see docs/mail-gateway.md).
            </Empty>
          ) : (
            <>
              <Card withBorder padding="lg" data-testid="mail-by-day">
                <Stack gap="sm">
                  <Title order={2} size="h4">
                    Messages by day
                  </Title>
                  <Group gap="lg">
                    <Text size="sm">
                      <Swatch colour={INBOUND_COLOUR} />
                      Inbound
                    </Text>
                    <Text size="sm">
                      <Swatch colour={OUTBOUND_COLOUR} />
                      Outbound
                    </Text>
                  </Group>
                  <DayColumns
                    days={view.days}
                    title={`Inbound and outbound messages by day, ${period}`}
                    summary={view.days
                      .map((d) => {
                        const e = view.perDay.get(d)!;
                        return `${formatDate(d)}: ${e.inbound} inbound, ${e.outbound} outbound`;
                      })
                      .join('; ')}
                    segments={(d) => {
                      const e = view.perDay.get(d)!;
                      return [
                        { key: 'in', colour: INBOUND_COLOUR, value: e.inbound },
                        { key: 'out', colour: OUTBOUND_COLOUR, value: e.outbound },
                      ];
                    }}
                  />
                  <Figures
                    caption="Messages by day and what became of them"
                    head={['Day', 'Inbound', 'Outbound', ...OUTCOME_HEAD.map(([, h]) => h)]}
                  >
                    {view.days.map((d) => {
                      const e = view.perDay.get(d)!;
                      return (
                        <Table.Tr key={d}>
                          <Table.Th scope="row" fw={400}>
                            {formatDate(d)}
                          </Table.Th>
                          <Table.Td ta="right">{e.inbound}</Table.Td>
                          <Table.Td ta="right">{e.outbound}</Table.Td>
                          {OUTCOME_HEAD.map(([k]) => (
                            <Table.Td key={k} ta="right">
                              {e[k]}
                            </Table.Td>
                          ))}
                        </Table.Tr>
                      );
                    })}
                  </Figures>
                  <Text size="xs" c="dimmed">
                    Refused: by a rule, or by the next mail server. Retried: the next mail server
                    could not be reached, so the sending server was asked to try again later.
                  </Text>
                </Stack>
              </Card>
              <Card withBorder padding="lg" data-testid="mail-by-rule">
                <Stack gap="sm">
                  <Title order={2} size="h4">
                    Verdicts by rule
                  </Title>
                  {data.byRule.length === 0 ? (
                    <Text size="sm">
                      No rule of the policy applied to any message in this period.
                    </Text>
                  ) : (
                    <>
                      <Text size="sm">
                        Messages each rule applied to, by what it did: held, refused, the sender
                        warned or the message tagged. A message can meet several rules.
                      </Text>
                      <RuleBars rows={data.byRule} title={`Verdicts by rule, ${period}`} />
                      <Figures
                        caption="Verdicts by rule"
                        head={['Rule', 'Action', 'Clauses', 'Messages']}
                      >
                        {data.byRule.map((r) => (
                          <Table.Tr key={`${r.rule}-${r.action}`}>
                            <Table.Th scope="row" fw={400}>
                              {r.name}
                            </Table.Th>
                            <Table.Td ta="right">{ACTION_LABEL[r.action as MailAction]}</Table.Td>
                            <Table.Td ta="right">
                              <ClauseLinks
                                clauses={r.clauseIds.map((id) => ({ id, title: null }))}
                              />
                            </Table.Td>
                            <Table.Td ta="right">{r.messages}</Table.Td>
                          </Table.Tr>
                        ))}
                      </Figures>
                    </>
                  )}
                </Stack>
              </Card>
              {data.byRule.length ? (
                <Card withBorder padding="lg" data-testid="mail-rules-by-day">
                  <Stack gap="sm">
                    <Title order={2} size="h4">
                      Verdicts by day
                    </Title>
                    <Group gap="lg">
                      {view.coloured.map((c) => (
                        <Text size="sm" key={c.rule}>
                          <Swatch colour={c.colour} />
                          {c.name}
                        </Text>
                      ))}
                      {view.others ? (
                        <Text size="sm">
                          <Swatch colour={OTHER_COLOUR} />
                          Other rules
                        </Text>
                      ) : null}
                    </Group>
                    <DayColumns
                      days={view.days}
                      title={`Messages each rule applied to, by day, ${period}`}
                      summary={view.days
                        .map(
                          (d) =>
                            `${formatDate(d)}: ${
                              view.ranked
                                .map(([rule, t]) => {
                                  const n = view.ruleDay.get(`${d} ${rule}`) ?? 0;
                                  return n ? `${t.name} ${n}` : null;
                                })
                                .filter(Boolean)
                                .join(', ') || 'none'
                            }`,
                        )
                        .join('; ')}
                      segments={(d) => [
                        ...view.coloured.map((c) => ({
                          key: c.rule,
                          colour: c.colour,
                          value: view.ruleDay.get(`${d} ${c.rule}`) ?? 0,
                        })),
                        {
                          key: 'other',
                          colour: OTHER_COLOUR,
                          value: view.ranked
                            .slice(MAX_RULES_BY_DAY)
                            .reduce((n, [rule]) => n + (view.ruleDay.get(`${d} ${rule}`) ?? 0), 0),
                        },
                      ]}
                    />
                  </Stack>
                </Card>
              ) : null}
            </>
          )}
        </>
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
