// Requests to review a blocked site (MIS-1, SYS-5): people ask from a block page, saying why they
// need the site for their work. Those who decide them allow the site (it goes on the school's
// allow list, for everyone) or decline the request, with a note the person is e-mailed.
import {
  Alert,
  Anchor,
  Badge,
  Button,
  Group,
  ScrollArea,
  SegmentedControl,
  Stack,
  Table,
  Text,
} from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'react-router-dom';
import { api } from '../api.ts';
import { DecisionDialog } from '../components/decision-dialog.tsx';
import { Empty, ErrorAlert, Loading } from '../components/page.tsx';
import { formatDateTime } from '../format.ts';
import { useSession } from '../session.tsx';
import {
  REVIEWS_KEY,
  type ReviewRequest,
  SCHOOL_LISTS_KEY,
  useReviewRequests,
} from '../webfilter-data.ts';

type Verdict = 'allow' | 'decline';

/** The anchor of a clause on the policy page: MIS-2(h) is under MIS-2. */
const clauseHref = (id: string) => `/policy#${encodeURIComponent(id.replace(/\(.*$/, ''))}`;

const askerName = (r: ReviewRequest) =>
  r.requester.name ?? r.requester.email ?? (r.requester.device ? r.requester.device.label : null);

export function ReviewsTab() {
  const { can } = useSession();
  const mayDecide = can('webfilter.reviews.decide');
  const [show, setShow] = useState<'open' | 'decided'>('open');
  const reviews = useReviewRequests(show);
  const [deciding, setDeciding] = useState<{ request: ReviewRequest; verdict: Verdict } | null>(
    null,
  );
  const [done, setDone] = useState<{
    host: string;
    verdict: Verdict;
    notified: string | null;
  } | null>(null);
  const requests = reviews.data?.requests ?? [];
  const open = reviews.data?.open;

  return (
    <Stack gap="md">
      <Text size="sm" maw={820}>
        When a blocked site is needed for work, the person can ask for a review from the block page.
        Allowing a request puts the site on the school's allow list, so it opens for everyone;
        declining leaves it blocked. Either way the person is e-mailed your note, and the decision
        is kept in the audit trail (MIS-1).
      </Text>
      {done ? (
        <Alert
          color="green"
          variant="light"
          role="status"
          title={
            done.verdict === 'allow'
              ? `${done.host} is on the school's allow list`
              : `The request for ${done.host} was declined`
          }
          withCloseButton
          closeButtonLabel="Dismiss"
          onClose={() => setDone(null)}
        >
          {done.notified
            ? `${done.notified} will be told by e-mail.`
            : 'Nobody is known for this request, so no e-mail was sent.'}
        </Alert>
      ) : null}
      <SegmentedControl
        aria-label="Which requests"
        value={show}
        onChange={(v) => setShow(v as 'open' | 'decided')}
        data={[
          { value: 'open', label: open === undefined ? 'Waiting' : `Waiting (${open})` },
          { value: 'decided', label: 'Decided' },
        ]}
        maw={360}
      />
      <ErrorAlert error={reviews.error} title="The review requests did not load" />
      {reviews.isPending ? (
        <Loading label="Loading the review requests…" />
      ) : requests.length === 0 && !reviews.error ? (
        <Empty title={show === 'open' ? 'No requests are waiting' : 'Nothing decided yet'}>
          This page is for requests to unblock a site. When the web filter blocks a site someone
          needs for their work, the block page lets them ask for a review and say why. Their
          requests appear here, with what blocked the site, for{' '}
          {mayDecide ? 'you' : 'those who decide them'} to allow or decline.
        </Empty>
      ) : requests.length ? (
        <ScrollArea type="auto">
          <Table
            striped
            miw={1000}
            verticalSpacing="sm"
            aria-label={show === 'open' ? 'Requests waiting for a decision' : 'Decided requests'}
            data-testid="review-requests"
          >
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Site</Table.Th>
                <Table.Th>Who asked</Table.Th>
                <Table.Th>When</Table.Th>
                <Table.Th>Their reason</Table.Th>
                <Table.Th>Blocked by</Table.Th>
                <Table.Th w={show === 'open' ? 200 : 260}>
                  {show === 'open' ? 'Decide' : 'Decision'}
                </Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {requests.map((r) => (
                <Table.Tr key={r.id} data-testid="review-request" data-host={r.host}>
                  <Table.Td>
                    <Text size="sm" fw={600}>
                      {r.host}
                    </Text>
                    <Text size="xs" c="dimmed" style={{ overflowWrap: 'anywhere' }} lineClamp={2}>
                      {r.url}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <Asker request={r} />
                  </Table.Td>
                  <Table.Td style={{ whiteSpace: 'nowrap' }}>
                    <Text size="sm">{formatDateTime(r.createdAt)}</Text>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm" maw={320}>
                      {r.reason}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <BlockedBy request={r} />
                  </Table.Td>
                  <Table.Td>
                    {r.decision ? (
                      <DecisionShown request={r} />
                    ) : mayDecide ? (
                      <Group gap="xs" wrap="nowrap">
                        <Button
                          size="xs"
                          aria-label={`Allow ${r.host}`}
                          onClick={() => setDeciding({ request: r, verdict: 'allow' })}
                        >
                          Allow
                        </Button>
                        <Button
                          size="xs"
                          variant="default"
                          aria-label={`Decline ${r.host}`}
                          onClick={() => setDeciding({ request: r, verdict: 'decline' })}
                        >
                          Decline
                        </Button>
                      </Group>
                    ) : (
                      <Text size="sm">Waiting for a decision</Text>
                    )}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </ScrollArea>
      ) : null}
      <AllowOrDecline
        deciding={deciding}
        onClose={() => setDeciding(null)}
        onDone={(result) => {
          setDeciding(null);
          setDone(result);
        }}
      />
    </Stack>
  );
}

function Asker({ request: r }: { request: ReviewRequest }) {
  const { can } = useSession();
  const { personId, name, email, device, ip } = r.requester;
  return (
    <Stack gap={0}>
      {personId && (name || email) ? (
        can('people.read') ? (
          <Anchor component={Link} to={`/people/${personId}`} size="sm">
            {name ?? email}
          </Anchor>
        ) : (
          <Text size="sm">{name ?? email}</Text>
        )
      ) : (
        <Text size="sm">Not known</Text>
      )}
      {name && email ? (
        <Text size="xs" c="dimmed">
          {email}
        </Text>
      ) : null}
      <Text size="xs" c="dimmed">
        {device ? `${device.label}, ${ip}` : `Device at ${ip}`}
      </Text>
    </Stack>
  );
}

function BlockedBy({ request: r }: { request: ReviewRequest }) {
  return (
    <Stack gap={4}>
      {r.categories.map((c) => (
        <Text key={c.id} size="sm" fw={600}>
          {c.name}
          {c.blockedForEveryone ? (
            <Text span size="xs" fw={400} c="red.9">
              {' '}
              (blocked for everyone)
            </Text>
          ) : null}
        </Text>
      ))}
      <Text size="sm">
        {r.clauses.map((c, i) => (
          <span key={c.id}>
            {i > 0 ? ', ' : ''}
            <Anchor component={Link} to={clauseHref(c.id)} title={c.title ?? undefined}>
              {c.id}
            </Anchor>
          </span>
        ))}
      </Text>
    </Stack>
  );
}

function DecisionShown({ request: r }: { request: ReviewRequest }) {
  const allowed = r.status === 'allowed';
  return (
    <Stack gap={4}>
      <Group gap="xs">
        <Badge variant="light" color={allowed ? 'green' : 'gray'}>
          {allowed ? 'Allowed' : 'Declined'}
        </Badge>
      </Group>
      <Text size="xs">
        {formatDateTime(r.decision?.at)} by {r.decision?.by}
      </Text>
      {r.decision?.note ? <Text size="sm">“{r.decision.note}”</Text> : null}
    </Stack>
  );
}

function AllowOrDecline({
  deciding,
  onClose,
  onDone,
}: {
  deciding: { request: ReviewRequest; verdict: Verdict } | null;
  onClose(): void;
  onDone(result: { host: string; verdict: Verdict; notified: string | null }): void;
}) {
  const client = useQueryClient();
  const decide = useMutation({
    mutationFn: (input: { request: ReviewRequest; verdict: Verdict; note: string }) =>
      api<{ request: ReviewRequest; notified: boolean }>(
        `/api/webfilter/reviews/${encodeURIComponent(input.request.id)}/decision`,
        { method: 'POST', body: { decision: input.verdict, note: input.note } },
      ),
    onSuccess: async (result, input) => {
      await Promise.all([
        client.invalidateQueries({ queryKey: REVIEWS_KEY }),
        client.invalidateQueries({ queryKey: SCHOOL_LISTS_KEY }),
        client.invalidateQueries({ queryKey: ['attention'] }),
      ]);
      onDone({
        host: input.request.host,
        verdict: input.verdict,
        notified: result.notified ? (askerName(input.request) ?? 'The person who asked') : null,
      });
    },
  });
  const close = () => {
    decide.reset();
    onClose();
  };
  const r = deciding?.request;
  const allow = deciding?.verdict === 'allow';
  const forEveryone = r?.categories.filter((c) => c.blockedForEveryone) ?? [];
  const who = r ? askerName(r) : null;
  return (
    <DecisionDialog
      opened={!!deciding}
      title={r ? (allow ? `Allow ${r.host}?` : `Decline the request for ${r.host}?`) : ''}
      onCancel={close}
      onDecide={(note) => {
        if (deciding) decide.mutate({ ...deciding, note });
      }}
      pending={decide.isPending}
      error={decide.error}
      errorTitle="The decision was not recorded"
      confirm={allow ? 'Allow the site' : 'Decline the request'}
      note={{
        label: who ? `Note to ${who}` : 'Note',
        description: r?.requester.personId
          ? 'E-mailed to them and kept in the audit trail.'
          : 'Nobody is known for this request, so no e-mail is sent; the note is kept in the audit trail.',
        placeholder: allow
          ? 'For example: allowed for the Year 2 topic this term.'
          : 'For example: please use the copy on the shared drive instead.',
      }}
    >
      {r ? (
        <>
          <Text size="sm">
            {allow
              ? `${r.host} goes on the school's allow list: it opens for everyone at school, whatever its categories, within a few minutes. You can remove it again under School lists.`
              : `${r.host} stays blocked under ${r.clauses.map((c) => c.id).join(', ') || 'the policy'}.`}
          </Text>
          {allow && forEveryone.length ? (
            <Alert color="red" variant="light" title="Blocked for everyone by the policy">
              The lists put this site under {forEveryone.map((c) => c.name).join(', ')}, which the
              policy blocks for everyone (WEB-1, MIS-2). Allow it only if you have checked that the
              lists have it wrong.
            </Alert>
          ) : null}
        </>
      ) : null}
    </DecisionDialog>
  );
}
