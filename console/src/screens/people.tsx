// The directory (SCP-1): search and filter everyone the policy applies to. A school's directory
// (up to CLIENT_SIDE_MAX people) is loaded once and filtered in the browser as each key is typed,
// so there is no round trip between a keystroke and the list; a larger one (a trust) is searched
// on the server, paging in as it scrolls. The table is virtualised either way.
import { Anchor, Badge, Button, Select, SimpleGrid, Table, Text, TextInput } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { keepPreviousData, useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { useVirtualizer } from '@tanstack/react-virtual';
import { memo, useCallback, useDeferredValue, useEffect, useMemo, useRef, useState } from 'react';
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
/** Directories up to this size are filtered in the browser. */
const CLIENT_SIDE_MAX = 20_000;
const WHOLE_PAGE = 5000;

type PersonRow = PeoplePage['people'][number];
type Filters = Record<(typeof FILTERS)[number], string>;

/** The same matching as the API's search: contains, case-insensitive, over names, e-mail, staff id. */
function haystackOf(p: PersonRow): string {
  return `${p.givenName} ${p.familyName}\n${p.familyName}\n${p.email}\n${p.staffId ?? ''}`.toLowerCase();
}

function matches(p: PersonRow, hay: string, q: string, f: Filters): boolean {
  if (f.kind && p.kind !== f.kind) return false;
  if (f.status && p.status !== f.status) return false;
  if (f.role && !p.roles.includes(f.role)) return false;
  if (f.group) {
    const group = f.group.toLowerCase();
    if (!p.groups.some((g) => g.toLowerCase() === group)) return false;
  }
  return q === '' || hay.includes(q);
}

/** The whole directory in one go when it is school-sized; null when it is too large. */
function useWholeDirectory() {
  return useQuery({
    queryKey: ['people', 'whole'],
    queryFn: async ({ signal }) => {
      const first = await api<PeoplePage>('/api/people', {
        query: { limit: WHOLE_PAGE, offset: 0 },
        signal,
      });
      if (first.total > CLIENT_SIDE_MAX) return null;
      // Page by what the server actually returned: it may cap the page size below ours.
      const step = first.people.length;
      const offsets: number[] = [];
      for (let o = step; step > 0 && o < first.total; o += step) offsets.push(o);
      const rest = await Promise.all(
        offsets.map((offset) =>
          api<PeoplePage>('/api/people', { query: { limit: step, offset }, signal }),
        ),
      );
      const people = [first, ...rest].flatMap((p) => p.people);
      return {
        people,
        haystacks: people.map(haystackOf),
        abilities: first.abilities,
      };
    },
    staleTime: 30_000,
  });
}
const ROW_HEIGHT = 41;
const FILTERS = ['kind', 'group', 'role', 'status'] as const;

export function PeopleScreen() {
  const { can } = useSession();
  const [params, setParams] = useSearchParams();
  const [search, setSearch] = useState(params.get('q') ?? '');
  const [q] = useDebouncedValue(search.trim(), 250);
  // Typing stays responsive while a large list re-filters: React renders the filter at low priority.
  const typed = useDeferredValue(search.trim().toLowerCase());
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

  const whole = useWholeDirectory();
  const clientSide = whole.data != null;
  const people = useInfiniteQuery({
    enabled: whole.data === null,
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

  const { kind, group, role, status } = filters;
  const rows = useMemo(() => {
    if (whole.data) {
      const { people: all, haystacks } = whole.data;
      const f: Filters = { kind, group, role, status };
      return all.filter((p, i) => matches(p, haystacks[i]!, typed, f));
    }
    return people.data?.pages.flatMap((p) => p.people) ?? [];
  }, [whole.data, typed, kind, group, role, status, people.data]);
  const total = clientSide ? rows.length : (people.data?.pages[0]?.total ?? 0);
  const pending = whole.isPending || (whole.data === null && people.isPending);
  const error = whole.error ?? people.error;
  const kinds = useMemo(() => kindOptions(policy.data), [policy.data]);
  // Stable, so memoised rows are not rendered again on every scroll frame.
  const kindLabel = useCallback((k: string) => labelOf(kinds, k), [kinds]);
  const roleLabel = useCallback((r: string) => roleName(policy.data, r), [policy.data]);
  const roles = roleOptions(
    policy.data,
    rows.slice(0, 500).flatMap((p) => p.roles),
  );
  const filtered = Boolean(clientSide ? typed : q) || FILTERS.some((f) => filters[f]);
  // What the API says this person may do with the directory; hidden buttons cannot fail.
  const abilities = whole.data?.abilities ?? people.data?.pages[0]?.abilities;
  const canImport = abilities?.import ?? false;
  const canExport = abilities?.export ?? false;

  return (
    <Page
      title="People"
      description="Everyone the policy applies to (SCP-1), with their kind, groups and roles."
      actions={
        canImport || canExport ? (
          <>
            {canExport ? (
              <Button component="a" href="/api/people/export" variant="default">
                Export CSV
              </Button>
            ) : null}
            {canImport ? (
              <Button component={Link} to="/people/import">
                Import people
              </Button>
            ) : null}
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

      {error ? <ErrorAlert error={error} title="The directory did not load" /> : null}
      {pending ? (
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
              canImport ? (
                <Button component={Link} to="/people/import">
                  Import people from a CSV file
                </Button>
              ) : null
            }
          >
            {canImport
              ? 'Import your staff from a CSV file exported from your MIS or HR system. A check runs first and nothing is stored until the whole file is right.'
              : 'Nobody has been added yet. The School Business Manager imports the staff list.'}
          </Empty>
        )
      ) : (
        <PeopleTable
          rows={rows}
          total={total}
          kindLabel={kindLabel}
          roleLabel={roleLabel}
          loadMore={() => {
            if (!clientSide && people.hasNextPage && !people.isFetchingNextPage) {
              void people.fetchNextPage();
            }
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
            {items.map((item) => (
              <PersonRowView
                key={rows[item.index]?.id ?? `pending-${item.index}`}
                index={item.index}
                person={rows[item.index]}
                kindLabel={kindLabel}
                roleLabel={roleLabel}
              />
            ))}
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

/**
 * One row. Memoised: while scrolling, rows that stay in view are not rendered again, which keeps
 * each frame short on a slow laptop.
 */
const PersonRowView = memo(function PersonRowView({
  index,
  person,
  kindLabel,
  roleLabel,
}: {
  index: number;
  person: PersonRow | undefined;
  kindLabel(kind: string): string;
  roleLabel(role: string): string;
}) {
  return (
    <Table.Tr
      style={{ height: ROW_HEIGHT }}
      aria-rowindex={index + 2}
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
          <Table.Td title={person.groups.join(', ')}>{person.groups.join(', ') || '—'}</Table.Td>
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
});

export function StatusBadge({ status }: { status: string }) {
  // Dark enough for white text at badge size (AA contrast).
  const color = status === 'active' ? '#1e6b32' : status === 'left' ? '#343a40' : '#9a3412';
  return (
    <Badge color={color} variant="filled" radius="sm">
      {humanise(status)}
    </Badge>
  );
}
