// The quarantine: messages the mail gateway held under the policy's mail rules (MAIL-5, MAIL-12,
// MAIL-13, SYS-4, SYS-8). The reviewer sees who, to whom, the subject, the attachments and why,
// never the body (MON-2); a message marked Private shows so and its subject and file names are
// withheld (MON-3). Release sends it on; Delete destroys it; each takes a note.
import { Alert, Badge, Button, ScrollArea, Stack, Table, Text } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, isApiError } from '../api.ts';
import { DecisionDialog } from '../components/decision-dialog.tsx';
import { Empty, ErrorAlert, Loading } from '../components/page.tsx';
import { formatDateTime } from '../format.ts';
import {
  type DecisionResult,
  DIRECTION_LABEL,
  formatBytes,
  type HeldMessage,
  QUARANTINE_KEY,
  useQuarantine,
} from '../mail-data.ts';
import { useSession } from '../session.tsx';
import { AttachmentLine, bySeverity, ClauseLinks, VerdictLine } from './mail-parts.tsx';

type Decision = 'release' | 'delete';

/** How a message is called in buttons and dialogs: its subject, or who sent it when withheld. */
const titleOf = (m: HeldMessage) =>
  m.subject !== null
    ? `“${m.subject || '(no subject)'}”`
    : `the private message from ${m.sender || 'an unknown sender'}`;

export function QuarantineTab() {
  const { can } = useSession();
  const mayDecide = can('mail.quarantine.decide');
  const held = useQuarantine();
  const [deciding, setDeciding] = useState<{ message: HeldMessage; decision: Decision } | null>(
    null,
  );
  const [done, setDone] = useState<{ message: HeldMessage; result: DecisionResult } | null>(null);
  const messages = held.data?.messages ?? [];
  const count = held.data?.held ?? messages.length;

  return (
    <Stack gap="md">
      <Text size="sm" maw={820}>
        Messages the gateway held because a rule of the policy asked for it. Nothing is sent until
        you release it; deleting destroys it for good. You see who sent it, to whom, the subject,
        the attachments and why it was held, never its text (MON-2). A message marked Private or
        Personal keeps its subject and file names to itself (MON-3). Every decision is kept in the
        audit trail with your note.
      </Text>
      {done ? (
        <Alert
          color="green"
          variant="light"
          role="status"
          title={
            done.result.status === 'released'
              ? `Released ${titleOf(done.message)}`
              : `Deleted ${titleOf(done.message)}`
          }
          withCloseButton
          closeButtonLabel="Dismiss"
          onClose={() => setDone(null)}
        >
          {done.result.status === 'released'
            ? `The next mail server took it${done.result.nextHopReply ? ` (${done.result.nextHopReply})` : ''}.`
            : 'Its content is destroyed; the record of it stays.'}{' '}
          {done.result.senderTold
            ? 'The sender will be told by e-mail, with your note.'
            : 'The sender is outside the school, so nobody is e-mailed.'}
        </Alert>
      ) : null}
      <ErrorAlert error={held.error} title="The quarantine did not load" />
      {held.isPending ? (
        <Loading label="Loading the held messages…" />
      ) : messages.length === 0 && !held.error ? (
        <Empty title="No messages are held">
          The gateway holds a message when a rule of the policy asks for it: personal data such as
          National Insurance numbers going to an outside address (MAIL-12), offensive words
          (MAIL-5), explicit incoming mail (MAIL-13), an encrypted archive that cannot be scanned
          (SYS-4). Held messages wait here for {mayDecide ? 'you' : 'the School Business Manager'}{' '}
          to release or delete them, and are counted on Needs my attention. The rules are under the
          Rules tab.
        </Empty>
      ) : messages.length ? (
        <>
          <Text size="sm" fw={600} aria-live="polite">
            {count === 1 ? '1 message is held' : `${count} messages are held`}, oldest first
            {count > messages.length ? ` (the first ${messages.length} are shown)` : ''}.
          </Text>
          <ScrollArea type="auto">
            <Table
              striped
              miw={1040}
              verticalSpacing="sm"
              aria-label="Messages held for review"
              data-testid="held-messages"
            >
              <Table.Thead>
                <Table.Tr>
                  <Table.Th w={112}>Received</Table.Th>
                  <Table.Th w={236}>From and to</Table.Th>
                  <Table.Th w={150}>Subject</Table.Th>
                  <Table.Th w={170}>Attachments</Table.Th>
                  <Table.Th>Why it is held</Table.Th>
                  <Table.Th w={104}>{mayDecide ? 'Decide' : 'Decision'}</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {messages.map((m) => (
                  <Table.Tr key={m.id} data-testid="held-message" data-id={m.id}>
                    <Table.Td>
                      <Text size="sm">{formatDateTime(m.receivedAt)}</Text>
                      <Text size="xs" c="dimmed">
                        {DIRECTION_LABEL[m.direction]}, {formatBytes(m.size)}
                      </Text>
                    </Table.Td>
                    <Table.Td>
                      <Who message={m} />
                    </Table.Td>
                    <Table.Td>
                      {m.private ? (
                        <Stack gap={4}>
                          <Badge
                            variant="filled"
                            color="#5f3dc4"
                            radius="sm"
                            tt="none"
                            data-testid="private-badge"
                          >
                            Private
                          </Badge>
                          <Text size="xs">
                            Marked Private or Personal: the subject is withheld (MON-3).
                          </Text>
                        </Stack>
                      ) : (
                        <Text size="sm" style={{ overflowWrap: 'anywhere' }}>
                          {m.subject || '(no subject)'}
                        </Text>
                      )}
                    </Table.Td>
                    <Table.Td>
                      {m.attachments.length ? (
                        <Stack gap={6}>
                          {m.attachments.map((a) => (
                            <AttachmentLine key={a.path} attachment={a} />
                          ))}
                        </Stack>
                      ) : (
                        <Text size="sm" c="dimmed">
                          None
                        </Text>
                      )}
                    </Table.Td>
                    <Table.Td>
                      <Stack gap="xs">
                        {bySeverity(m.verdicts).map((v) => (
                          <VerdictLine key={`${v.rule}-${v.action}`} verdict={v} />
                        ))}
                      </Stack>
                    </Table.Td>
                    <Table.Td>
                      {mayDecide ? (
                        <Stack gap="xs" align="stretch">
                          <Button
                            size="xs"
                            aria-label={`Release ${titleOf(m)}`}
                            onClick={() => setDeciding({ message: m, decision: 'release' })}
                          >
                            Release
                          </Button>
                          <Button
                            size="xs"
                            variant="default"
                            aria-label={`Delete ${titleOf(m)}`}
                            onClick={() => setDeciding({ message: m, decision: 'delete' })}
                          >
                            Delete
                          </Button>
                        </Stack>
                      ) : (
                        <Text size="sm">Waiting for the School Business Manager</Text>
                      )}
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </ScrollArea>
        </>
      ) : null}
      <ReleaseOrDelete
        deciding={deciding}
        onClose={() => setDeciding(null)}
        onDone={(result) => {
          setDone(result);
          setDeciding(null);
        }}
      />
    </Stack>
  );
}

function Who({ message: m }: { message: HeldMessage }) {
  return (
    <Stack gap={2}>
      <Text size="sm" style={{ overflowWrap: 'anywhere' }}>
        <Text span size="xs" c="dimmed">
          From{' '}
        </Text>
        {m.sender || '(no sender)'}
      </Text>
      {m.headerFrom ? (
        <Text size="xs" style={{ overflowWrap: 'anywhere' }}>
          Says it is from {m.headerFrom}
        </Text>
      ) : null}
      <Text size="sm" style={{ overflowWrap: 'anywhere' }}>
        <Text span size="xs" c="dimmed">
          To{' '}
        </Text>
        {m.recipients.slice(0, 3).join(', ')}
        {m.recipients.length > 3 ? ` and ${m.recipients.length - 3} more` : ''}
      </Text>
    </Stack>
  );
}

function ReleaseOrDelete({
  deciding,
  onClose,
  onDone,
}: {
  deciding: { message: HeldMessage; decision: Decision } | null;
  onClose(): void;
  onDone(result: { message: HeldMessage; result: DecisionResult }): void;
}) {
  const client = useQueryClient();
  const decide = useMutation({
    mutationFn: (input: { message: HeldMessage; decision: Decision; note: string }) =>
      api<DecisionResult>(
        `/api/mail/quarantine/${encodeURIComponent(input.message.id)}/${input.decision}`,
        { method: 'POST', body: { note: input.note } },
      ),
    onSuccess: async (result, input) => {
      await Promise.all([
        client.invalidateQueries({ queryKey: QUARANTINE_KEY }),
        client.invalidateQueries({ queryKey: ['mail', 'activity'] }),
        client.invalidateQueries({ queryKey: ['attention'] }),
      ]);
      onDone({ message: input.message, result });
    },
    onError: async (error) => {
      // Decided by someone else meanwhile: the list is out of date.
      if (isApiError(error) && (error.code === 'conflict' || error.code === 'not_found')) {
        await client.invalidateQueries({ queryKey: QUARANTINE_KEY });
      }
    },
  });
  const close = () => {
    decide.reset();
    onClose();
  };
  const m = deciding?.message;
  const release = deciding?.decision === 'release';
  const outbound = m?.direction === 'outbound';
  return (
    <DecisionDialog
      opened={!!deciding}
      title={m ? (release ? `Release ${titleOf(m)}?` : `Delete ${titleOf(m)}?`) : ''}
      onCancel={close}
      onDecide={(note) => {
        if (deciding) decide.mutate({ ...deciding, note });
      }}
      pending={decide.isPending}
      error={decide.error}
      errorTitle={release ? 'The message was not released' : 'The message was not deleted'}
      confirm={release ? 'Release the message' : 'Delete the message'}
      confirmColour={release ? undefined : 'red.9'}
      note={{
        label: release ? 'Why it may go' : 'Why it is deleted',
        description: outbound
          ? 'E-mailed to the sender and kept in the audit trail.'
          : 'Kept in the audit trail.',
        placeholder: release
          ? 'For example: the payroll provider is our processor under contract.'
          : 'For example: send personal data through the secure portal instead.',
      }}
    >
      {m ? (
        <>
          <Text size="sm">
            {release
              ? `It goes to ${m.recipients.join(', ')} through the school's mail service as it arrived${outbound ? ', with the school disclaimer (MAIL-4)' : ''}.`
              : 'Its content is destroyed and cannot be recovered. The record of it (who, to whom, when and why it was held) stays, with your reason.'}{' '}
            {outbound
              ? `The sender, ${m.sender}, is e-mailed your note.`
              : 'The sender is outside the school and is not told.'}
          </Text>
          <Stack gap={4}>
            <Text size="sm" fw={600}>
              Held because
            </Text>
            {bySeverity(m.verdicts).map((v) => (
              <Text size="sm" key={`${v.rule}-${v.action}`}>
                {v.reason} (<ClauseLinks clauses={v.clauses} />)
              </Text>
            ))}
          </Stack>
        </>
      ) : null}
    </DecisionDialog>
  );
}
