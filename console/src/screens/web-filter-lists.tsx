// The lists the web filter uses: the school's own allow and deny lists (on top of the categories;
// PER-4), and the category lists loaded (source, when, SHA-256, counts) with "Update now".
import {
  Alert,
  Button,
  Card,
  Code,
  Group,
  Progress,
  SegmentedControl,
  SimpleGrid,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
  VisuallyHidden,
} from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useEffect, useState } from 'react';
import { ApiError, api } from '../api.ts';
import { Empty, ErrorAlert, Loading } from '../components/page.tsx';
import { formatDateTime, plural } from '../format.ts';
import {
  jobError,
  LISTS_KEY,
  readSchoolLists,
  SCHOOL_LISTS_KEY,
  type SchoolListEntry,
  type SchoolListName,
  type UpdateJob,
  useLists,
} from '../webfilter-data.ts';

const LIST_NAMES: Record<SchoolListName, string> = { allow: 'Allow list', deny: 'Deny list' };

/** The API's problems by field (host, reason, list); the rest is shown above the form. */
function fieldErrors(error: unknown): { byField: Record<string, string>; other: boolean } {
  const byField: Record<string, string> = {};
  if (!(error instanceof ApiError)) return { byField, other: !!error };
  const details = error.details;
  const list = Array.isArray(details)
    ? details
    : Array.isArray((details as { failures?: unknown })?.failures)
      ? (details as { failures: unknown[] }).failures
      : details && typeof details === 'object'
        ? [details]
        : [];
  for (const item of list) {
    const entry = item as { path?: unknown; field?: unknown; message?: unknown };
    const path = Array.isArray(entry.path) ? entry.path.join('.') : (entry.path ?? entry.field);
    const name = typeof path === 'string' ? path.replace(/^body\.?/, '') : '';
    if (['host', 'reason', 'list'].includes(name)) {
      byField[name] = typeof entry.message === 'string' ? entry.message : error.message;
    }
  }
  // A conflict (already on a list) or a plain validation message about the host.
  if (
    !Object.keys(byField).length &&
    (error.code === 'conflict' || /host|address/i.test(error.message))
  ) {
    byField.host = error.message;
  }
  return { byField, other: !Object.keys(byField).length };
}

export function SchoolListsTab() {
  const queryClient = useQueryClient();
  const lists = useQuery({
    queryKey: SCHOOL_LISTS_KEY,
    queryFn: async () => readSchoolLists(await api<unknown>('/api/webfilter/school-lists')),
    retry: false,
  });
  const [list, setList] = useState<SchoolListName>('deny');
  const [host, setHost] = useState('');
  const [reason, setReason] = useState('');
  const [local, setLocal] = useState<Record<string, string>>({});
  const [removed, setRemoved] = useState<string | null>(null);

  const add = useMutation({
    mutationFn: (body: { list: SchoolListName; host: string; reason: string }) =>
      api<unknown>('/api/webfilter/school-lists', { method: 'POST', body }),
    onSuccess: async () => {
      setHost('');
      setReason('');
      setRemoved(null);
      await queryClient.invalidateQueries({ queryKey: SCHOOL_LISTS_KEY });
    },
  });
  const remove = useMutation({
    mutationFn: (entry: SchoolListEntry) =>
      entry.id
        ? api<unknown>(`/api/webfilter/school-lists/${encodeURIComponent(entry.id)}`, {
            method: 'DELETE',
          })
        : api<unknown>('/api/webfilter/school-lists', {
            method: 'DELETE',
            query: { list: entry.list, host: entry.host },
          }),
    onSuccess: async (_r, entry) => {
      setRemoved(`${entry.host} is no longer on the ${entry.list} list.`);
      await queryClient.invalidateQueries({ queryKey: SCHOOL_LISTS_KEY });
    },
  });

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const next: Record<string, string> = {};
    if (!host.trim()) next.host = 'Enter a host name, such as example.com.';
    if (!reason.trim()) next.reason = 'Say why, for the audit trail.';
    setLocal(next);
    if (Object.keys(next).length) return;
    add.mutate({ list, host: host.trim(), reason: reason.trim() });
  };

  const { byField, other } = fieldErrors(add.error);
  const entries = lists.data ?? [];

  return (
    <Stack gap="lg">
      <Card withBorder padding="lg">
        <form onSubmit={submit} noValidate>
          <Stack gap="md">
            <Title order={2} size="h4">
              Add a host
            </Title>
            <Text size="sm">
              The allow list lets a host through whatever its categories (never one blocked for
              everyone); the deny list blocks a host for everyone. Each change is in the audit trail
              with its reason.
            </Text>
            <SegmentedControl
              value={list}
              onChange={(v) => setList(v as SchoolListName)}
              data={[
                { value: 'deny', label: 'Deny list' },
                { value: 'allow', label: 'Allow list' },
              ]}
              aria-label="Which list"
              w="fit-content"
            />
            {byField.list ? (
              <Text size="sm" c="red.9">
                {byField.list}
              </Text>
            ) : null}
            <Group align="flex-start" gap="md" wrap="wrap">
              <TextInput
                label="Host"
                placeholder="example.com"
                value={host}
                onChange={(e) => setHost(e.currentTarget.value)}
                error={local.host ?? byField.host}
                required
                w={280}
                autoComplete="off"
                spellCheck={false}
              />
              <TextInput
                label="Reason"
                placeholder="Why the school adds it"
                value={reason}
                onChange={(e) => setReason(e.currentTarget.value)}
                error={local.reason ?? byField.reason}
                required
                w={420}
              />
            </Group>
            <Group>
              <Button type="submit" loading={add.isPending}>
                Add to the {list === 'deny' ? 'deny' : 'allow'} list
              </Button>
            </Group>
            {other ? <ErrorAlert error={add.error} title="The host was not added" /> : null}
          </Stack>
        </form>
      </Card>
      {removed ? (
        <Alert color="green" variant="light" role="status" title="Removed">
          {removed}
        </Alert>
      ) : null}
      <ErrorAlert error={remove.error} title="The host was not removed" />
      <ErrorAlert error={lists.error} title="The school lists did not load" />
      {lists.isPending ? <Loading label="Loading the school lists…" /> : null}
      {lists.data ? (
        <SimpleGrid cols={{ base: 1, md: 2 }}>
          {(['deny', 'allow'] as const).map((name) => (
            <SchoolList
              key={name}
              name={name}
              entries={entries.filter((e) => e.list === name)}
              onRemove={(e) => remove.mutate(e)}
              removing={remove.isPending ? remove.variables : undefined}
            />
          ))}
        </SimpleGrid>
      ) : null}
    </Stack>
  );
}

function SchoolList({
  name,
  entries,
  onRemove,
  removing,
}: {
  name: SchoolListName;
  entries: SchoolListEntry[];
  onRemove(entry: SchoolListEntry): void;
  removing?: SchoolListEntry;
}) {
  return (
    <Card withBorder padding="lg" data-testid={`school-list-${name}`}>
      <Stack gap="sm">
        <Title order={2} size="h4">
          {LIST_NAMES[name]} ({entries.length})
        </Title>
        {entries.length === 0 ? (
          <Text size="sm">
            {name === 'deny'
              ? 'No host is on the deny list. Add one above to block it for everyone, whatever its category.'
              : 'No host is on the allow list. Add one above when a site the school needs falls in a blocked category.'}
          </Text>
        ) : (
          <Table striped aria-label={LIST_NAMES[name]}>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Host</Table.Th>
                <Table.Th>Reason</Table.Th>
                <Table.Th>
                  <VisuallyHidden>Actions</VisuallyHidden>
                </Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {entries.map((e) => (
                <Table.Tr key={`${e.list}:${e.host}`} data-testid="school-list-entry">
                  <Table.Td>
                    <Text size="sm" fw={600}>
                      {e.host}
                    </Text>
                    {e.addedAt ? (
                      <Text size="xs" c="dimmed">
                        {formatDateTime(e.addedAt)}
                        {e.addedBy ? `, ${e.addedBy}` : ''}
                      </Text>
                    ) : null}
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">{e.reason || '—'}</Text>
                  </Table.Td>
                  <Table.Td>
                    <Button
                      size="xs"
                      variant="default"
                      onClick={() => onRemove(e)}
                      loading={removing?.host === e.host && removing.list === e.list}
                    >
                      Remove
                      <VisuallyHidden> {e.host}</VisuallyHidden>
                    </Button>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </Stack>
    </Card>
  );
}

const FINISHED = new Set(['done', 'finished', 'complete', 'completed', 'failed', 'error']);

export function ListsTab() {
  const queryClient = useQueryClient();
  const lists = useLists();
  const [jobId, setJobId] = useState<string | null>(null);
  const start = useMutation({
    mutationFn: () =>
      api<UpdateJob & { id: string }>('/api/webfilter/lists/update', {
        method: 'POST',
        body: { from: 'configured' },
      }),
    onSuccess: (job) => setJobId(job.id),
  });
  const job = useQuery({
    queryKey: ['webfilter', 'lists', 'update', jobId],
    queryFn: () => api<UpdateJob>(`/api/webfilter/lists/update/${encodeURIComponent(jobId!)}`),
    enabled: jobId !== null,
    refetchInterval: (query) => {
      const data = query.state.data;
      return data && (FINISHED.has(data.phase) || jobError(data)) ? false : 1000;
    },
  });
  const failure = job.data ? jobError(job.data) : null;
  const finished = !!job.data && (FINISHED.has(job.data.phase) || !!failure);
  useEffect(() => {
    if (finished) void queryClient.invalidateQueries({ queryKey: LISTS_KEY, exact: true });
  }, [finished, queryClient]);

  const running = jobId !== null && !finished && !job.error;
  const percent =
    job.data && job.data.total > 0 ? Math.round((job.data.done / job.data.total) * 100) : 0;

  if (lists.isPending) return <Loading label="Loading the lists…" />;
  const data = lists.data;

  return (
    <Stack gap="lg">
      <ErrorAlert error={lists.error} title="The lists did not load" />
      {data ? (
        <Card withBorder padding="lg" data-testid="lists-loaded">
          <Stack gap="sm">
            <Title order={2} size="h4">
              The category lists loaded
            </Title>
            {data.categories.length === 0 ? (
              <Empty title="No category lists are loaded">
                Without lists the filter can only block by the school's own deny list. Choose
                "Update now" to download them, or run <Code>custos lists update</Code> on the
                server.
              </Empty>
            ) : null}
            <Table variant="vertical" layout="fixed" maw={760} aria-label="The lists loaded">
              <Table.Tbody>
                <Table.Tr>
                  <Table.Th w={180}>Source</Table.Th>
                  <Table.Td style={{ overflowWrap: 'anywhere' }}>{data.source ?? '—'}</Table.Td>
                </Table.Tr>
                <Table.Tr>
                  <Table.Th>Loaded</Table.Th>
                  <Table.Td>{formatDateTime(data.loadedAt)}</Table.Td>
                </Table.Tr>
                <Table.Tr>
                  <Table.Th>SHA-256</Table.Th>
                  <Table.Td>
                    {data.sha256 ? (
                      <Code style={{ overflowWrap: 'anywhere' }}>{data.sha256}</Code>
                    ) : (
                      'None: these lists were read from a folder on the server, not installed by an update'
                    )}
                  </Table.Td>
                </Table.Tr>
                <Table.Tr>
                  <Table.Th>Entries</Table.Th>
                  <Table.Td>
                    {plural(data.categories.length, 'category', 'categories')},{' '}
                    {plural(data.totals.domains, 'domain')},{' '}
                    {plural(data.totals.urls, 'address', 'addresses')}
                  </Table.Td>
                </Table.Tr>
              </Table.Tbody>
            </Table>
          </Stack>
        </Card>
      ) : null}
      <Card withBorder padding="lg">
        <Stack gap="sm">
          <Title order={2} size="h4">
            Update the lists
          </Title>
          <Text size="sm">
            Downloads the lists again from their source, checks them and loads them without stopping
            the filter. It takes a minute or two; you can leave this page meanwhile.
          </Text>
          <Group>
            <Button onClick={() => start.mutate()} loading={start.isPending} disabled={running}>
              Update now
            </Button>
          </Group>
          <ErrorAlert error={start.error ?? job.error} title="The update did not start" />
          {jobId !== null && job.data ? (
            <Stack gap={4} data-testid="lists-update">
              <Progress
                value={finished && !failure ? 100 : percent}
                size="lg"
                animated={running}
                aria-label="Progress of the update"
              />
              <Text size="sm" role="status" aria-live="polite">
                {failure
                  ? `The update failed: ${failure} The lists loaded before stay in use.`
                  : finished
                    ? 'The lists are updated and in use.'
                    : `${job.data.phase.charAt(0).toUpperCase()}${job.data.phase.slice(1)}: ${job.data.done.toLocaleString('en-GB')} of ${job.data.total.toLocaleString('en-GB')} (${percent}%)`}
              </Text>
            </Stack>
          ) : null}
        </Stack>
      </Card>
    </Stack>
  );
}
