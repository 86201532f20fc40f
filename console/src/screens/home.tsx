// Home: "Needs my attention". Lists what waits for the signed-in person; later work adds
// approvals waiting (SYS-2, SYS-3, ...), policy reviews falling due (GOV-1), policy acceptance
// (GOV-5) and security flags (PWD-4). Each item says what to do and links to where to do it.
import { Anchor, Button, Card, Group, Stack, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router-dom';
import { api } from '../api.ts';
import { Empty, Loading, Page } from '../components/page.tsx';
import { useSession } from '../session.tsx';
import type { PeoplePage } from '../types.ts';

interface AttentionItem {
  id: string;
  title: string;
  text: string;
  action: { label: string; to: string };
  clause?: string;
}

export function HomeScreen() {
  const { session, can } = useSession();
  const canImport = can('people.manage');
  const people = useQuery({
    queryKey: ['people', 'count'],
    queryFn: () => api<PeoplePage>('/api/people', { query: { limit: 1 } }),
    enabled: canImport,
  });

  const items: AttentionItem[] = [];
  if (canImport && people.data && people.data.total <= 1) {
    items.push({
      id: 'directory-empty',
      title: 'Add your staff to the directory',
      text: 'The directory has no one but you. Import everyone the policy applies to (SCP-1) from a CSV file exported from your MIS or HR system; the filters and registers work from it.',
      action: { label: 'Import people', to: '/people/import' },
      clause: 'SCP-1',
    });
  }

  const firstName = session?.person?.name.split(' ')[0];
  return (
    <Page
      title="Needs my attention"
      description={firstName ? `Good to see you, ${firstName}.` : undefined}
    >
      {canImport && people.isPending ? <Loading /> : null}
      {items.length ? (
        <Stack gap="md" component="ul" style={{ listStyle: 'none', padding: 0, margin: 0 }}>
          {items.map((item) => (
            <Card key={item.id} withBorder component="li" padding="lg" data-testid="attention-item">
              <Group justify="space-between" align="flex-start" wrap="wrap" gap="md">
                <Stack gap={4} maw={680}>
                  <Title order={2} size="h4">
                    {item.title}
                  </Title>
                  <Text size="sm">{item.text}</Text>
                  {item.clause ? (
                    <Anchor component={Link} to={`/policy#${item.clause}`} size="sm">
                      Why: clause {item.clause} of the policy
                    </Anchor>
                  ) : null}
                </Stack>
                <Button component={Link} to={item.action.to}>
                  {item.action.label}
                </Button>
              </Group>
            </Card>
          ))}
        </Stack>
      ) : canImport && people.isPending ? null : (
        <Empty
          title="Nothing needs your attention"
          actions={
            can('policy.read') ? (
              <Button component={Link} to="/policy" variant="default">
                Read the policy
              </Button>
            ) : null
          }
        >
          Requests waiting for your approval, policy reviews falling due and security flags to
          review will appear here. There is nothing for you to do now; the navigation on the left
          leads to everything else.
        </Empty>
      )}
    </Page>
  );
}
