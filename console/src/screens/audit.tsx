// The audit trail: every recorded action, newest first, filtered by person, action, clause and
// date; and "Verify the chain", which recomputes every hash and names the first broken entry.
import {
  Alert,
  Anchor,
  Autocomplete,
  Button,
  Card,
  Code,
  Group,
  Select,
  SimpleGrid,
  Stack,
  Table,
  Text,
  TextInput,
} from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useMemo, useState } from 'react';
import { Link, useSearchParams } from 'react-router-dom';
import { api } from '../api.ts';
import { Empty, ErrorAlert, Loading, Page } from '../components/page.tsx';
import { formatDate, formatDateTime, parseUkDate, plural } from '../format.ts';
import { useSession } from '../session.tsx';
import type { AuditEntry, PeoplePage, VerifyResult } from '../types.ts';

const PAGE_SIZE = 100;
const CLAUSE = /^[A-Z]{2,4}-\d{1,2}$/;
const PARAMS = ['actorId', 'action', 'clauseId', 'from', 'to', 'targetId'] as const;
type Filters = Record<(typeof PARAMS)[number], string>;

/** Start of a day (from) or its end (to) in the browser's time zone, as an ISO timestamp. */
function dayBound(isoDay: string, end: boolean): string {
  const [y, m, d] = isoDay.split('-').map(Number) as [number, number, number];
  const date = new Date(y, m - 1, end ? d + 1 : d);
  return new Date(date.getTime() - (end ? 1 : 0)).toISOString();
}

function PersonPicker({
  value,
  label,
  onChange,
}: {
  value: string;
  label: string;
  onChange(id: string, label: string): void;
}) {
  const [search, setSearch] = useState('');
  const [q] = useDebouncedValue(search, 250);
  const people = useQuery({
    queryKey: ['people', 'pick', q],
    queryFn: () => api<PeoplePage>('/api/people', { query: { q, limit: 20 } }),
  });
  const data = useMemo(() => {
    const options = (people.data?.people ?? []).map((p) => ({
      value: p.id,
      label: `${p.givenName} ${p.familyName} (${p.email})`,
    }));
    if (value && !options.some((o) => o.value === value)) options.unshift({ value, label });
    return options;
  }, [people.data, value, label]);
  return (
    <Select
      label="Person"
      placeholder="Anyone"
      searchable
      clearable
      clearButtonProps={{ 'aria-label': 'Anyone' }}
      data={data}
      value={value || null}
      onSearchChange={setSearch}
      onChange={(id, option) => onChange(id ?? '', option?.label ?? '')}
      nothingFoundMessage="No one matches"
      filter={({ options }) => options}
    />
  );
}

export function AuditScreen() {
  const { can } = useSession();
  const queryClient = useQueryClient();
  const [params, setParams] = useSearchParams();
  const applied = Object.fromEntries(PARAMS.map((p) => [p, params.get(p) ?? ''])) as Filters;

  const [actorId, setActorId] = useState(applied.actorId);
  const [actorLabel, setActorLabel] = useState(applied.actorId);
  const [action, setAction] = useState(applied.action);
  const [clauseId, setClauseId] = useState(applied.clauseId);
  const [from, setFrom] = useState(applied.from ? formatDate(applied.from) : '');
  const [to, setTo] = useState(applied.to ? formatDate(applied.to) : '');
  const [formError, setFormError] = useState<Record<string, string>>({});

  const entries = useInfiniteQuery({
    queryKey: ['audit', applied],
    queryFn: ({ pageParam }) =>
      api<{ entries: AuditEntry[] }>('/api/audit/entries', {
        query: {
          actorId: applied.actorId,
          action: applied.action,
          clauseId: applied.clauseId,
          targetId: applied.targetId,
          from: applied.from ? dayBound(applied.from, false) : undefined,
          to: applied.to ? dayBound(applied.to, true) : undefined,
          beforeSeq: pageParam,
          limit: PAGE_SIZE,
        },
      }),
    initialPageParam: undefined as number | undefined,
    getNextPageParam: (last) =>
      last.entries.length === PAGE_SIZE ? last.entries.at(-1)?.seq : undefined,
  });
  const rows = entries.data?.pages.flatMap((p) => p.entries) ?? [];
  const knownActions = [...new Set(rows.map((r) => r.action))].sort();

  const verify = useMutation({
    mutationFn: () => api<VerifyResult>('/api/audit/verify', { method: 'POST' }),
    onSettled: () => queryClient.invalidateQueries({ queryKey: ['audit'] }),
  });

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const problems: Record<string, string> = {};
    const clause = clauseId.trim().toUpperCase();
    if (clause && !CLAUSE.test(clause)) problems.clauseId = 'Write a clause id such as SYS-5.';
    const fromDay = from.trim() ? parseUkDate(from) : '';
    const toDay = to.trim() ? parseUkDate(to) : '';
    if (fromDay === null) problems.from = 'Write the date as dd/mm/yyyy.';
    if (toDay === null) problems.to = 'Write the date as dd/mm/yyyy.';
    if (fromDay && toDay && toDay < fromDay) problems.to = 'This is before the "from" date.';
    setFormError(problems);
    if (Object.keys(problems).length) return;
    const next = new URLSearchParams();
    const set = (k: string, v: string | null | undefined) => v && next.set(k, v);
    set('actorId', actorId);
    set('action', action.trim());
    set('clauseId', clause);
    set('from', fromDay);
    set('to', toDay);
    set('targetId', applied.targetId);
    setParams(next);
  };

  const clear = () => {
    setActorId('');
    setAction('');
    setClauseId('');
    setFrom('');
    setTo('');
    setFormError({});
    setParams(new URLSearchParams());
  };
  const filtered = PARAMS.some((p) => applied[p]);

  return (
    <Page
      title="Audit trail"
      description="Every action in Custos, newest first. Entries are hash-chained: changing or removing one breaks the chain, and verifying shows where."
      actions={
        can('audit.verify') ? (
          <Button onClick={() => verify.mutate()} loading={verify.isPending}>
            Verify the chain
          </Button>
        ) : null
      }
    >
      {verify.data ? (
        verify.data.ok ? (
          <Alert
            color="green"
            variant="light"
            title="The chain is unbroken"
            role="status"
            data-testid="verify-result"
          >
            All {plural(verify.data.entries, 'entry', 'entries')} were checked and every hash
            matches.
            {verify.data.lastHash ? (
              <>
                {' '}
                Last hash: <Code className="mono">{verify.data.lastHash}</Code>
              </>
            ) : null}
          </Alert>
        ) : (
          <Alert
            color="red"
            variant="light"
            title="The chain is broken"
            role="alert"
            data-testid="verify-result"
          >
            {verify.data.brokenAt !== undefined
              ? `Entry #${verify.data.brokenAt} does not match the chain: `
              : ''}
            {verify.data.problem ?? 'an entry was changed or removed.'} Keep a copy of the database
            as it is and tell the School Business Manager: this is evidence of tampering.
          </Alert>
        )
      ) : null}
      <ErrorAlert error={verify.error} title="The chain was not verified" />

      <Card
        withBorder
        padding="md"
        component="form"
        onSubmit={submit}
        role="search"
        aria-label="Filter the audit trail"
      >
        <Stack gap="sm">
          <SimpleGrid cols={{ base: 1, sm: 2, lg: 5 }} spacing="sm">
            {can('people.read') ? (
              <PersonPicker
                value={actorId}
                label={actorLabel}
                onChange={(id, label) => {
                  setActorId(id);
                  setActorLabel(label);
                }}
              />
            ) : (
              <TextInput
                label="Person id"
                value={actorId}
                onChange={(e) => setActorId(e.currentTarget.value)}
              />
            )}
            <Autocomplete
              label="Action"
              placeholder="e.g. person.created"
              data={knownActions}
              value={action}
              onChange={setAction}
            />
            <TextInput
              label="Clause"
              placeholder="e.g. PWD-5"
              value={clauseId}
              onChange={(e) => setClauseId(e.currentTarget.value)}
              error={formError.clauseId}
            />
            <TextInput
              label="From"
              placeholder="dd/mm/yyyy"
              value={from}
              onChange={(e) => setFrom(e.currentTarget.value)}
              error={formError.from}
              inputMode="numeric"
            />
            <TextInput
              label="To"
              placeholder="dd/mm/yyyy"
              value={to}
              onChange={(e) => setTo(e.currentTarget.value)}
              error={formError.to}
              inputMode="numeric"
            />
          </SimpleGrid>
          <Group gap="sm">
            <Button type="submit">Show entries</Button>
            {filtered ? (
              <Button variant="default" onClick={clear}>
                Clear the filters
              </Button>
            ) : null}
            {applied.targetId ? (
              <Text size="sm">Only entries about record {applied.targetId}.</Text>
            ) : null}
          </Group>
        </Stack>
      </Card>

      {entries.error ? (
        <ErrorAlert error={entries.error} title="The audit trail did not load" />
      ) : null}
      {entries.isPending ? (
        <Loading label="Loading the audit trail…" />
      ) : rows.length === 0 ? (
        <Empty
          title={filtered ? 'No entries match' : 'No entries yet'}
          actions={
            filtered ? (
              <Button variant="default" onClick={clear}>
                Clear the filters
              </Button>
            ) : null
          }
        >
          {filtered
            ? 'Nothing was recorded that matches these filters. Widen the dates or clear the filters.'
            : 'Entries appear here as soon as anyone signs in or changes anything.'}
        </Empty>
      ) : (
        <Stack gap="sm">
          <Table.ScrollContainer minWidth={900}>
            <Table
              striped
              verticalSpacing="xs"
              aria-label="Audit entries"
              data-testid="audit-table"
            >
              <Table.Thead>
                <Table.Tr>
                  <Table.Th w={70}>#</Table.Th>
                  <Table.Th w={200}>When</Table.Th>
                  <Table.Th>Who</Table.Th>
                  <Table.Th>Action</Table.Th>
                  <Table.Th>About</Table.Th>
                  <Table.Th w={110}>Clauses</Table.Th>
                  <Table.Th>Details</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {rows.map((e) => (
                  <Table.Tr key={e.seq} data-testid="audit-entry">
                    <Table.Td>{e.seq}</Table.Td>
                    <Table.Td>{formatDateTime(e.at)}</Table.Td>
                    <Table.Td>{e.actorLabel}</Table.Td>
                    <Table.Td>
                      <Code>{e.action}</Code>
                    </Table.Td>
                    <Table.Td>
                      {e.targetType ? (
                        e.targetType === 'person' && e.targetId && can('people.read') ? (
                          <Anchor component={Link} to={`/people/${e.targetId}`} size="sm">
                            person
                          </Anchor>
                        ) : (
                          <Text size="sm">{e.targetType}</Text>
                        )
                      ) : (
                        '—'
                      )}
                    </Table.Td>
                    <Table.Td>
                      <Group gap={4}>
                        {e.clauseIds.map((c) => (
                          <Anchor
                            key={c}
                            component={Link}
                            to={`/policy#${c.replace(/\(.*$/, '')}`}
                            size="sm"
                          >
                            {c}
                          </Anchor>
                        ))}
                      </Group>
                    </Table.Td>
                    <Table.Td>
                      {e.reason ? <Text size="sm">{e.reason}</Text> : null}
                      {Object.keys(e.details).length ? (
                        <details>
                          <summary>
                            <Text span size="sm">
                              {Object.keys(e.details).length} detail
                              {Object.keys(e.details).length === 1 ? '' : 's'}
                            </Text>
                          </summary>
                          <Code block fz="xs">
                            {JSON.stringify(e.details, null, 2)}
                          </Code>
                        </details>
                      ) : null}
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
          {entries.hasNextPage ? (
            <Group>
              <Button
                variant="default"
                onClick={() => void entries.fetchNextPage()}
                loading={entries.isFetchingNextPage}
              >
                Show older entries
              </Button>
            </Group>
          ) : (
            <Text size="sm">That is the first entry: the trail starts here.</Text>
          )}
        </Stack>
      )}
    </Page>
  );
}
