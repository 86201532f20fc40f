// Mail in aggregate: messages per day in and out, what became of them, and the verdicts of the
// policy's rules per rule and per day. Counts only, never one person's mail: reading who wrote to
// whom needs a monitoring case (MON-1, MON-5). The charts are plain SVG with a text summary, and
// every figure is also in a table (as on the web filter's Activity tab).
import { Card, SimpleGrid, Stack, Table, Text, Title } from '@mantine/core';
import { useMemo, useState } from 'react';
import {
  FiguresTable,
  HorizontalBars,
  Legend,
  lastWeek,
  PeriodForm,
  type Segment,
  StackedBars,
  Stat,
} from '../components/charts.tsx';
import { Empty, ErrorAlert, Loading } from '../components/page.tsx';
import { formatDate } from '../format.ts';
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

function daysBetween(from: string, to: string): string[] {
  const out: string[] = [];
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += DAY_MS) {
    out.push(new Date(t).toISOString().slice(0, 10));
  }
  return out;
}

/** 07/03 for a YYYY-MM-DD day. */
const shortDay = (day: string) => `${day.slice(8, 10)}/${day.slice(5, 7)}`;

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
  return (
    <StackedBars
      columns={days.map((day) => ({ key: day, label: shortDay(day), segments: segments(day) }))}
      title={title}
      summary={summary}
      chartHeight={160}
      left={36}
      below={26}
      scale
      maxWidth={760}
    />
  );
}

/** Horizontal bars, one per rule and action, in the action's colour. */
function RuleBars({ rows, title }: { rows: MailActivity['byRule']; title: string }) {
  return (
    <HorizontalBars
      bars={rows.map((r) => ({
        key: `${r.rule}-${r.action}`,
        label: r.name.length > 34 ? `${r.name.slice(0, 33)}…` : r.name,
        value: r.messages,
        colour: ACTION_COLOUR[r.action],
        text: `${r.messages} ${ACTION_LABEL[r.action].toLowerCase()}`,
      }))}
      title={title}
      summary={rows.map((r) => `${r.name} (${ACTION_LABEL[r.action]}): ${r.messages}`).join('; ')}
      labelWidth={260}
      barArea={340}
      textArea={120}
      rowHeight={28}
      maxWidth={760}
    />
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
  const [range, setRange] = useState(lastWeek);
  const activity = useMailActivity(range);
  const data = activity.data;

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
      <PeriodForm initial={range} onChoose={setRange}>
        Counts of mail through the gateway, for everyone together: nothing here names a sender, a
        recipient or a subject. Reading one person's mail needs a monitoring case (MON-1, MON-5).
        Days are UK days.
      </PeriodForm>
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
                  <Legend
                    items={[
                      { colour: INBOUND_COLOUR, label: 'Inbound' },
                      { colour: OUTBOUND_COLOUR, label: 'Outbound' },
                    ]}
                  />
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
                  <FiguresTable
                    maw={760}
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
                  </FiguresTable>
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
                      <FiguresTable
                        maw={760}
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
                      </FiguresTable>
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
                    <Legend
                      items={[
                        ...view.coloured.map((c) => ({
                          key: c.rule,
                          colour: c.colour,
                          label: c.name,
                        })),
                        ...(view.others ? [{ colour: OTHER_COLOUR, label: 'Other rules' }] : []),
                      ]}
                    />
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
