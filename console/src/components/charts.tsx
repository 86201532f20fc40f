// The activity screens' charts: plain SVG with a title and a text summary for screen readers, a
// legend of coloured swatches, every figure also in a table, and the period the counts cover.
import { Button, Card, Group, Stack, Table, Text, TextInput } from '@mantine/core';
import { type FormEvent, type ReactNode, useId, useState } from 'react';
import { formatDate, parseUkDate } from '../format.ts';

const INK = '#212529';
const AXIS = '#495057';

/** A type, not an interface, so that it passes as a query string. */
export type Period = { from: string; to: string };

/** Today in UK time, minus `days`, as YYYY-MM-DD. */
export function ukDay(days: number): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/London' }).format(
    new Date(Date.now() - days * 86_400_000),
  );
}

/** The last seven UK days, today included. */
export const lastWeek = (): Period => ({ from: ukDay(6), to: ukDay(0) });

/** The first and last day of the counts, typed as dd/mm/yyyy; `onChoose` hears only valid ones. */
export function PeriodForm({
  initial,
  onChoose,
  children,
}: {
  initial: Period;
  onChoose: (period: Period) => void;
  /** What the counts are, above the dates. */
  children: ReactNode;
}) {
  const [fromText, setFromText] = useState(() => formatDate(initial.from));
  const [toText, setToText] = useState(() => formatDate(initial.to));
  const [errors, setErrors] = useState<{ from?: string; to?: string }>({});

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const from = parseUkDate(fromText);
    const to = parseUkDate(toText);
    const next: { from?: string; to?: string } = {};
    if (!from) next.from = 'Enter a date as dd/mm/yyyy.';
    if (!to) next.to = 'Enter a date as dd/mm/yyyy.';
    if (from && to && from > to) next.to = 'The last day must be on or after the first day.';
    setErrors(next);
    if (from && to && !next.from && !next.to) onChoose({ from, to });
  };

  return (
    <Card withBorder padding="lg">
      <form onSubmit={submit} noValidate>
        <Stack gap="sm">
          <Text size="sm">{children}</Text>
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
  );
}

/** One figure in large type, for the row of totals above the charts. */
export function Stat({ label, value }: { label: string; value: number }) {
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

export function Swatch({ colour }: { colour: string }) {
  return (
    <span
      aria-hidden="true"
      style={{ display: 'inline-block', width: 12, height: 12, background: colour, marginRight: 6 }}
    />
  );
}

export function Legend({ items }: { items: { key?: string; colour: string; label: string }[] }) {
  return (
    <Group gap="lg">
      {items.map((item) => (
        <Text size="sm" key={item.key ?? item.label}>
          <Swatch colour={item.colour} />
          {item.label}
        </Text>
      ))}
    </Group>
  );
}

/** The SVG every chart draws in: an image named by its title and described by its summary. */
export function Chart({
  width,
  height,
  maxWidth,
  title,
  summary,
  children,
}: {
  width: number;
  height: number;
  maxWidth: number;
  title: string;
  summary: string;
  children: ReactNode;
}) {
  const id = useId();
  return (
    <svg
      viewBox={`0 0 ${width} ${height}`}
      width="100%"
      role="img"
      aria-labelledby={`${id}-t ${id}-d`}
      style={{ maxWidth, display: 'block' }}
    >
      <title id={`${id}-t`}>{title}</title>
      <desc id={`${id}-d`}>{summary}</desc>
      {children}
    </svg>
  );
}

export interface Segment {
  key: string;
  colour: string;
  value: number;
}

export interface Column {
  key: string;
  /** Written under the column (every `labelEvery` columns). */
  label: string;
  /** From the baseline up. */
  segments: Segment[];
}

/**
 * Columns of stacked segments. With `column` each column has that width and the chart grows with
 * them; without it the chart keeps `width` (so its text keeps its size) and the columns share it.
 */
export function StackedBars({
  columns,
  title,
  summary,
  chartHeight,
  left,
  column,
  width = 720,
  below,
  labelEvery,
  scale = false,
  maxWidth,
}: {
  columns: Column[];
  title: string;
  summary: string;
  /** From the top to the baseline. */
  chartHeight: number;
  /** Room left of the first column. */
  left: number;
  column?: number;
  width?: number;
  /** Room under the baseline, for the labels. */
  below: number;
  /** Label every this many columns; by default as often as the labels fit. */
  labelEvery?: number;
  /** Write the largest total and 0 left of the columns. */
  scale?: boolean;
  maxWidth: number;
}) {
  const col = column ?? Math.max(2, Math.floor((width - left - 8) / Math.max(1, columns.length)));
  const barWidth = column ? col - 6 : Math.max(1, Math.min(col - 4, 56));
  const max = Math.max(1, ...columns.map((c) => c.segments.reduce((n, s) => n + s.value, 0)));
  const every = labelEvery ?? Math.max(1, Math.ceil(44 / col));
  return (
    <Chart
      width={column ? left + columns.length * col + 8 : width}
      height={chartHeight + below}
      maxWidth={maxWidth}
      title={title}
      summary={summary}
    >
      {scale ? (
        <>
          <text x={left - 6} y={12} textAnchor="end" fontSize="11" fill={INK}>
            {max}
          </text>
          <text x={left - 6} y={chartHeight} textAnchor="end" fontSize="11" fill={INK}>
            0
          </text>
        </>
      ) : null}
      <line
        x1={left}
        x2={left + columns.length * col}
        y1={chartHeight}
        y2={chartHeight}
        stroke={AXIS}
      />
      {columns.map((c, i) => {
        const x = left + i * col + (col - barWidth) / 2;
        let y = chartHeight;
        return (
          <g key={c.key}>
            {c.segments.map((s) => {
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
                fill={INK}
              >
                {c.label}
              </text>
            ) : null}
          </g>
        );
      })}
    </Chart>
  );
}

export interface Bar {
  key: string;
  label: string;
  value: number;
  colour: string;
  /** Written after the bar. */
  text: string;
}

/** One horizontal bar per row, its label on the left and its figures after it. */
export function HorizontalBars({
  bars,
  title,
  summary,
  labelWidth,
  barArea,
  textArea,
  rowHeight,
  maxWidth,
}: {
  bars: Bar[];
  title: string;
  summary: string;
  labelWidth: number;
  barArea: number;
  /** Room after the longest bar for its text. */
  textArea: number;
  rowHeight: number;
  maxWidth: number;
}) {
  const max = Math.max(1, ...bars.map((b) => b.value));
  // The bar sits at the foot of its row, its text on the same line as the label.
  const top = rowHeight - 25;
  return (
    <Chart
      width={labelWidth + barArea + textArea}
      height={bars.length * rowHeight + 8}
      maxWidth={maxWidth}
      title={title}
      summary={summary}
    >
      {bars.map((b, i) => {
        const y = i * rowHeight + 4;
        const w = Math.max(2, (b.value / max) * barArea);
        return (
          <g key={b.key}>
            <text x={labelWidth - 8} y={y + top + 12} textAnchor="end" fontSize="13" fill={INK}>
              {b.label}
            </text>
            <rect x={labelWidth} y={y + top} width={w} height={16} fill={b.colour} />
            <text x={labelWidth + w + 6} y={y + top + 12} fontSize="12" fill={INK}>
              {b.text}
            </text>
          </g>
        );
      })}
    </Chart>
  );
}

/**
 * Every figure of a chart, folded away under "Show the figures as a table". The first heading
 * names the rows; the others are figures, aligned right. `children` are the table's rows.
 */
export function FiguresTable({
  caption,
  head,
  maw,
  more,
  after,
  children,
}: {
  caption: string;
  head: string[];
  maw: number;
  /** Added to "Show the figures as a table". */
  more?: string;
  /** Under the table. */
  after?: ReactNode;
  children: ReactNode;
}) {
  return (
    <details>
      <summary>
        <Text span size="sm" fw={600}>
          Show the figures as a table
          {more}
        </Text>
      </summary>
      <Table striped mt="xs" maw={maw} aria-label={caption}>
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
      {after}
    </details>
  );
}
