// Mail gateway decisions that depend only on the pack: which content rules apply, attachments
// (SYS-7, SYS-8), personal use (MAIL-1, PER-2), recipient counts (MAIL-2).
import type { AttachmentAction, CompiledPolicy, MailAction, MailRuleDef } from '../compiled.ts';
import { extensionOf } from './web.ts';

export type Direction = 'outbound' | 'inbound';

/** The content rules that apply to mail in this direction, in pack order. */
export function mailRulesFor(policy: CompiledPolicy, direction: Direction): MailRuleDef[] {
  return policy.mail.rules.filter((r) => r.direction === direction || r.direction === 'both');
}

const ACTION_ORDER: readonly MailAction[] = ['allow', 'tag', 'warn-sender', 'hold', 'reject'];

/** The strongest of several actions (reject > hold > warn-sender > tag > allow). */
export function strongestAction(actions: Iterable<MailAction>): MailAction {
  let best: MailAction = 'allow';
  for (const action of actions) {
    if (ACTION_ORDER.indexOf(action) > ACTION_ORDER.indexOf(best)) best = action;
  }
  return best;
}

export interface AttachmentFacts {
  readonly fileName: string;
  /** The gateway found an encrypted archive it cannot look inside. */
  readonly encryptedArchive?: boolean;
}

export interface AttachmentVerdict {
  readonly action: AttachmentAction;
  readonly reason: 'executable' | 'script' | 'encrypted-archive' | null;
  readonly clauseIds: readonly string[];
}

/** What the gateway does with one attachment, by its name and what it found inside. */
export function attachmentVerdict(
  policy: CompiledPolicy,
  direction: Direction,
  facts: AttachmentFacts,
): AttachmentVerdict {
  const { attachments } = policy.mail;
  const actions = attachments[direction];
  const ext = extensionOf(facts.fileName);
  const found: AttachmentVerdict[] = [];
  if (ext !== null && attachments.executables.has(ext)) {
    found.push({
      action: actions.executables,
      reason: 'executable',
      clauseIds: attachments.clauseIds,
    });
  }
  if (ext !== null && attachments.scripts.has(ext)) {
    found.push({ action: actions.scripts, reason: 'script', clauseIds: attachments.clauseIds });
  }
  if (facts.encryptedArchive) {
    found.push({
      action: actions.encryptedArchives,
      reason: 'encrypted-archive',
      clauseIds: attachments.clauseIds,
    });
  }
  const order: readonly AttachmentAction[] = ['allow', 'hold', 'reject'];
  const worst = found
    .filter((v) => v.action !== 'allow')
    .sort((a, b) => order.indexOf(b.action) - order.indexOf(a.action))[0];
  return worst ?? { action: 'allow', reason: null, clauseIds: [] };
}

/** Whether a person may send personal e-mail (MAIL-1, PER-2). */
export function personalUseAllowed(
  policy: CompiledPolicy,
  hasAuthorisation: boolean,
): { readonly allowed: boolean; readonly clauseIds: readonly string[] } {
  const { personalUse } = policy.mail;
  return {
    allowed: personalUse.default === 'incidental-allowed' || hasAuthorisation,
    clauseIds: personalUse.clauseIds,
  };
}

/** Whether an address is outside the school's own mail domains (subdomains count as inside). */
export function isExternalAddress(policy: CompiledPolicy, address: string): boolean {
  const at = address.lastIndexOf('@');
  const domain = address
    .slice(at + 1)
    .trim()
    .toLowerCase()
    .replace(/\.$/, '');
  if (at < 0 || domain === '') return true;
  return !policy.mail.domains.some((d) => domain === d || domain.endsWith(`.${d}`));
}

/** The MAIL-2 warning for a message's recipient list, or null when none is due. */
export function recipientWarning(
  policy: CompiledPolicy,
  recipients: readonly string[],
): {
  readonly action: MailAction;
  readonly clauseIds: readonly string[];
  readonly why: 'count' | 'all-staff-list';
} | null {
  const rule = policy.mail.recipientThreshold;
  const distinct = new Set(recipients.map((r) => r.trim().toLowerCase()));
  const lists = new Set(rule.allStaffAddresses.map((a) => a.toLowerCase()));
  if ([...distinct].some((r) => lists.has(r))) {
    return { action: rule.action, clauseIds: rule.clauseIds, why: 'all-staff-list' };
  }
  if (distinct.size > rule.max)
    return { action: rule.action, clauseIds: rule.clauseIds, why: 'count' };
  return null;
}
