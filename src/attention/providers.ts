// The providers of "Needs my attention". A module that has something to ask of people adds its
// provider here.
import { createDirectoryService } from '../directory/service.ts';
import { policyDocumentAttention } from '../governance/policy-document/attention.ts';
import { heldSummary } from '../mail/repository.ts';
import { createSecurityFlagsService } from '../security/flags.service.ts';
import { countOpenReviews } from '../webfilter/reviews.repository.ts';
import type { AttentionProvider } from './service.ts';

/** An empty directory: the people who manage it are asked to import the staff (SCP-1). */
const directoryAttention: AttentionProvider = async (ctx, principal) => {
  if (!principal.permissions.has('people.manage')) return [];
  const directory = createDirectoryService({
    store: ctx.store,
    audit: ctx.audit,
    policy: ctx.policy,
    clock: ctx.clock,
  });
  if ((await directory.countPeople()) > 1) return [];
  return [
    {
      id: 'directory-empty',
      kind: 'directory.empty',
      title: 'Add your staff to the directory',
      detail:
        'The directory has no one but you. Import everyone the policy applies to (SCP-1) from a CSV file exported from your MIS or HR system; the filters and registers work from it.',
      clauseIds: ['SCP-1'],
      href: '/people/import',
      action: 'Import people',
      severity: 'info',
    },
  ];
};

/** Sign-ins flagged for review (PWD-4), for those who review them. */
const securityAttention: AttentionProvider = async (ctx, principal) => {
  if (!principal.permissions.has('security.flags.read')) return [];
  const open = await createSecurityFlagsService(ctx).countOpen();
  if (open === 0) return [];
  return [
    {
      id: 'security-flags',
      kind: 'security.flags',
      title: open === 1 ? '1 sign-in flagged for review' : `${open} sign-ins flagged for review`,
      detail:
        "An account was signed in from two places at once, or locked after failed attempts. Check with the person that it was them; logging on with another person's password is misconduct (PWD-4).",
      clauseIds: ['PWD-4'],
      href: '/security',
      action: 'Review',
      severity: 'warning',
    },
  ];
};

/** Requests to review a blocked site (MIS-1, SYS-5), for those who decide them. */
const siteReviewAttention: AttentionProvider = async (ctx, principal) => {
  if (!principal.permissions.has('webfilter.reviews.decide')) return [];
  const open = await countOpenReviews(ctx.store.db);
  if (open === 0) return [];
  const clauseIds = ctx.policy.current().approvals.get('site-review')?.clauseIds ?? ['MIS-1'];
  return [
    {
      id: 'site-reviews',
      kind: 'webfilter.site-reviews',
      title:
        open === 1
          ? '1 request to review a blocked site'
          : `${open} requests to review a blocked site`,
      detail:
        "Someone asked from a block page for a site they need for work. Allow it (it goes on the school's allow list) or decline it with a note; they are told by e-mail either way.",
      clauseIds: [...clauseIds],
      href: '/web-filter?tab=reviews',
      action: 'Review',
      severity: 'info',
      count: open,
    },
  ];
};

/** A held message has waited this long: its sender (or recipient) is waiting too. */
const HELD_TOO_LONG_MS = 24 * 3_600_000;

/** Messages the mail gateway holds for review (MAIL-5, MAIL-12, SYS-8), for those who decide them. */
const mailQuarantineAttention: AttentionProvider = async (ctx, principal) => {
  if (!principal.permissions.has('mail.quarantine.decide')) return [];
  const { count, oldest } = await heldSummary(ctx.store);
  if (count === 0) return [];
  const waitedLong =
    oldest !== null && ctx.clock().getTime() - Date.parse(oldest) > HELD_TOO_LONG_MS;
  return [
    {
      id: 'mail-quarantine',
      kind: 'mail.quarantine',
      title: count === 1 ? '1 message held for review' : `${count} messages held for review`,
      detail: `The mail gateway held ${count === 1 ? 'a message' : 'messages'} under the policy's mail rules. Release or delete each with a note; the sender of outbound mail is told.${waitedLong ? ' One has waited more than a day.' : ''}`,
      clauseIds: ['SYS-8', 'MON-5'],
      href: '/mail',
      action: 'Review',
      severity: waitedLong ? 'warning' : 'info',
      count,
    },
  ];
};

export const ATTENTION_PROVIDERS: readonly AttentionProvider[] = [
  directoryAttention,
  securityAttention,
  policyDocumentAttention,
  siteReviewAttention,
  mailQuarantineAttention,
];
