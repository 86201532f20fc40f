// What the policy document puts on "Needs my attention": for everyone, accepting the version in
// force (GOV-5); for those who manage the policy, its review falling due or overdue (GOV-1) and
// how many people have not accepted (GOV-5).
import type { AttentionItem, AttentionProvider } from '../../attention/service.ts';
import { policyDocumentServiceOf } from './service.ts';

const ukDate = (iso: string) => {
  const [y, m, d] = iso.split('-');
  return `${d}/${m}/${y}`;
};

export const policyDocumentAttention: AttentionProvider = async (ctx, principal) => {
  const service = policyDocumentServiceOf(ctx);
  const items: AttentionItem[] = [];
  const title = ctx.policy.current().document.title;
  const mine = await service.myAcceptance(principal.personId);
  if (!mine.acceptedAt) {
    items.push({
      id: `policy-accept-${mine.version}`,
      kind: 'policy.accept',
      title: `Read and accept version ${mine.version} of the policy`,
      detail: `All staff must read the ${title} carefully. Read version ${mine.version} and confirm that you have read and accept it.`,
      clauseIds: ['GOV-5'],
      href: '/policy',
      action: 'Read and accept',
      severity: 'warning',
    });
  }
  if (!principal.permissions.has('policy.manage')) return items;

  const review = await service.review();
  if (review && review.state !== 'ok') {
    const overdue = review.state === 'overdue';
    items.push({
      id: `policy-review-${review.due}`,
      kind: 'policy.review',
      title: overdue ? 'The policy review is overdue' : 'The policy review falls due soon',
      detail: overdue
        ? `The review of the ${title} was due on ${ukDate(review.due)} (${-review.daysLeft} days ago). Once the governing body has agreed the reviewed policy, publish it as a new version.`
        : `The review of the ${title} falls due on ${ukDate(review.due)}, in ${review.daysLeft} days. Once the governing body has agreed it, publish it as a new version.`,
      clauseIds: ['GOV-1'],
      href: '/policy?tab=versions',
      action: 'Open the versions',
      severity: overdue ? 'critical' : 'warning',
      due: review.due,
    });
  }
  const report = await service.acceptance();
  if (report.totals.notAccepted > 0) {
    const n = report.totals.notAccepted;
    items.push({
      id: `policy-not-accepted-${report.version.number}`,
      kind: 'policy.not-accepted',
      title: `${n} ${n === 1 ? 'person has' : 'people have'} not accepted version ${report.version.number}`,
      detail: `${report.totals.accepted} of ${report.totals.inScope} people in scope (${report.totals.percent}%) have read and accepted the policy in force. See who has not, and send them a reminder.`,
      clauseIds: ['GOV-5'],
      href: '/policy?tab=acceptance',
      action: 'See who has not',
      severity: 'info',
      count: n,
    });
  }
  return items;
};
