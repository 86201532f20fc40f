// One person's record in the directory.
import { Anchor, Breadcrumbs, Card, SimpleGrid, Stack, Text } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import { Link, useParams } from 'react-router-dom';
import { api, isApiError } from '../api.ts';
import { Empty, ErrorAlert, Loading, Page } from '../components/page.tsx';
import { formatDate, formatDateTime } from '../format.ts';
import { kindOptions, labelOf, roleName, usePolicy } from '../policy-data.ts';
import { useSession } from '../session.tsx';
import type { Person, PersonAbilities } from '../types.ts';
import { StatusBadge } from './people.tsx';

function Field({ label, children }: { label: string; children: ReactNode }) {
  return (
    <Stack gap={2}>
      <Text size="sm" fw={600} component="dt">
        {label}
      </Text>
      <Text component="dd" m={0}>
        {children}
      </Text>
    </Stack>
  );
}

export function PersonScreen() {
  const { id = '' } = useParams();
  const { can } = useSession();
  const policy = usePolicy(can('policy.read'));
  const person = useQuery({
    queryKey: ['people', 'one', id],
    queryFn: () =>
      api<Person & { abilities?: PersonAbilities }>(`/api/people/${encodeURIComponent(id)}`),
  });
  const crumbs = (
    <Breadcrumbs>
      <Anchor component={Link} to="/people">
        People
      </Anchor>
      <Text>{person.data ? `${person.data.givenName} ${person.data.familyName}` : 'Person'}</Text>
    </Breadcrumbs>
  );

  if (person.isPending) return <Loading />;
  if (person.error) {
    return (
      <Page title="Person">
        {crumbs}
        {isApiError(person.error) && person.error.code === 'not_found' ? (
          <Empty title="No such person">
            This person is not in the directory. Go back to People and search for them.
          </Empty>
        ) : (
          <ErrorAlert error={person.error} />
        )}
      </Page>
    );
  }
  const p = person.data;
  return (
    <Page title={`${p.givenName} ${p.familyName}`} description={p.email}>
      {crumbs}
      <Card withBorder padding="lg">
        <SimpleGrid cols={{ base: 1, sm: 2, md: 3 }} spacing="lg" component="dl" m={0}>
          <Field label="Kind (SCP-1)">{labelOf(kindOptions(policy.data), p.kind)}</Field>
          <Field label="Status">
            <StatusBadge status={p.status} />
          </Field>
          <Field label="Staff id">{p.staffId ?? '—'}</Field>
          <Field label="Groups">{p.groups.join(', ') || 'None'}</Field>
          <Field label="Roles">
            {p.roles.map((r) => roleName(policy.data, r)).join(', ') || 'None'}
          </Field>
          <Field label="Supervised use only (PWD-6)">{p.supervisedUse ? 'Yes' : 'No'}</Field>
          <Field label="Start date">{formatDate(p.startDate)}</Field>
          <Field label="Leaving date (PWD-8)">{formatDate(p.leaveDate)}</Field>
          <Field label="Last changed">{formatDateTime(p.updatedAt)}</Field>
        </SimpleGrid>
      </Card>
      {p.abilities?.viewAudit ? (
        <Text size="sm">
          <Anchor component={Link} to={`/audit?targetId=${encodeURIComponent(p.id)}`}>
            See the audit trail of this person's record
          </Anchor>
        </Text>
      ) : null}
    </Page>
  );
}
