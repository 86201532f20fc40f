// Settings: the policy pack in force, uploading a new one and applying it (GOV-1, GOV-6). An
// upload is checked on the server with the same check as `custos policy check`; every problem is
// listed by file, line, column and key, and only a pack without problems can be applied. Applying
// asks first, showing what changes against the pack in force.
import {
  Alert,
  Badge,
  Button,
  Card,
  Code,
  FileInput,
  Group,
  Modal,
  ScrollArea,
  Stack,
  Table,
  Text,
  Title,
  VisuallyHidden,
} from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, upload } from '../api.ts';
import { Empty, ErrorAlert, Loading, Page } from '../components/page.tsx';
import { formatDateTime, plural } from '../format.ts';
import { SESSION_KEY } from '../session.tsx';

export interface PackError {
  file: string;
  line: number;
  column: number;
  key: string;
  message: string;
}

export interface PackSummary {
  name: string;
  clauses: number;
  roles: number;
  webCategories: number;
  requestTypes: number;
  mailRules: number;
  groups: number;
  personKinds: number;
}

export interface StoredPack {
  id: string;
  name: string;
  fileName: string;
  sha256: string;
  sizeBytes: number;
  valid: boolean;
  errors: PackError[];
  summary: PackSummary | null;
  uploadedAt: string;
  uploadedBy: { id: string | null; label: string };
  appliedAt: string | null;
  appliedBy: { id: string | null; label: string } | null;
  inForce: boolean;
}

interface PackList {
  packs: StoredPack[];
  inForce: { source: 'database' | 'folder'; id: string | null; summary: PackSummary };
}

const PACKS_KEY = ['policy', 'packs'] as const;

const COUNTS: { key: keyof Omit<PackSummary, 'name'>; label: string }[] = [
  { key: 'clauses', label: 'Clauses' },
  { key: 'roles', label: 'Roles' },
  { key: 'webCategories', label: 'Web categories' },
  { key: 'requestTypes', label: 'Request types' },
  { key: 'mailRules', label: 'Mail rules' },
  { key: 'groups', label: 'Groups' },
  { key: 'personKinds', label: 'Person kinds' },
];

export function SettingsScreen() {
  const queryClient = useQueryClient();
  const packs = useQuery({
    queryKey: PACKS_KEY,
    queryFn: () => api<PackList>('/api/policy/packs'),
  });
  const [file, setFile] = useState<File | null>(null);
  const [checked, setChecked] = useState<StoredPack | null>(null);
  const [confirming, setConfirming] = useState<StoredPack | null>(null);
  const [applied, setApplied] = useState<string | null>(null);

  const check = useMutation({
    mutationFn: (chosen: File) =>
      upload<StoredPack>('/api/policy/packs', chosen, {
        contentType: 'application/yaml',
        query: { fileName: chosen.name },
      }),
    onSuccess: async (pack) => {
      setChecked(pack);
      setApplied(null);
      await queryClient.invalidateQueries({ queryKey: PACKS_KEY });
    },
  });

  const apply = useMutation({
    mutationFn: (pack: StoredPack) =>
      api<{ pack: StoredPack; summary: PackSummary; previous: PackSummary }>(
        `/api/policy/packs/${encodeURIComponent(pack.id)}/apply`,
        { method: 'POST' },
      ),
    onSuccess: async (result) => {
      setConfirming(null);
      setChecked(null);
      setFile(null);
      setApplied(result.summary.name);
      // Everything read from the policy (names, roles, what this person may do) may have changed.
      await Promise.all([
        queryClient.invalidateQueries({ queryKey: ['policy'] }),
        queryClient.invalidateQueries({ queryKey: SESSION_KEY }),
      ]);
    },
  });

  const choose = (next: File | null) => {
    setFile(next);
    setChecked(null);
    check.reset();
  };

  if (packs.isPending) return <Loading label="Loading the settings…" />;
  const list = packs.data;

  return (
    <Page
      title="Settings"
      description="The policy pack Custos carries out. Upload your school's policy.yaml to check it; apply it when it has no problems (GOV-1, GOV-6)."
    >
      {packs.error ? <ErrorAlert error={packs.error} title="The packs did not load" /> : null}
      {applied ? (
        <Alert color="green" variant="light" title="The pack is in force" role="status">
          {applied} is now the policy in force for everyone. Gateways on other machines pick it up
          within a few seconds. The change is in the audit trail.
        </Alert>
      ) : null}

      {list ? <InForce list={list} /> : null}

      <Card withBorder padding="lg">
        <Stack gap="md">
          <Title order={2} size="h4">
            Upload a policy pack
          </Title>
          <Text size="sm">
            Choose the <Code>policy.yaml</Code> of your pack. It is checked at once and kept with
            its result; nothing changes until you apply it. <Code>docs/policy-pack.md</Code>{' '}
            describes each section.
          </Text>
          <FileInput
            label="Policy pack file"
            placeholder="Choose policy.yaml"
            accept=".yaml,.yml,application/yaml,text/yaml"
            value={file}
            onChange={choose}
            clearable
            clearButtonProps={{ 'aria-label': 'Remove the chosen file' }}
            maw={480}
            disabled={check.isPending}
          />
          <Group>
            <Button
              onClick={() => file && check.mutate(file)}
              disabled={!file || check.isPending}
              loading={check.isPending}
            >
              Check the pack
            </Button>
          </Group>
          <ErrorAlert error={check.error} title="The pack was not sent" />
        </Stack>
      </Card>

      {checked ? (
        <CheckResult
          pack={checked}
          onApply={() => setConfirming(checked)}
          canApply={checked.valid && !checked.inForce}
        />
      ) : null}

      <Card withBorder padding="lg">
        <Stack gap="md">
          <Title order={2} size="h4">
            Uploaded packs
          </Title>
          {list && list.packs.length === 0 ? (
            <Empty title="No pack has been uploaded yet">
              Choose your school's policy.yaml above and check it. Until a pack is applied here,
              Custos uses the pack folder configured on the server (policy.pack).
            </Empty>
          ) : (
            <PackTable
              packs={list?.packs ?? []}
              onApply={setConfirming}
              onShow={(pack) => setChecked(pack)}
            />
          )}
        </Stack>
      </Card>

      <Modal
        opened={confirming !== null}
        onClose={() => {
          setConfirming(null);
          apply.reset();
        }}
        title={confirming ? `Apply ${confirming.name}?` : 'Apply the pack?'}
        size="lg"
        closeButtonProps={{ 'aria-label': 'Cancel: keep the pack in force' }}
      >
        {confirming && list ? (
          <Stack gap="md">
            <Text size="sm">
              It replaces <strong>{list.inForce.summary.name}</strong> as the policy in force, at
              once and for everyone: roles and what they may do, web and mail rules. Gateways on
              other machines follow within a few seconds. The change is recorded in the audit trail
              (GOV-6).
            </Text>
            <Comparison current={list.inForce.summary} next={confirming.summary} />
            <ErrorAlert error={apply.error} title="The pack was not applied" />
            <Group justify="flex-end">
              <Button variant="default" onClick={() => setConfirming(null)}>
                Cancel
              </Button>
              <Button onClick={() => apply.mutate(confirming)} loading={apply.isPending}>
                Apply the pack
              </Button>
            </Group>
          </Stack>
        ) : null}
      </Modal>
    </Page>
  );
}

function InForce({ list }: { list: PackList }) {
  const current = list.packs.find((p) => p.id === list.inForce.id);
  const { summary } = list.inForce;
  return (
    <Card withBorder padding="lg" data-testid="pack-in-force">
      <Stack gap="xs">
        <Title order={2} size="h4">
          The pack in force: {summary.name}
        </Title>
        <Text size="sm">
          {list.inForce.source === 'database' && current
            ? `Applied here on ${formatDateTime(current.appliedAt)} by ${current.appliedBy?.label ?? 'unknown'} (${current.fileName}, SHA-256 ${current.sha256.slice(0, 12)}…). It takes precedence over the folder configured on the server.`
            : 'The pack folder configured on the server (policy.pack). No pack has been applied here yet.'}
        </Text>
        <Text size="sm" c="dimmed">
          {COUNTS.map((c) => `${summary[c.key]} ${c.label.toLowerCase()}`).join(' · ')}
        </Text>
      </Stack>
    </Card>
  );
}

function CheckResult({
  pack,
  onApply,
  canApply,
}: {
  pack: StoredPack;
  onApply(): void;
  canApply: boolean;
}) {
  if (!pack.valid) {
    return (
      <Card withBorder padding="lg" data-testid="pack-problems">
        <Stack gap="md">
          <Alert color="red" variant="light" title="This pack cannot be applied" role="alert">
            {pack.fileName} has {plural(pack.errors.length, 'problem')}. Fix each one in the file at
            the line and column shown, then choose the file again and check it. The policy in force
            has not changed.
          </Alert>
          <ScrollArea.Autosize mah={480}>
            <Table striped aria-label={`Problems in ${pack.fileName}`}>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th w="16%">File</Table.Th>
                  <Table.Th w="7%">Line</Table.Th>
                  <Table.Th w="8%">Column</Table.Th>
                  <Table.Th w="24%">Key</Table.Th>
                  <Table.Th>Problem</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {pack.errors.map((e) => (
                  <Table.Tr
                    key={`${e.line}:${e.column}:${e.key}:${e.message}`}
                    data-testid="pack-error"
                  >
                    <Table.Td>{e.file}</Table.Td>
                    <Table.Td>{e.line}</Table.Td>
                    <Table.Td>{e.column}</Table.Td>
                    <Table.Td>
                      <Code>{e.key}</Code>
                    </Table.Td>
                    <Table.Td>{e.message}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </ScrollArea.Autosize>
        </Stack>
      </Card>
    );
  }
  return (
    <Card withBorder padding="lg" data-testid="pack-valid">
      <Stack gap="md">
        <Alert color="blue" variant="light" title="The pack is valid" role="status">
          {pack.name} ({pack.fileName}) passed every check
          {pack.summary
            ? `: ${plural(pack.summary.clauses, 'clause')}, ${plural(pack.summary.roles, 'role')}, ${plural(pack.summary.webCategories, 'web category', 'web categories')}`
            : ''}
          . {pack.inForce ? 'It is already in force.' : 'Nothing has changed yet.'}
        </Alert>
        {canApply ? (
          <Group>
            <Button onClick={onApply}>Apply this pack…</Button>
          </Group>
        ) : null}
      </Stack>
    </Card>
  );
}

function Comparison({ current, next }: { current: PackSummary; next: PackSummary | null }) {
  return (
    <Table aria-label="What changes" data-testid="pack-comparison">
      <Table.Thead>
        <Table.Tr>
          <Table.Th />
          <Table.Th>In force now</Table.Th>
          <Table.Th>After applying</Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        <Table.Tr>
          <Table.Th scope="row">Name</Table.Th>
          <Table.Td>{current.name}</Table.Td>
          <Table.Td>{next?.name ?? '—'}</Table.Td>
        </Table.Tr>
        {COUNTS.map((c) => {
          const after = next?.[c.key];
          const changed = after !== undefined && after !== current[c.key];
          return (
            <Table.Tr key={c.key}>
              <Table.Th scope="row">{c.label}</Table.Th>
              <Table.Td>{current[c.key]}</Table.Td>
              <Table.Td fw={changed ? 700 : undefined}>
                {after ?? '—'}
                {changed ? ` (${after > current[c.key] ? '+' : ''}${after - current[c.key]})` : ''}
              </Table.Td>
            </Table.Tr>
          );
        })}
      </Table.Tbody>
    </Table>
  );
}

function PackTable({
  packs,
  onApply,
  onShow,
}: {
  packs: StoredPack[];
  onApply(pack: StoredPack): void;
  onShow(pack: StoredPack): void;
}) {
  return (
    <ScrollArea>
      <Table striped aria-label="Uploaded policy packs" data-testid="pack-list" miw={820}>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Name</Table.Th>
            <Table.Th>Uploaded</Table.Th>
            <Table.Th>SHA-256</Table.Th>
            <Table.Th>Check</Table.Th>
            <Table.Th>Status</Table.Th>
            <Table.Th>
              <VisuallyHidden>Actions</VisuallyHidden>
            </Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {packs.map((pack) => (
            <Table.Tr key={pack.id} data-testid="pack-row">
              <Table.Td>
                <Text size="sm" fw={600}>
                  {pack.name}
                </Text>
                <Text size="xs" c="dimmed">
                  {pack.fileName}
                </Text>
              </Table.Td>
              <Table.Td>
                <Text size="sm">{formatDateTime(pack.uploadedAt)}</Text>
                <Text size="xs" c="dimmed">
                  {pack.uploadedBy.label}
                </Text>
              </Table.Td>
              <Table.Td>
                <Code title={pack.sha256}>{pack.sha256.slice(0, 12)}…</Code>
              </Table.Td>
              <Table.Td>
                {pack.valid ? (
                  <Badge color="#1e6b32" variant="filled" radius="sm">
                    Valid
                  </Badge>
                ) : (
                  <Badge color="#9a3412" variant="filled" radius="sm">
                    {plural(pack.errors.length, 'problem')}
                  </Badge>
                )}
              </Table.Td>
              <Table.Td>
                {pack.inForce ? (
                  <Text size="sm" fw={700}>
                    In force
                  </Text>
                ) : pack.appliedAt ? (
                  <Text size="sm">Applied {formatDateTime(pack.appliedAt)}</Text>
                ) : (
                  <Text size="sm">Not applied</Text>
                )}
              </Table.Td>
              <Table.Td>
                {pack.valid && !pack.inForce ? (
                  <Button size="xs" variant="default" onClick={() => onApply(pack)}>
                    Apply
                    <VisuallyHidden>
                      {' '}
                      {pack.name} uploaded {formatDateTime(pack.uploadedAt)}
                    </VisuallyHidden>
                    …
                  </Button>
                ) : !pack.valid ? (
                  <Button size="xs" variant="default" onClick={() => onShow(pack)}>
                    Show problems
                    <VisuallyHidden>
                      {' '}
                      of {pack.name} uploaded {formatDateTime(pack.uploadedAt)}
                    </VisuallyHidden>
                  </Button>
                ) : null}
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </ScrollArea>
  );
}
