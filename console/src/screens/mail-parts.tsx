// Pieces the mail tabs share: a verdict with its action, reason and clause links, an action badge,
// and an attachment with what it really is.
import { Anchor, Badge, Group, Stack, Text } from '@mantine/core';
import { Link } from 'react-router-dom';
import {
  ACTION_COLOUR,
  ACTION_LABEL,
  type Attachment,
  type ClauseRef,
  clauseHref,
  formatBytes,
  type MailAction,
  type Verdict,
} from '../mail-data.ts';

export function ActionBadge({ action, size = 'sm' }: { action: MailAction; size?: 'sm' | 'xl' }) {
  return (
    <Badge
      size={size}
      radius="sm"
      variant="filled"
      color={ACTION_COLOUR[action]}
      tt="none"
      style={{ flexShrink: 0 }}
      data-testid="action-badge"
    >
      {ACTION_LABEL[action]}
    </Badge>
  );
}

export function ClauseLinks({ clauses }: { clauses: ClauseRef[] }) {
  return (
    <>
      {clauses.map((c, i) => (
        <span key={c.id}>
          {i > 0 ? ', ' : ''}
          <Anchor
            component={Link}
            to={clauseHref(c.id)}
            title={c.title ?? undefined}
            style={{ whiteSpace: 'nowrap' }}
          >
            {c.id}
          </Anchor>
        </span>
      ))}
    </>
  );
}

const SEVERITY: readonly MailAction[] = ['reject', 'hold', 'warn-sender', 'tag', 'allow'];

/** The strictest first (what decides the message), otherwise in the order the rules ran. */
export const bySeverity = (verdicts: readonly Verdict[]): Verdict[] =>
  [...verdicts].sort((a, b) => SEVERITY.indexOf(a.action) - SEVERITY.indexOf(b.action));

/** One verdict: the rule in words, its action, what was found, and the clauses behind it. */
export function VerdictLine({ verdict: v }: { verdict: Verdict }) {
  return (
    <Stack gap={2} data-testid="verdict" data-rule={v.rule}>
      <Group gap={6} wrap="wrap">
        <ActionBadge action={v.action} />
        <Text size="sm" fw={600}>
          {v.name}
        </Text>
      </Group>
      <Text size="sm" style={{ overflowWrap: 'anywhere' }}>
        {v.reason}{' '}
        <Text span size="sm" c="dimmed">
          (
        </Text>
        <ClauseLinks clauses={v.clauses} />
        <Text span size="sm" c="dimmed">
          )
        </Text>
      </Text>
    </Stack>
  );
}

/** What an attachment really is: its bytes' type when they show one, with any disguise said. */
export function AttachmentLine({ attachment: a }: { attachment: Attachment }) {
  const flags = [
    a.executable ? 'program' : null,
    a.script ? 'script' : null,
    a.macro ? 'macros' : null,
    a.encrypted ? 'encrypted' : null,
  ].filter((f): f is string => f !== null);
  return (
    <Stack gap={0} data-testid="attachment">
      <Text size="sm" fw={600} style={{ overflowWrap: 'anywhere' }}>
        {a.name ?? (a.description === null ? 'Name withheld' : `Unnamed (part ${a.path})`)}
        {a.depth > 0 ? (
          <Text span size="xs" fw={400} c="dimmed">
            {' '}
            (inside another attachment)
          </Text>
        ) : null}
      </Text>
      <Text size="xs">
        {a.detectedType ?? a.declaredType ?? 'unknown type'}, {formatBytes(a.size)}
        {flags.length ? ` · ${flags.join(', ')}` : ''}
      </Text>
      {a.disguised ? (
        <Text size="xs" c="red.9" fw={600}>
          Not what its name says: {a.description ?? 'its bytes show another type'}
        </Text>
      ) : null}
    </Stack>
  );
}
