// The mail rules of the policy pack in force, to read: the content rules with what each looks
// for, the attachment policy (SYS-7, SYS-8), the disclaimer (MAIL-4) and the checks the gateway
// makes whatever the pack says. They are changed in the pack (Settings), not here.
import { Anchor, Card, Code, Group, List, Stack, Table, Text, Title } from '@mantine/core';
import { Link } from 'react-router-dom';
import { Empty, ErrorAlert, Loading } from '../components/page.tsx';
import { type AttachmentActions, type MailRules, useMailRules } from '../mail-data.ts';
import { useSession } from '../session.tsx';
import { ActionBadge, ClauseLinks } from './mail-parts.tsx';

const DIRECTION: Record<string, string> = {
  inbound: 'Inbound',
  outbound: 'Outbound',
  both: 'Both ways',
};

const KIND: Record<string, string> = {
  'word-list': 'Words',
  pattern: 'Phrases (patterns)',
  'personal-data': 'Personal data',
  'recipient-threshold': 'Number of recipients',
  'attachment-type': 'Attachment types',
};

const ATTACHMENT_ACTION: Record<string, string> = {
  allow: 'Allowed',
  hold: 'Held for review',
  reject: 'Refused',
};

function Looks({ rule }: { rule: MailRules['rules'][number] }) {
  if (rule.kind === 'recipient-threshold') {
    return <Text size="sm">More than {rule.threshold} recipients</Text>;
  }
  const shown = rule.matches.slice(0, 12);
  return (
    <Text size="sm" style={{ overflowWrap: 'anywhere' }}>
      {rule.kind === 'pattern'
        ? shown.map((p) => (
            <Code key={p} block={false} mr={4}>
              {p}
            </Code>
          ))
        : shown.join(', ')}
      {rule.matches.length > shown.length ? ` and ${rule.matches.length - shown.length} more` : ''}
    </Text>
  );
}

function AttachmentRow({ label, actions }: { label: string; actions: AttachmentActions }) {
  return (
    <Table.Tr>
      <Table.Th scope="row">{label}</Table.Th>
      <Table.Td>{ATTACHMENT_ACTION[actions.executables] ?? actions.executables}</Table.Td>
      <Table.Td>{ATTACHMENT_ACTION[actions.scripts] ?? actions.scripts}</Table.Td>
      <Table.Td>
        {ATTACHMENT_ACTION[actions.encryptedArchives] ?? actions.encryptedArchives}
      </Table.Td>
    </Table.Tr>
  );
}

export function MailRulesTab() {
  const { can } = useSession();
  const rules = useMailRules();
  const r = rules.data;
  return (
    <Stack gap="lg">
      <Text size="sm" maw={820}>
        The mail rules of the policy pack in force, as the gateway applies them to every message. To
        change a rule, edit the <Code>mail</Code> section of the pack and upload it under{' '}
        {can('policy.manage') ? (
          <Anchor component={Link} to="/settings">
            Settings
          </Anchor>
        ) : (
          'Settings (the School Business Manager)'
        )}
        ; docs/policy-pack.md describes each setting. Test a message against them under Test a
        message.
      </Text>
      <ErrorAlert error={rules.error} title="The mail rules did not load" />
      {rules.isPending ? <Loading label="Loading the mail rules…" /> : null}
      {r ? (
        <>
          <Card withBorder padding="lg" data-testid="mail-content-rules">
            <Stack gap="sm">
              <Title order={2} size="h4">
                Content rules
              </Title>
              <Text size="sm">
                Checked in this order on the subject and text of each message. Mail to{' '}
                {r.domains.join(', ')} is inbound; mail from the school to anyone else is outbound.
              </Text>
              {r.rules.length ? (
                <Table striped verticalSpacing="sm" aria-label="Content rules">
                  <Table.Thead>
                    <Table.Tr>
                      <Table.Th>Rule</Table.Th>
                      <Table.Th>Looks for</Table.Th>
                      <Table.Th>Mail</Table.Th>
                      <Table.Th>Then</Table.Th>
                      <Table.Th>Clauses</Table.Th>
                    </Table.Tr>
                  </Table.Thead>
                  <Table.Tbody>
                    {r.rules.map((rule) => (
                      <Table.Tr key={rule.id} data-testid="mail-rule" data-rule={rule.id}>
                        <Table.Td maw={280}>
                          <Text size="sm" fw={600}>
                            {rule.description}
                          </Text>
                          <Text size="xs" c="dimmed">
                            {rule.id}
                          </Text>
                        </Table.Td>
                        <Table.Td maw={320}>
                          <Text size="xs" c="dimmed">
                            {KIND[rule.kind] ?? rule.kind}
                          </Text>
                          <Looks rule={rule} />
                        </Table.Td>
                        <Table.Td>
                          <Text size="sm">
                            {DIRECTION[rule.direction]}
                            {rule.externalOnly ? ', to outside addresses' : ''}
                          </Text>
                        </Table.Td>
                        <Table.Td>
                          <Stack gap={4}>
                            <ActionBadge action={rule.action} />
                            {rule.notify.length ? (
                              <Text size="xs">Tells: {rule.notify.join(', ')}</Text>
                            ) : null}
                          </Stack>
                        </Table.Td>
                        <Table.Td>
                          <Text size="sm">
                            <ClauseLinks clauses={rule.clauses} />
                          </Text>
                        </Table.Td>
                      </Table.Tr>
                    ))}
                  </Table.Tbody>
                </Table>
              ) : (
                <Empty title="The pack has no content rules">
                  Only the gateway's own checks below apply. Add rules to the mail section of the
                  pack to hold or refuse messages by their content.
                </Empty>
              )}
              <Text size="sm">
                Recipients: more than {r.recipientThreshold.max}
                {r.recipientThreshold.allStaffAddresses.length
                  ? `, or the all-staff address ${r.recipientThreshold.allStaffAddresses.join(', ')}`
                  : ''}
                : <ActionBadge action={r.recipientThreshold.action} /> (
                <ClauseLinks clauses={r.recipientThreshold.clauses} />
                ).
              </Text>
            </Stack>
          </Card>

          <Card withBorder padding="lg" data-testid="mail-attachment-policy">
            <Stack gap="sm">
              <Title order={2} size="h4">
                Attachments
              </Title>
              <Text size="sm">
                Attachments are judged by what their bytes are, not by their names, inside archives
                and forwarded messages too (<ClauseLinks clauses={r.attachments.clauses} />
                ).
              </Text>
              <Table maw={760} aria-label="Attachment policy">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th />
                    <Table.Th>Programs</Table.Th>
                    <Table.Th>Scripts and macros</Table.Th>
                    <Table.Th>Encrypted archives</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  <AttachmentRow label="Inbound" actions={r.attachments.inbound} />
                  <AttachmentRow label="Outbound" actions={r.attachments.outbound} />
                </Table.Tbody>
              </Table>
              <Text size="sm">
                <Text span fw={600} inherit>
                  Programs:
                </Text>{' '}
                {r.attachments.executables.join(', ')}
              </Text>
              <Text size="sm">
                <Text span fw={600} inherit>
                  Scripts:
                </Text>{' '}
                {r.attachments.scripts.join(', ')}
              </Text>
            </Stack>
          </Card>

          <Card withBorder padding="lg" data-testid="mail-disclaimer">
            <Stack gap="sm">
              <Group gap="xs">
                <Title order={2} size="h4">
                  Disclaimer
                </Title>
                <Text size="sm">
                  (<ClauseLinks clauses={r.disclaimer.clauses} />)
                </Text>
              </Group>
              <Text size="sm">
                Added once to every outbound message, at the end of its text and of its HTML.
              </Text>
              <Text
                size="sm"
                p="sm"
                style={{ whiteSpace: 'pre-wrap', borderLeft: '4px solid #ced4da' }}
              >
                {r.disclaimer.text}
              </Text>
            </Stack>
          </Card>

          <Card withBorder padding="lg" data-testid="mail-built-in">
            <Stack gap="sm">
              <Title order={2} size="h4">
                What the gateway always does
              </Title>
              <List size="sm" spacing="xs">
                {r.builtIn.map((b) => (
                  <List.Item key={b.rule}>
                    <Text span fw={600} inherit>
                      {b.name}:
                    </Text>{' '}
                    {b.what} (<ClauseLinks clauses={b.clauses} />)
                  </List.Item>
                ))}
                <List.Item>
                  <Text span fw={600} inherit>
                    Personal use:
                  </Text>{' '}
                  {r.personalUse.default === 'authorisation-required'
                    ? 'personal e-mail needs an authorisation from the School Business Manager'
                    : 'incidental personal e-mail is allowed'}{' '}
                  (<ClauseLinks clauses={r.personalUse.clauses} />)
                </List.Item>
              </List>
            </Stack>
          </Card>
        </>
      ) : null}
    </Stack>
  );
}
