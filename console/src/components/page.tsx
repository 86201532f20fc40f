// Small pieces every screen uses: the page heading (which also names the browser tab), errors
// from the API, empty states that say what to do next, and a loading line.
import { Alert, Center, EmptyState, Group, List, Loader, Stack, Text, Title } from '@mantine/core';
import { type ReactNode, useEffect } from 'react';
import { ApiError, messageOf } from '../api.ts';

export function Page({
  title,
  description,
  actions,
  children,
}: {
  title: string;
  description?: ReactNode;
  actions?: ReactNode;
  children: ReactNode;
}) {
  useEffect(() => {
    document.title = `${title} · Custos`;
  }, [title]);
  return (
    <Stack gap="lg">
      <Group justify="space-between" align="flex-start" wrap="wrap" gap="sm">
        <Stack gap={4}>
          <Title order={1} size="h2">
            {title}
          </Title>
          {description ? (
            <Text c="dimmed" maw={760}>
              {description}
            </Text>
          ) : null}
        </Stack>
        {actions ? <Group gap="sm">{actions}</Group> : null}
      </Group>
      {children}
    </Stack>
  );
}

/** Details that are a list of { path|field, message }, shown under the message. */
function detailLines(details: unknown): string[] {
  const list = Array.isArray(details)
    ? details
    : Array.isArray((details as { failures?: unknown })?.failures)
      ? (details as { failures: unknown[] }).failures
      : [];
  return list
    .map((item) => (item as { message?: unknown })?.message)
    .filter((m): m is string => typeof m === 'string');
}

export function ErrorAlert({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  const lines = error instanceof ApiError ? detailLines(error.details) : [];
  return (
    <Alert color="red" variant="light" title={title ?? 'That did not work'} role="alert">
      <Stack gap={4}>
        <Text size="sm">{messageOf(error)}</Text>
        {lines.length > 1 ? (
          <List size="sm">
            {lines.map((line) => (
              <List.Item key={line}>{line}</List.Item>
            ))}
          </List>
        ) : null}
      </Stack>
    </Alert>
  );
}

export function Empty({
  title,
  children,
  actions,
}: {
  title: string;
  children: ReactNode;
  actions?: ReactNode;
}) {
  return (
    <EmptyState
      title={title}
      description={children}
      py="xl"
      data-testid="empty-state"
      styles={{ description: { maxWidth: 560 } }}
    >
      {actions ? <EmptyState.Actions>{actions}</EmptyState.Actions> : null}
    </EmptyState>
  );
}

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <Center py="xl" role="status" aria-live="polite">
      <Group gap="sm">
        <Loader size="sm" aria-hidden />
        <Text>{label}</Text>
      </Group>
    </Center>
  );
}

export function NoAccess({ what }: { what: string }) {
  return (
    <Page title="Not available to your role">
      <Empty title={`Your role does not include ${what}`}>
        The policy pack decides which roles see which parts of the console. If you need this for
        your work, ask the School Business Manager to add the role to your account.
      </Empty>
    </Page>
  );
}
