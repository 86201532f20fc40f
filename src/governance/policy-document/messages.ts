// The e-mails the policy document sends: a new version to accept (GOV-6), a reminder to accept
// (GOV-5) and a review falling due or overdue (GOV-1). Plain text first; the HTML part says the
// same with a link. Every value put into HTML is escaped.
import type { OutgoingMessage } from '../../notify/outbox.ts';
import { escapeHtml } from './html.ts';

export const KIND_PUBLISHED = 'policy.version-published';
export const KIND_ACCEPTANCE_REMINDER = 'policy.acceptance-reminder';
export const KIND_REVIEW_REMINDER = 'policy.review-reminder';

export interface Recipient {
  personId: string;
  email: string;
  givenName: string;
}

interface VersionRef {
  id: string;
  number: number;
}

const ukDate = (iso: string) => {
  const [y, m, d] = iso.slice(0, 10).split('-');
  return `${d}/${m}/${y}`;
};

function html(paragraphs: string[], link: { href: string; label: string }): string {
  return [
    '<!doctype html><html lang="en-GB"><body style="font-family: Arial, sans-serif; line-height: 1.5">',
    ...paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`),
    `<p><a href="${escapeHtml(link.href)}">${escapeHtml(link.label)}</a></p>`,
    '</body></html>',
  ].join('\n');
}

export function publishedMessage(
  to: Recipient,
  version: VersionRef,
  title: string,
  description: string,
  policyUrl: string,
): OutgoingMessage {
  const paragraphs = [
    `Dear ${to.givenName},`,
    `Version ${version.number} of the ${title} is now in force. What changed: ${description}`,
    'All staff must read the policy carefully (GOV-5). Please read it and confirm that you have read and accept it.',
  ];
  return {
    kind: KIND_PUBLISHED,
    to: { address: to.email, personId: to.personId },
    subject: `Please read and accept version ${version.number} of the ${title}`,
    text: `${paragraphs.join('\n\n')}\n\nRead and accept it here: ${policyUrl}\n`,
    html: html(paragraphs, { href: policyUrl, label: `Read version ${version.number}` }),
    related: { type: 'policy_version', id: version.id },
    dedupeKey: `${KIND_PUBLISHED}:${version.number}:${to.personId}`,
  };
}

export function acceptanceReminder(
  to: Recipient,
  version: VersionRef,
  title: string,
  askedSince: string,
  today: string,
  policyUrl: string,
): OutgoingMessage {
  const paragraphs = [
    `Dear ${to.givenName},`,
    `You have not yet confirmed that you have read version ${version.number} of the ${title}, which applies to you from ${ukDate(askedSince)}.`,
    'All staff must read the policy carefully (GOV-5). Please read it and press "I have read and accept" at the top of the page.',
  ];
  return {
    kind: KIND_ACCEPTANCE_REMINDER,
    to: { address: to.email, personId: to.personId },
    subject: `Reminder: please read and accept the ${title}`,
    text: `${paragraphs.join('\n\n')}\n\nRead and accept it here: ${policyUrl}\n`,
    html: html(paragraphs, { href: policyUrl, label: 'Read and accept the policy' }),
    related: { type: 'policy_version', id: version.id },
    // One reminder a day at most, however many times reminders are asked for.
    dedupeKey: `${KIND_ACCEPTANCE_REMINDER}:${version.number}:${to.personId}:${today}`,
  };
}

export function reviewReminder(
  to: Recipient,
  version: VersionRef,
  title: string,
  review: { due: string; daysLeft: number },
  policyUrl: string,
): OutgoingMessage {
  const overdue = review.daysLeft < 0;
  const paragraphs = [
    `Dear ${to.givenName},`,
    overdue
      ? `The review of the ${title} was due on ${ukDate(review.due)} and is ${-review.daysLeft} day(s) overdue.`
      : `The review of the ${title} falls due on ${ukDate(review.due)}, in ${review.daysLeft} day(s).`,
    `You own the policy and review it on the school's review schedule (GOV-1). Once the governing body has agreed the reviewed policy, publish it as version ${version.number + 1} in Custos; everyone will be asked to accept it again.`,
  ];
  // Due soon: once per review date. Overdue: once a week until a new version is published.
  const stage = overdue ? `overdue-${Math.floor(-review.daysLeft / 7)}` : 'due-soon';
  return {
    kind: KIND_REVIEW_REMINDER,
    to: { address: to.email, personId: to.personId },
    subject: overdue
      ? `Overdue: the review of the ${title}`
      : `The review of the ${title} falls due on ${ukDate(review.due)}`,
    text: `${paragraphs.join('\n\n')}\n\n${policyUrl}\n`,
    html: html(paragraphs, { href: policyUrl, label: 'Open the policy in Custos' }),
    related: { type: 'policy_version', id: version.id },
    dedupeKey: `${KIND_REVIEW_REMINDER}:${review.due}:${stage}:${to.personId}`,
  };
}
