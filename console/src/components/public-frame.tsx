// The frame of the pages used before signing in: sign-in, first-run setup, set password.
import { Box, Container, Paper, Stack, Text, Title } from '@mantine/core';
import { type ReactNode, useEffect } from 'react';

export function PublicFrame({
  title,
  intro,
  children,
}: {
  title: string;
  intro?: ReactNode;
  children: ReactNode;
}) {
  useEffect(() => {
    document.title = `${title} · Custos`;
  }, [title]);
  return (
    <Box component="main" bg="gray.0" mih="100vh" py={48}>
      <Container size={460}>
        <Stack gap="lg">
          <Text fw={700} fz="xl" ta="center">
            Custos
          </Text>
          <Paper withBorder shadow="sm" p="xl" radius="md">
            <Stack gap="md">
              <Title order={1} size="h2">
                {title}
              </Title>
              {intro ? <Text size="sm">{intro}</Text> : null}
              {children}
            </Stack>
          </Paper>
          <Text size="xs" c="dimmed" ta="center">
            Use of this system is governed by the school's Electronic Information and Communications
            Policy. Actions are recorded.
          </Text>
        </Stack>
      </Container>
    </Box>
  );
}

/** Reads `#token=...` from the address (the token never reaches server logs in a fragment). */
export function tokenFromHash(hash: string): string | null {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const token = params.get('token');
  return token?.trim() ? token.trim() : null;
}

/** Only paths inside the console are followed after signing in. */
export function safeNext(value: string | null): string {
  if (!value?.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) {
    return '/';
  }
  return value;
}
