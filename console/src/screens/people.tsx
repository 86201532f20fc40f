// The directory (SCP-1): search and filter everyone the policy applies to. The table is
// virtualised and pages in from the API as it scrolls, so 5,000 people scroll smoothly.
import { Anchor, Badge, Button, Select, SimpleGrid, Table, Text, TextInput } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { keepPreviousData, useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { useVirtualizer } from '@tanstack/react-virtual';
import { useEffect, useMemo, useRef, useState } from 'react';
import { Link, useSearchParams } from 'react-router-dom';
import { api } from '../api.ts';
import { Empty, ErrorAlert, Loading, Page } from '../components/page.tsx';
import { plural } from '../format.ts';
import {
  humanise,
  kindOptions,
  labelOf,
  roleName,
  roleOptions,
  usePolicy,
} from '../policy-data.ts';
import { useSession } from '../session.tsx';
import { type Group as GroupRecord, PERSON_STATUSES, type PeoplePage } from '../types.ts';

const PAGE_SIZE = 500;
const ROW_HEIGHT = 41;
const FILTERS = ['kind', 'group', 'role', 'status'] as const;

export function PeopleScreen() {
  const { can } = useSession();
  const [params, setParams] = useSearchParams();
  const [search, setSearch] = useState(params.get('q') ?? '');
  const [q] = useDebouncedValue(search.trim(), 250);
  const filters = Object.fromEntries(FILTERS.map((f) => [f, params.get(f) ?? ''])) as Record<
    (typeof FILTERS)[number],
    string
  >;

  useEffect(() => {
    setParams(
      (current) => {
        const next = new URLSearchParams(current);
        if (q) next.set('q', q);
        else next.delete('q');
        return next;
      },
      { replace: true },
    );
  }, [q, setParams]);

  const setFilter = (name: (typeof FILTERS)[number], value: string | null) =>
    setParams(
      (current) => {
        const next = new URLSearchParams(current);
        if (value) next.set(name, value);
        else next.delete(name);
        return next;
      },
      { replace: true },
    );

  const policy = usePolicy(can('policy.read'));
  const groups = useQuery({
    queryKey: ['groups'],
    queryFn: () => api<{ groups: GroupRecord[] }>('/api/groups'),
  });

  const people = useInfiniteQuery({
    queryKey: ['people', 'list', q, filters],
    queryFn: ({ pageParam, signal }) =>
      api<PeoplePage>('/api/people', {
        query: { q, ...filters, limit: PAGE_SIZE, offset: pageParam },
        signal,
      }),
    initialPageParam: 0,
    getNextPageParam: (last) =>
      last.offset + last.people.length < last.total ? last.offset + last.people.length : undefined,
    placeholderData: keepPreviousData,
  });

  const rows = useMemo(() => people.data?.pages.flatMap((p) => p.people) ?? [], [people.data]);
  const total = people.data?.pages[0]?.total ?? 0;
  const kinds = kindOptions(policy.data);
  const roles = roleOptions(
    policy.data,
    rows.slice(0, 500).flatMap((p) => p.roles),
  );
  const filtered = Boolean(q) || FILTERS.some((f) => filters[f]);

  return (
    <Page
      title="People"
      description="Everyone the policy applies to (SCP-1), with their kind, groups and roles."
      actions={
        can('people.manage') ? (
          <>
            <Button component="a" href="/api/people/export" variant="default">
              Export CSV
            </Button>
            <Button component={Link} to="/people/import">
              Import people
            </Button>
          </>
        ) : null
      }
    >
      <SimpleGrid cols={{ base: 1, sm: 2, lg: 5 }} spacing="sm" role="search">
        <TextInput
          label="Search"
          placeholder="Name, e-mail or staff id"
          value={search}
          onChange={(e) => setSearch(e.currentTarget.value)}
          type="search"
        />
        <Select
          label="Kind"
          placeholder="Any kind"
          data={kinds}
          value={filters.kind || null}
          onChange={(v) => setFilter('kind', v)}
          clearable
          clearButtonProps={{ 'aria-label': 'Any kind' }}
          searchable
        />
        <Select
          label="Group"
          placeholder="Any group"
          data={(groups.data?.groups ?? []).map((g) => ({ value: g.name, label: g.name }))}
          value={filters.group || null}
          onChange={(v) => setFilter('group', v)}
          clearable
          clearButtonProps={{ 'aria-label': 'Any group' }}
          searchable
          nothingFoundMessage="No group has that name"
        />
        <Select
          label="Role"
          placeholder="Any role"
          data={roles}
          value={filters.role || null}
          onChange={(v) => setFilter('role', v)}
          clearable
          clearButtonProps={{ 'aria-label': 'Any role' }}
        />
        <Select
          label="Status"
          placeholder="Any status"
          data={PERSON_STATUSES.map((s) => ({ value: s, label: humanise(s) }))}
          value={filters.status || null}
          onChange={(v) => setFilter('status', v)}
          clearable
          clearButtonProps={{ 'aria-label': 'Any status' }}
        />
      </SimpleGrid>

      {people.error ? <ErrorAlert error={people.error} title="The directory did not load" /> : null}
      {people.isPending ? (
        <Loading label="Loading the directory…" />
      ) : total === 0 ? (
        filtered ? (
          <Empty
            title="No one matches"
            actions={
              <Button
                variant="default"
                onClick={() => {
                  setSearch('');
                  setParams(new URLSearchParams(), { replace: true });
                }}
              >
                Clear the search and filters
              </Button>
            }
          >
            Nobody in the directory matches this search and these filters. Clear them, or check the
            spelling.
          </Empty>
        ) : (
          <Empty
            title="The directory is empty"
            actions={
              can('people.manage') ? (
                <Button component={Link} to="/people/import">
                  Import people from a CSV file
                </Button>
              ) : null
            }
          >
            {can('people.manage')
              ? 'Import your staff from a CSV file exported from your MIS or HR system. A check runs first and nothing is stored until the whole file is right.'
              : 'Nobody has been added yet. The School Business Manager imports the staff list.'}
          </Empty>
        )
      ) : (
        <PeopleTable
          rows={rows}
          total={total}
          kindLabel={(k) => labelOf(kinds, k)}
          roleLabel={(r) => roleName(policy.data, r)}
          loadMore={() => {
            if (people.hasNextPage && !people.isFetchingNextPage) void people.fetchNextPage();
          }}
        />
      )}
    </Page>
  );
}

function PeopleTable({
  rows,
  total,
  kindLabel,
  roleLabel,
  loadMore,
}: {
  rows: PeoplePage['people'];
  total: number;
  kindLabel(kind: string): string;
  roleLabel(role: string): string;
  loadMore(): void;
}) {
  const scrollRef = useRef<HTMLElement>(null);
  const virtualizer = useVirtualizer({
    count: total,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 15,
  });
  const items = virtualizer.getVirtualItems();
  const last = items.at(-1)?.index ?? 0;
  useEffect(() => {
    if (last >= rows.length - 50 && rows.length < total) loadMore();
  }, [last, rows.length, total, loadMore]);

  const paddingTop = items[0]?.start ?? 0;
  const paddingBottom = virtualizer.getTotalSize() - (items.at(-1)?.end ?? 0);

  return (
    <>
      <Text size="sm" aria-live="polite" data-testid="people-count">
        {plural(total, 'person', 'people')}
      </Text>
      <section
        ref={scrollRef}
        className="virtual-scroll"
        style={{ height: 'max(320px, calc(100vh - 360px))' }}
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must take focus so the arrow keys scroll it (WCAG 2.1.1)
        tabIndex={0}
        aria-label="People in the directory"
      >
        <Table
          striped
          highlightOnHover
          stickyHeader={false}
          layout="fixed"
          aria-rowcount={total + 1}
          data-testid="people-table"
        >
          <Table.Thead>
            <Table.Tr aria-rowindex={1}>
              <Table.Th w="22%">Name</Table.Th>
              <Table.Th w="26%">E-mail</Table.Th>
              <Table.Th w="13%">Kind</Table.Th>
              <Table.Th w="17%">Groups</Table.Th>
              <Table.Th w="12%">Roles</Table.Th>
              <Table.Th w="10%">Status</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {paddingTop > 0 ? (
              <tr aria-hidden style={{ height: paddingTop }}>
                <td colSpan={6} style={{ padding: 0, border: 0 }} />
              </tr>
            ) : null}
            {items.map((item) => {
              const person = rows[item.index];
              return (
                <Table.Tr
                  key={person?.id ?? `pending-${item.index}`}
                  style={{ height: ROW_HEIGHT }}
                  aria-rowindex={item.index + 2}
                  data-testid={person ? 'person-row' : undefined}
                >
                  {person ? (
                    <>
                      <Table.Td>
                        <Anchor component={Link} to={`/people/${person.id}`}>
                          {person.familyName}, {person.givenName}
                        </Anchor>
                      </Table.Td>
                      <Table.Td title={person.email}>{person.email}</Table.Td>
                      <Table.Td>{kindLabel(person.kind)}</Table.Td>
                      <Table.Td title={person.groups.join(', ')}>
                        {person.groups.join(', ') || '—'}
                      </Table.Td>
                      <Table.Td>{person.roles.map(roleLabel).join(', ') || '—'}</Table.Td>
                      <Table.Td>
                        <StatusBadge status={person.status} />
                      </Table.Td>
                    </>
                  ) : (
                    <Table.Td colSpan={6}>
                      <Text size="sm" c="dimmed">
                        Loading…
                      </Text>
                    </Table.Td>
                  )}
                </Table.Tr>
              );
            })}
            {paddingBottom > 0 ? (
              <tr aria-hidden style={{ height: paddingBottom }}>
                <td colSpan={6} style={{ padding: 0, border: 0 }} />
              </tr>
            ) : null}
          </Table.Tbody>
        </Table>
      </section>
    </>
  );
}

export function StatusBadge({ status }: { status: string }) {
  // Dark enough for white text at badge size (AA contrast).
  const color = status === 'active' ? '#1e6b32' : status === 'left' ? '#343a40' : '#9a3412';
  return (
    <Badge color={color} variant="filled" radius="sm">
      {humanise(status)}
    </Badge>
  );
}
