// GOV-5: who has and has not read and accepted the version in force, as a bar and a list,
// filtered by group, kind and status; those who manage the policy send reminders from here.
import {
  Alert,
  Badge,
  Button,
  Card,
  Group,
  Progress,
  SegmentedControl,
  Select,
  Stack,
  Table,
  Text,
  Title,
} from '@mantine/core';
import { useState } from 'react';
import { Empty, ErrorAlert, Loading } from '../components/page.tsx';
import { formatDate, formatDateTime, plural } from '../format.ts';
import { type AcceptanceFilter, useAcceptance, useRemind } from '../policy-versions.ts';
import { useSession } from '../session.tsx';

type Status = 'all' | 'not-accepted' | 'accepted';

export function AcceptanceTab() {
  const { can } = useSession();
  const [group, setGroup] = useState<string | null>(null);
  const [kind, setKind] = useState<string | null>(null);
  const [status, setStatus] = useState<Status>('all');
  const filter: AcceptanceFilter = {
    group,
    kind,
    status: status === 'all' ? null : status,
  };
  const report = useAcceptance(filter);
  const remind = useRemind();

  if (report.isPending) return <Loading label="Loading who has accepted…" />;
  if (report.error) return <ErrorAlert error={report.error} title="The list did not load" />;
  const { totals, version, people } = report.data;
  const kindName = (id: string) => report.data.kinds.find((k) => k.id === id)?.name ?? id;

  return (
    <Stack gap="lg">
      <Card withBorder padding="lg">
        <Group justify="space-between" align="flex-start" wrap="wrap" gap="md">
          <Stack gap="xs" style={{ flex: 1, minWidth: 260 }}>
            <Title order={2} size="h4">
              Version {version.number}: {totals.accepted} of {totals.inScope} have accepted
            </Title>
            <Progress.Root size={28} aria-hidden="true">
              <Progress.Section value={totals.percent} color="#1e6b32">
                <Progress.Label>{totals.percent}%</Progress.Label>
              </Progress.Section>
              <Progress.Section value={100 - totals.percent} color="gray.5" />
            </Progress.Root>
            <Text size="sm" data-testid="acceptance-summary">
              {plural(totals.accepted, 'person', 'people')} accepted,{' '}
              {plural(totals.notAccepted, 'person', 'people')} not yet ({totals.percent}% accepted)
              {group || kind ? ' in this selection' : ''}.
            </Text>
          </Stack>
          {can('policy.manage') ? (
            <Stack gap={4} align="flex-end">
              <Button
                onClick={() => remind.mutate()}
                loading={remind.isPending}
                disabled={totals.notAccepted === 0 && !group && !kind}
              >
                Send reminders
              </Button>
              <Text size="xs" c="dimmed" maw={260} ta="right">
                E-mails everyone who has not accepted, at most once a day each.
              </Text>
            </Stack>
          ) : null}
        </Group>
        {remind.data ? (
          <Alert color="green" variant="light" mt="md" role="status" title="Reminders queued">
            {plural(remind.data.queued, 'reminder')} queued
            {remind.data.alreadyRemindedToday
              ? `; ${plural(remind.data.alreadyRemindedToday, 'person', 'people')} already reminded today`
              : ''}
            .
            {remind.data.notificationsEnabled
              ? ''
              : ' E-mail notifications are turned off in the configuration: the messages wait in the outbox until they are turned on.'}
          </Alert>
        ) : null}
        <ErrorAlert error={remind.error} title="Reminders were not sent" />
      </Card>

      <Group gap="md" align="flex-end" wrap="wrap">
        <Select
          label="Group"
          placeholder="All groups"
          clearable
          data={report.data.groups}
          value={group}
          onChange={setGroup}
          w={220}
        />
        <Select
          label="Kind"
          placeholder="All kinds"
          clearable
          data={report.data.kinds.map((k) => ({ value: k.id, label: k.name }))}
          value={kind}
          onChange={setKind}
          w={220}
        />
        <SegmentedControl
          aria-label="Show"
          value={status}
          onChange={(v) => setStatus(v as Status)}
          data={[
            { value: 'all', label: 'Everyone' },
            { value: 'not-accepted', label: 'Not accepted' },
            { value: 'accepted', label: 'Accepted' },
          ]}
        />
      </Group>

      {people.length === 0 ? (
        <Empty title="No one to show">
          {status === 'not-accepted'
            ? 'Everyone in this selection has accepted the version in force.'
            : 'No one in scope matches these filters. Clear a filter to see more.'}
        </Empty>
      ) : (
        <Table
          striped
          aria-label="Acceptance of the version in force"
          data-testid="acceptance-table"
        >
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Name</Table.Th>
              <Table.Th>Kind</Table.Th>
              <Table.Th>Groups</Table.Th>
              <Table.Th>Asked since</Table.Th>
              <Table.Th>Accepted</Table.Th>
              <Table.Th>Last reminded</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {people.map((p) => (
              <Table.Tr key={p.personId} data-testid="acceptance-row">
                <Table.Td>
                  <Text size="sm" fw={600}>
                    {p.name}
                  </Text>
                  <Text size="xs">{p.email}</Text>
                </Table.Td>
                <Table.Td>{kindName(p.kind)}</Table.Td>
                <Table.Td>{p.groups.join(', ') || '—'}</Table.Td>
                <Table.Td>{formatDate(p.askedSince)}</Table.Td>
                <Table.Td>
                  {p.acceptedAt ? (
                    <Badge color="#1e6b32" variant="filled" radius="sm">
                      {formatDateTime(p.acceptedAt)}
                    </Badge>
                  ) : (
                    <Badge color="#9c3a06" variant="filled" radius="sm">
                      Not yet
                    </Badge>
                  )}
                </Table.Td>
                <Table.Td>{formatDate(p.lastRemindedAt)}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Stack>
  );
}
