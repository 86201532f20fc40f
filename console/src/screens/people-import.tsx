// Importing people from a CSV file, all or nothing. The file is checked first (a dry run): every
// bad row is listed with its line number and reason and nothing is stored until the whole file is
// right. Then "Import" sends it again and the server applies it in one transaction.
import {
  Alert,
  Anchor,
  Button,
  Card,
  Code,
  FileInput,
  Group,
  List,
  Progress,
  ScrollArea,
  Stack,
  Table,
  Text,
  Title,
} from '@mantine/core';
import { useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'react-router-dom';
import { ApiError, upload } from '../api.ts';
import { ErrorAlert, Page } from '../components/page.tsx';
import { plural } from '../format.ts';
import type { ImportError, ImportResult } from '../types.ts';

const SHOWN_ERRORS = 500;
const SHOWN_PREVIEW = 200;

const TEMPLATE = [
  'staff_id,email,given_name,family_name,kind,groups,roles,start_date,leave_date,status,supervised_use',
  'E001,j.smith@example.sch.uk,Jo,Smith,employee,staff;teaching,staff,2024-09-01,,active,no',
].join('\r\n');

type Phase = 'idle' | 'checking' | 'checked' | 'importing' | 'done';

/** The import result inside an `import_rejected` error, or null. */
function rejectedResult(error: unknown): ImportResult | null {
  if (!(error instanceof ApiError) || error.code !== 'import_rejected') return null;
  const details = error.details as Partial<ImportResult> | undefined;
  return details && Array.isArray(details.errors) ? (details as ImportResult) : null;
}

export function PeopleImportScreen() {
  const queryClient = useQueryClient();
  const [file, setFile] = useState<File | null>(null);
  const [phase, setPhase] = useState<Phase>('idle');
  const [progress, setProgress] = useState(0);
  const [result, setResult] = useState<ImportResult | null>(null);
  const [error, setError] = useState<unknown>(null);

  const send = async (dryRun: boolean) => {
    if (!file) return;
    setPhase(dryRun ? 'checking' : 'importing');
    setProgress(0);
    setError(null);
    try {
      const answer = await upload<ImportResult>('/api/people/import', file, {
        query: { dryRun },
        contentType: 'text/csv',
        onProgress: setProgress,
      });
      setResult(answer);
      setPhase(dryRun ? 'checked' : 'done');
      if (!dryRun) await queryClient.invalidateQueries({ queryKey: ['people'] });
    } catch (caught) {
      const rejected = rejectedResult(caught);
      if (rejected) {
        setResult(rejected);
        setPhase('checked');
      } else {
        setError(caught);
        setPhase('idle');
      }
    }
  };

  const choose = (next: File | null) => {
    setFile(next);
    setResult(null);
    setError(null);
    setPhase('idle');
  };

  const busy = phase === 'checking' || phase === 'importing';
  const bad = result !== null && result.errors.length > 0;
  const ready = phase === 'checked' && result !== null && !bad;

  return (
    <Page
      title="Import people"
      description="Add and update the directory from a CSV file exported from your MIS or HR system. A row matches an existing person by staff id, then by e-mail; people not in the file are left as they are."
    >
      <Card withBorder padding="lg">
        <Stack gap="md">
          <Title order={2} size="h4">
            1. Choose the file
          </Title>
          <Text size="sm">
            Required columns: <Code>email</Code>, <Code>given_name</Code>, <Code>family_name</Code>,{' '}
            <Code>kind</Code> (a person kind, SCP-1). Optional: <Code>staff_id</Code>,{' '}
            <Code>groups</Code> and <Code>roles</Code> (several separated by <Code>;</Code>),{' '}
            <Code>start_date</Code> and <Code>leave_date</Code> (YYYY-MM-DD), <Code>status</Code>,{' '}
            <Code>supervised_use</Code>.{' '}
            <Anchor
              href={`data:text/csv;charset=utf-8,${encodeURIComponent(TEMPLATE)}`}
              download="custos-people-template.csv"
            >
              Download a template
            </Anchor>
          </Text>
          <FileInput
            label="CSV file"
            placeholder="Choose a .csv file"
            accept=".csv,text/csv"
            value={file}
            onChange={choose}
            clearable
            clearButtonProps={{ 'aria-label': 'Remove the chosen file' }}
            maw={480}
            disabled={busy}
          />
          <Group>
            <Button
              onClick={() => void send(true)}
              disabled={!file || busy}
              loading={phase === 'checking'}
            >
              Check the file
            </Button>
          </Group>
          {busy ? (
            <Stack gap={4} maw={480}>
              <Progress
                value={Math.round(progress * 100)}
                aria-label={phase === 'checking' ? 'Upload for the check' : 'Upload for the import'}
                animated={progress >= 1}
                size="lg"
              />
              <Text size="sm" role="status">
                {progress < 1
                  ? `Uploading… ${Math.round(progress * 100)}%`
                  : phase === 'checking'
                    ? 'Checking every row…'
                    : 'Saving…'}
              </Text>
            </Stack>
          ) : null}
          <ErrorAlert error={error} title="The file was not sent" />
        </Stack>
      </Card>

      {result && phase !== 'done' && bad ? <Problems result={result} /> : null}
      {ready && result ? (
        <Card withBorder padding="lg">
          <Stack gap="md">
            <Title order={2} size="h4">
              2. Check what will change
            </Title>
            <Alert color="blue" variant="light" title="The file is good" role="status">
              {plural(result.rows, 'row')}: {plural(result.created, 'new person', 'new people')},{' '}
              {plural(result.updated, 'change')}, {result.unchanged.toLocaleString('en-GB')}{' '}
              unchanged. Nothing has been stored yet.
            </Alert>
            {result.ignoredColumns.length ? (
              <Text size="sm">
                These columns are not used and will be ignored: {result.ignoredColumns.join(', ')}.
              </Text>
            ) : null}
            <Preview result={result} />
            <Group>
              <Button
                onClick={() => void send(false)}
                disabled={result.created + result.updated === 0}
              >
                Import {plural(result.created + result.updated, 'row')}
              </Button>
              <Button variant="default" onClick={() => choose(null)}>
                Cancel
              </Button>
            </Group>
          </Stack>
        </Card>
      ) : null}
      {phase === 'done' && result ? (
        <Alert color="green" variant="light" title="Imported" role="status">
          <Stack gap="xs">
            <Text size="sm">
              {plural(result.created, 'person', 'people')} added,{' '}
              {plural(result.updated, 'person', 'people')} updated,{' '}
              {result.unchanged.toLocaleString('en-GB')} unchanged. Each change is in the audit
              trail.
            </Text>
            <Group>
              <Button component={Link} to="/people" size="xs">
                See the people
              </Button>
              <Button size="xs" variant="default" onClick={() => choose(null)}>
                Import another file
              </Button>
            </Group>
          </Stack>
        </Alert>
      ) : null}
    </Page>
  );
}

function Problems({ result }: { result: ImportResult }) {
  const shown: ImportError[] = result.errors.slice(0, SHOWN_ERRORS);
  return (
    <Card withBorder padding="lg" data-testid="import-problems">
      <Stack gap="md">
        <Alert color="red" variant="light" title="Nothing was imported" role="alert">
          <Text size="sm">
            The file has {plural(result.errors.length, 'problem')}. Nothing has been stored. Fix
            every line listed below in the file, then choose it again and check it.
          </Text>
        </Alert>
        <ScrollArea.Autosize mah={420} type="auto">
          <Table striped withTableBorder aria-label="Problems in the file">
            <Table.Thead>
              <Table.Tr>
                <Table.Th w={90}>Line</Table.Th>
                <Table.Th w={160}>Column</Table.Th>
                <Table.Th>What is wrong</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {shown.map((e) => (
                <Table.Tr
                  key={`${e.line}-${e.column ?? ''}-${e.message}`}
                  data-testid="import-error"
                >
                  <Table.Td>{e.line > 0 ? `Line ${e.line}` : 'The file'}</Table.Td>
                  <Table.Td>{e.column ?? '—'}</Table.Td>
                  <Table.Td>{e.message}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </ScrollArea.Autosize>
        {result.errors.length > shown.length ? (
          <Text size="sm">
            And {plural(result.errors.length - shown.length, 'more problem')} not listed here.
          </Text>
        ) : null}
      </Stack>
    </Card>
  );
}

function Preview({ result }: { result: ImportResult }) {
  const rows = (result.preview ?? []).slice(0, SHOWN_PREVIEW);
  if (!rows.length) return null;
  return (
    <Stack gap="xs">
      <ScrollArea.Autosize mah={360} type="auto">
        <Table striped withTableBorder aria-label="Changes the import will make">
          <Table.Thead>
            <Table.Tr>
              <Table.Th w={90}>Line</Table.Th>
              <Table.Th w={110}>Change</Table.Th>
              <Table.Th>E-mail</Table.Th>
              <Table.Th>Staff id</Table.Th>
              <Table.Th>Fields that change</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {rows.map((row) => (
              <Table.Tr key={row.line}>
                <Table.Td>{row.line}</Table.Td>
                <Table.Td>{row.action === 'create' ? 'New' : 'Update'}</Table.Td>
                <Table.Td>{row.email}</Table.Td>
                <Table.Td>{row.staffId ?? '—'}</Table.Td>
                <Table.Td>{row.changes?.join(', ') || '—'}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </ScrollArea.Autosize>
      {(result.preview?.length ?? 0) > rows.length ||
      result.created + result.updated > rows.length ? (
        <List size="sm">
          <List.Item>
            The first {rows.length.toLocaleString('en-GB')} changes are shown; all{' '}
            {(result.created + result.updated).toLocaleString('en-GB')} will be made.
          </List.Item>
        </List>
      ) : null}
    </Stack>
  );
}
