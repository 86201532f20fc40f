// "Test a message": choose an .eml file (saved from Outlook or Gmail as a message file) and see
// what the gateway would do with it and why: every verdict with its clause and reason, what the
// attachments really are, and the virus scan when clamd answers. Nothing is sent or kept.
import {
  Alert,
  Badge,
  Button,
  Card,
  FileInput,
  Group,
  List,
  SegmentedControl,
  Stack,
  Table,
  Text,
  Title,
} from '@mantine/core';
import { useMutation } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api } from '../api.ts';
import { ErrorAlert } from '../components/page.tsx';
import { DIRECTION_LABEL, type Direction, formatBytes, type TestResult } from '../mail-data.ts';
import { ActionBadge, AttachmentLine, bySeverity, VerdictLine } from './mail-parts.tsx';

type Asked = 'guess' | Direction;

export function MailTestTab() {
  const [file, setFile] = useState<File | null>(null);
  const [direction, setDirection] = useState<Asked>('guess');
  const [fileError, setFileError] = useState<string | undefined>();
  const test = useMutation({
    mutationFn: (input: { file: File; direction: Asked }) =>
      api<TestResult>('/api/mail/test', {
        method: 'POST',
        query: { direction: input.direction === 'guess' ? undefined : input.direction },
        body: input.file,
        contentType: 'message/rfc822',
      }),
  });

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!file) {
      setFileError('Choose a message file (.eml) first.');
      return;
    }
    setFileError(undefined);
    test.mutate({ file, direction });
  };

  return (
    <Stack gap="lg">
      <Card withBorder padding="lg">
        <form onSubmit={submit} noValidate>
          <Stack gap="md">
            <Title order={2} size="h4">
              Test a message
            </Title>
            <Text size="sm" maw={760}>
              See what the gateway would do with a message and why, before anyone sends it for real.
              Save the message as an .eml file (Outlook on the web and the new Outlook: More
              actions, Download; Gmail: More, Download message; Thunderbird: File, Save As) and
              choose it here. Classic Outlook's .msg files are another format: download the message
              from Outlook on the web instead. The message is checked exactly as the gateway checks
              mail, then forgotten: nothing is sent, kept or recorded.
            </Text>
            <FileInput
              label="Message file"
              description=".eml, as saved from the mail program"
              placeholder="Choose a file"
              accept=".eml,message/rfc822"
              value={file}
              onChange={(f) => {
                setFile(f);
                setFileError(undefined);
                test.reset();
              }}
              error={fileError}
              clearable
              clearButtonProps={{ 'aria-label': 'Remove the chosen file' }}
              maw={480}
            />
            <Stack gap={4}>
              <Text size="sm" fw={500} id="test-direction-label">
                Check it as
              </Text>
              <SegmentedControl
                aria-labelledby="test-direction-label"
                value={direction}
                onChange={(v) => setDirection(v as Asked)}
                data={[
                  { value: 'guess', label: 'Decide from the From address' },
                  { value: 'inbound', label: 'Inbound' },
                  { value: 'outbound', label: 'Outbound' },
                ]}
                maw={560}
              />
            </Stack>
            <Group>
              <Button type="submit" loading={test.isPending}>
                Test the message
              </Button>
            </Group>
            <ErrorAlert error={test.error} title="The message was not tested" />
          </Stack>
        </form>
      </Card>
      {test.data ? <Result result={test.data} /> : null}
    </Stack>
  );
}

function Result({ result: r }: { result: TestResult }) {
  return (
    <Card withBorder padding="lg" data-testid="mail-test-result" aria-live="polite">
      <Stack gap="md">
        <Group gap="sm" align="center">
          <ActionBadge action={r.action} size="xl" />
          <Text fw={600} style={{ overflowWrap: 'anywhere' }}>
            {r.subject || '(no subject)'}
          </Text>
          {r.private ? (
            <Badge variant="filled" color="#5f3dc4" radius="sm" tt="none">
              Private
            </Badge>
          ) : null}
        </Group>
        <Text size="sm" data-testid="mail-test-outcome" maw={820}>
          {r.outcome}
        </Text>
        <Table variant="vertical" layout="fixed" maw={820} aria-label="The message as tested">
          <Table.Tbody>
            <Table.Tr>
              <Table.Th w={180}>Checked as</Table.Th>
              <Table.Td>
                {DIRECTION_LABEL[r.direction]}
                {r.directionGuessed
                  ? r.direction === 'outbound'
                    ? ' (the From address is in the school domain)'
                    : ' (the From address is outside the school domain)'
                  : ''}
              </Table.Td>
            </Table.Tr>
            <Table.Tr>
              <Table.Th>From</Table.Th>
              <Table.Td style={{ overflowWrap: 'anywhere' }}>{r.sender ?? '(none)'}</Table.Td>
            </Table.Tr>
            <Table.Tr>
              <Table.Th>To and Cc</Table.Th>
              <Table.Td style={{ overflowWrap: 'anywhere' }}>
                {r.recipients.join(', ') || '(none)'}
              </Table.Td>
            </Table.Tr>
            <Table.Tr>
              <Table.Th>Size</Table.Th>
              <Table.Td>{formatBytes(r.size)}</Table.Td>
            </Table.Tr>
          </Table.Tbody>
        </Table>

        <Title order={3} size="h5">
          Verdicts
        </Title>
        {r.verdicts.length ? (
          <Stack gap="sm" data-testid="mail-test-verdicts">
            {bySeverity(r.verdicts).map((v) => (
              <VerdictLine key={`${v.rule}-${v.action}`} verdict={v} />
            ))}
          </Stack>
        ) : (
          <Text size="sm">No rule of the policy applies to this message.</Text>
        )}

        <Title order={3} size="h5">
          Virus scan
        </Title>
        <Alert
          variant="light"
          color={
            r.scan.status === 'clean' ? 'green' : r.scan.status === 'infected' ? 'red' : 'yellow'
          }
          title={
            r.scan.status === 'clean'
              ? 'Scanned: clean'
              : r.scan.status === 'infected'
                ? 'Scanned: a virus was found'
                : r.scan.status === 'error'
                  ? 'Scanned, but the scanner could not finish'
                  : 'Not scanned: the virus scanner did not answer'
          }
          data-testid="mail-test-scan"
        >
          <Text size="sm">{r.scan.detail}</Text>
          <Text size="xs" c="dimmed">
            clamd at {r.scan.scanner}
            {r.scan.version ? `, ${r.scan.version}` : ''}
          </Text>
        </Alert>

        <Title order={3} size="h5">
          Attachments: what they really are
        </Title>
        {r.attachments.length ? (
          <Table striped maw={980} aria-label="Attachments and what they really are">
            <Table.Thead>
              <Table.Tr>
                <Table.Th w="40%">Attachment</Table.Th>
                <Table.Th w="25%">The sender says</Table.Th>
                <Table.Th>Its bytes say</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {r.attachments.map((a) => (
                <Table.Tr key={a.path}>
                  <Table.Td>
                    <AttachmentLine attachment={a} />
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">{a.declaredType ?? 'nothing'}</Text>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">
                      {a.detectedType
                        ? `${a.detectedType}${a.extension ? ` (.${a.extension})` : ''}`
                        : 'nothing recognisable (text, or a type the check does not know)'}
                    </Text>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        ) : (
          <Text size="sm">The message has no attachments.</Text>
        )}
        {r.problems.length ? (
          <Alert variant="light" color="yellow" title="What the check found in its structure">
            <List size="sm">
              {r.problems.map((p) => (
                <List.Item key={`${p.code}-${p.message}`}>{p.message}</List.Item>
              ))}
            </List>
          </Alert>
        ) : null}
      </Stack>
    </Card>
  );
}
