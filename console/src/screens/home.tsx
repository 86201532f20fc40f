// Home: "Needs my attention". Lists what waits for the signed-in person, as GET /api/attention
// gathers it from what they may see: the policy to read and accept (GOV-5), its review falling
// due (GOV-1), who has not accepted it, an empty directory (SCP-1). Each item says what to do and
// links to where to do it.
import { Anchor, Badge, Button, Card, Group, Stack, Text, Title } from '@mantine/core';
import { Link } from 'react-router-dom';
import { Empty, ErrorAlert, Loading, Page } from '../components/page.tsx';
import { formatDate } from '../format.ts';
import { type AttentionItem, useAttention } from '../policy-versions.ts';
import { useSession } from '../session.tsx';

const SEVERITY: Record<AttentionItem['severity'], { label: string; color: string }> = {
  critical: { label: 'Overdue', color: 'red.9' },
  warning: { label: 'To do', color: '#9c3a06' },
  info: { label: 'For information', color: 'blue.9' },
};

export function HomeScreen() {
  const { session, can } = useSession();
  const attention = useAttention();
  const items = attention.data?.items ?? [];
  const firstName = session?.person?.name.split(' ')[0];
  return (
    <Page
      title="Needs my attention"
      description={firstName ? `Good to see you, ${firstName}.` : undefined}
    >
      {attention.isPending ? <Loading /> : null}
      <ErrorAlert error={attention.error} title="What needs your attention did not load" />
      {items.length ? (
        <Stack gap="md" component="ul" style={{ listStyle: 'none', padding: 0, margin: 0 }}>
          {items.map((item) => (
            <Card
              key={item.id}
              withBorder
              component="li"
              padding="lg"
              data-testid="attention-item"
              data-kind={item.kind}
            >
              <Group justify="space-between" align="flex-start" wrap="wrap" gap="md">
                <Stack gap={4} maw={680}>
                  <Group gap="xs">
                    <Badge color={SEVERITY[item.severity].color} variant="filled" radius="sm">
                      {SEVERITY[item.severity].label}
                    </Badge>
                    {item.due ? <Text size="sm">Due {formatDate(item.due)}</Text> : null}
                  </Group>
                  <Title order={2} size="h4">
                    {item.title}
                  </Title>
                  <Text size="sm">{item.detail}</Text>
                  {item.clauseIds.length && can('policy.read') ? (
                    <Text size="sm">
                      Why:{' '}
                      {item.clauseIds.map((id, i) => (
                        <span key={id}>
                          {i ? ', ' : ''}
                          <Anchor component={Link} to={`/policy#${id}`}>
                            clause {id} of the policy
                          </Anchor>
                        </span>
                      ))}
                    </Text>
                  ) : null}
                </Stack>
                <Button component={Link} to={item.href}>
                  {item.action}
                </Button>
              </Group>
            </Card>
          ))}
        </Stack>
      ) : attention.isPending || attention.error ? null : (
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
