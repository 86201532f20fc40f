// The e-mail to the person who asked for a blocked site to be reviewed: what was decided, by whom,
// the reviewer's note, and what it means for them.
import type { OutgoingMessage } from '../notify/outbox.ts';
import type { CompiledPolicy } from '../policy/compiled.ts';
import { clauseWithTitle, mailHtml, mailText, ukDateTime } from './mail.ts';

export const KIND_REVIEW_DECIDED = 'webfilter.review-decided';

export interface ReviewDecisionMail {
  requestId: string;
  host: string;
  askedAt: string;
  reason: string;
  clauseIds: readonly string[];
  decision: 'allow' | 'decline';
  note: string;
  reviewer: string;
}

export function reviewDecidedMessage(
  policy: CompiledPolicy,
  to: { personId: string; email: string; givenName: string },
  review: ReviewDecisionMail,
  publicUrl: string,
): OutgoingMessage {
  const base = publicUrl.replace(/\/+$/, '');
  const allowed = review.decision === 'allow';
  const clauses = review.clauseIds.map((id) => clauseWithTitle(policy, id)).join(', ');
  const firstClause = review.clauseIds[0];
  const body = {
    paragraphs: [
      `Dear ${to.givenName},`,
      `On ${ukDateTime(review.askedAt)} you asked for ${review.host} to be reviewed, because: “${review.reason}”.`,
      allowed
        ? `${review.reviewer} has allowed it. The site is now on the school's allow list, so it opens on the school's network within a few minutes. Use it for legitimate work purposes only (MIS-1).`
        : `${review.reviewer} has declined the request, so the site stays blocked${clauses ? ` under ${clauses}` : ''}.`,
      `Their note: “${review.note}”`,
      allowed
        ? 'Nothing else is needed from you.'
        : `If you still need the site for your work, reply to ${review.reviewer} or speak to them, saying what you need it for.`,
    ],
    link:
      allowed || !firstClause
        ? { href: `${base}/policy#MIS-1`, label: 'Read MIS-1 in the policy' }
        : {
            href: `${base}/policy#${encodeURIComponent(firstClause.replace(/\(.*$/, ''))}`,
            label: `Read ${firstClause} in the policy`,
          },
  };
  return {
    kind: KIND_REVIEW_DECIDED,
    to: { address: to.email, personId: to.personId },
    subject: allowed
      ? `Your request to open ${review.host} was allowed`
      : `Your request to open ${review.host} was declined`,
    text: mailText(body),
    html: mailHtml(body),
    related: { type: 'site_review_request', id: review.requestId },
    dedupeKey: `${KIND_REVIEW_DECIDED}:${review.requestId}`,
  };
}
