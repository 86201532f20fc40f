// Sign-ins flagged for review (PWD-4): an account signed in from two places at once, or locked
// after failed attempts. The reviewer checks with the person and records what they found.
import {
  Alert,
  Badge,
  Button,
  Group,
  SegmentedControl,
  Stack,
  Table,
  Text,
  Textarea,
} from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'react-router-dom';
import { api } from '../api.ts';
import { Empty, ErrorAlert, Loading, Page } from '../components/page.tsx';
import { formatDateTime } from '../format.ts';
import { useSession } from '../session.tsx';

interface SecurityFlag {
  id: string;
  kind: string;
  clauseIds: string[];
  details: { newAddress?: string; otherAddresses?: string[]; [key: string]: unknown };
  createdAt: string;
  reviewedAt: string | null;
  reviewedBy: string | null;
  account: { id: string; personId: string; name: string; email: string } | null;
}

const KIND_LABELS: Record<string, string> = {
  'concurrent-sign-in': 'Signed in from two places',
  lockout: 'Locked after failed sign-ins',
};

function whatHappened(flag: SecurityFlag): string {
  if (flag.kind === 'concurrent-sign-in') {
    return `New sign-in from ${flag.details.newAddress ?? 'an unknown address'} while a session from ${(flag.details.otherAddresses ?? []).join(', ') || 'another address'} was in use.`;
  }
  return KIND_LABELS[flag.kind] ?? flag.kind;
}

export function SecurityScreen() {
  const { can } = useSession();
  const [show, setShow] = useState<'open' | 'all'>('open');
  const flags = useQuery({
    queryKey: ['security', 'flags', show],
    queryFn: () =>
      api<{ flags: SecurityFlag[] }>('/api/security/flags', {
        query: { open: show === 'open' ? 'true' : 'false' },
      }),
  });
  const list = flags.data?.flags ?? [];
  return (
    <Page
      title="Sign-ins flagged for review"
      description="Logging on with another person's password is misconduct (PWD-4). Each flag shows an account signed in from two places at once, or locked after failed attempts: check with the person that it was them, then record what you found."
    >
      <SegmentedControl
        aria-label="Which flags"
        value={show}
        onChange={(v) => setShow(v as 'open' | 'all')}
        data={[
          { value: 'open', label: 'Waiting for review' },
          { value: 'all', label: 'All' },
        ]}
        mb="md"
        maw={420}
      />
      {flags.error ? <ErrorAlert error={flags.error} title="The flags did not load" /> : null}
      {flags.isPending ? (
        <Loading label="Loading the flags…" />
      ) : list.length === 0 ? (
        <Empty title={show === 'open' ? 'Nothing waits for review' : 'No flags yet'}>
          When an account is signed in from two places at once, or locked after failed sign-ins, it
          appears here and on Needs my attention.
        </Empty>
      ) : (
        <Table striped data-testid="security-flags">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>When</Table.Th>
              <Table.Th>Account</Table.Th>
              <Table.Th>What happened</Table.Th>
              <Table.Th w={320}>Review</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {list.map((flag) => (
              <Table.Tr key={flag.id} data-testid="security-flag">
                <Table.Td>{formatDateTime(flag.createdAt)}</Table.Td>
                <Table.Td>
                  {flag.account ? (
                    <Link to={`/people/${flag.account.personId}`}>
                      {flag.account.name || flag.account.email}
                    </Link>
                  ) : (
                    '—'
                  )}
                </Table.Td>
                <Table.Td>
                  <Stack gap={4}>
                    <Group gap="xs">
                      <Badge variant="light">{KIND_LABELS[flag.kind] ?? flag.kind}</Badge>
                      {flag.clauseIds.map((c) => (
                        <Link key={c} to={`/policy#${c}`}>
                          {c}
                        </Link>
                      ))}
                    </Group>
                    <Text size="sm">{whatHappened(flag)}</Text>
                  </Stack>
                </Table.Td>
                <Table.Td>
                  {flag.reviewedAt ? (
                    <Text size="sm">
                      Reviewed {formatDateTime(flag.reviewedAt)} by {flag.reviewedBy}
                    </Text>
                  ) : can('security.flags.review') ? (
                    <ReviewForm flag={flag} />
                  ) : (
                    <Text size="sm">Waiting for IT support</Text>
                  )}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Page>
  );
}

function ReviewForm({ flag }: { flag: SecurityFlag }) {
  const client = useQueryClient();
  const [note, setNote] = useState('');
  const review = useMutation({
    mutationFn: () =>
      api<null>(`/api/security/flags/${flag.id}/review`, { method: 'POST', body: { note } }),
    onSuccess: () =>
      Promise.all([
        client.invalidateQueries({ queryKey: ['security'] }),
        client.invalidateQueries({ queryKey: ['attention'] }),
      ]),
  });
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        review.mutate();
      }}
    >
      <Stack gap="xs">
        <Textarea
          label="What you found"
          placeholder="For example: it was their tablet at home."
          value={note}
          onChange={(e) => setNote(e.currentTarget.value)}
          minRows={2}
          required
        />
        {review.error ? (
          <Alert color="red" title="Not recorded">
            {review.error instanceof Error ? review.error.message : String(review.error)}
          </Alert>
        ) : null}
        <Button
          type="submit"
          size="xs"
          loading={review.isPending}
          disabled={note.trim().length < 3}
        >
          Mark reviewed
        </Button>
      </Stack>
    </form>
  );
}
