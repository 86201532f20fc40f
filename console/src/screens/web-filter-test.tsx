// "Test a URL": what the web filter does with an address, for anyone or for one person of the
// directory, with the categories it falls in and the clauses it is blocked under.
import {
  Alert,
  Anchor,
  Autocomplete,
  Badge,
  Button,
  Card,
  Group,
  List,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useMutation, useQuery } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { Link } from 'react-router-dom';
import { api, isApiError } from '../api.ts';
import { ErrorAlert } from '../components/page.tsx';
import { useSession } from '../session.tsx';
import type { PeoplePage } from '../types.ts';
import type { TestResult } from '../webfilter-data.ts';

const REASONS: Record<string, string> = {
  category: 'The address is in a category this person may not open.',
  'school-deny': "The address is on the school's own deny list.",
  'allow-list': "The school's own allow list lets this address through.",
  restricted: 'A restriction on this person applies to the address (PER-4).',
  withdrawn: "This person's internet access has been withdrawn (BRE-2).",
  'unregistered-device': 'The device is not in the device register (SYS-6).',
  'personal-use': 'An authorisation for personal use lets this address through (PER-1, PER-2).',
  download: 'The address is a download of a kind the policy does not allow (SYS-2, SYS-4).',
};

function PersonField({
  value,
  onChange,
  error,
}: {
  value: string;
  onChange(value: string): void;
  error?: string;
}) {
  const { can } = useSession();
  const [q] = useDebouncedValue(value, 250);
  const people = useQuery({
    queryKey: ['people', 'pick', q],
    queryFn: () => api<PeoplePage>('/api/people', { query: { q, limit: 10 } }),
    enabled: can('people.read') && q.trim().length >= 2,
  });
  const data = (people.data?.people ?? []).map((p) => ({
    value: p.email,
    label: `${p.givenName} ${p.familyName} (${p.email})`,
  }));
  return (
    <Autocomplete
      label="Person (optional)"
      description="The e-mail address of someone in the directory. Leave empty to test for someone the filter does not know."
      placeholder="name@school.example"
      value={value}
      onChange={onChange}
      data={data}
      error={error}
      maw={480}
      autoComplete="off"
    />
  );
}

export function TestTab() {
  const [url, setUrl] = useState('');
  const [person, setPerson] = useState('');
  const [urlError, setUrlError] = useState<string | undefined>();
  const test = useMutation({
    mutationFn: (input: { url: string; person: string }) =>
      api<TestResult>('/api/webfilter/test', {
        query: { url: input.url.trim(), person: input.person.trim() || undefined },
      }),
  });

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!url.trim()) {
      setUrlError('Enter an address, such as example.com or http://example.com/page.');
      return;
    }
    setUrlError(undefined);
    test.mutate({ url, person });
  };

  // The API's own problems belong to the field they are about.
  const error = test.error;
  const personError =
    isApiError(error) && error.code === 'not_found' && person.trim() ? error.message : undefined;
  const urlApiError =
    isApiError(error) && error.code === 'validation_failed' ? error.message : undefined;

  return (
    <Stack gap="lg">
      <Card withBorder padding="lg">
        <form onSubmit={submit} noValidate>
          <Stack gap="md">
            <Title order={2} size="h4">
              Test an address
            </Title>
            <Text size="sm">
              Find out whether the web filter lets an address through, which categories it is in and
              which clauses of the policy block it. Nothing is recorded in the activity.
            </Text>
            <TextInput
              label="Address"
              placeholder="facebook.com or http://example.com/page"
              value={url}
              onChange={(e) => setUrl(e.currentTarget.value)}
              error={urlError ?? urlApiError}
              required
              maw={480}
              autoComplete="off"
              spellCheck={false}
            />
            <PersonField value={person} onChange={setPerson} error={personError} />
            <Group>
              <Button type="submit" loading={test.isPending}>
                Test
              </Button>
            </Group>
            {error && !personError && !urlApiError ? (
              <ErrorAlert error={error} title="The address was not tested" />
            ) : null}
          </Stack>
        </form>
      </Card>
      {test.data ? <Result result={test.data} /> : null}
    </Stack>
  );
}

function Result({ result }: { result: TestResult }) {
  const blocked = result.action === 'block';
  const who = result.person
    ? result.person.label
    : result.device
      ? `the device ${result.device.label}`
      : 'someone the filter does not know (no person given)';
  return (
    <Card withBorder padding="lg" data-testid="test-result" aria-live="polite">
      <Stack gap="md">
        <Group gap="sm" align="center">
          <Badge
            size="xl"
            radius="sm"
            variant="filled"
            color={blocked ? '#a51d1d' : '#1e6b32'}
            tt="none"
            data-testid="test-decision"
          >
            {blocked ? 'Blocked' : 'Allowed'}
          </Badge>
          <Text fw={600}>
            {result.host}
            {result.path && result.path !== '/' ? result.path : ''}
          </Text>
        </Group>
        <Table variant="vertical" layout="fixed" maw={760} aria-label="The decision">
          <Table.Tbody>
            <Table.Tr>
              <Table.Th w={180}>For</Table.Th>
              <Table.Td>{who}</Table.Td>
            </Table.Tr>
            <Table.Tr>
              <Table.Th>Categories</Table.Th>
              <Table.Td>
                {result.categories.length
                  ? result.categories.map((c) => c.name).join(', ')
                  : 'In none of the loaded categories'}
              </Table.Td>
            </Table.Tr>
            <Table.Tr>
              <Table.Th>Clauses</Table.Th>
              <Table.Td>
                {result.clauses.length ? (
                  <List size="sm" spacing={2} data-testid="test-clauses">
                    {result.clauses.map((c) => (
                      <List.Item key={c.id}>
                        <Anchor component={Link} to={`/policy#${c.id}`} fw={600}>
                          {c.id}
                        </Anchor>
                        {c.title ? ` ${c.title}` : ''}
                      </List.Item>
                    ))}
                  </List>
                ) : (
                  'None: no clause of the policy blocks this address'
                )}
              </Table.Td>
            </Table.Tr>
            {REASONS[result.reason] ? (
              <Table.Tr>
                <Table.Th>Why</Table.Th>
                <Table.Td>{REASONS[result.reason]}</Table.Td>
              </Table.Tr>
            ) : null}
          </Table.Tbody>
        </Table>
        {result.alert ? (
          <Alert color="red" variant="light" title="An attempt would alert the designated staff">
            Opening this address alerts the designated staff at once (MIS-2).
          </Alert>
        ) : null}
      </Stack>
    </Card>
  );
}
