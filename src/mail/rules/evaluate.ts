// The mail content rules: the pack's rules (word-list, pattern, personal-data,
// recipient-threshold, attachment-type) and the built-in checks (MAIL-11 From address, SYS-7/SYS-8
// attachment policy), evaluated on one message. Pure: the caller supplies what the relay knows
// (direction, envelope, who signed in, their shared mailboxes) and what the MIME walk found; the
// answer is one verdict per rule that matched. An externalOnly rule applies when at least one
// envelope recipient (Bcc included) is outside the school's domains and their subdomains, so it
// never applies to inbound mail. Rules are compiled once per policy and cached by the policy
// object, so a new pack takes effect on the next message.
import type { MailPolicy, MailRuleDef } from '../../policy/compiled.ts';
import type { Direction, Inspection, MailAction, Verdict } from '../types.ts';
import { addressesIn, addressOf, createDomainTest } from './addresses.ts';
import {
  attachmentPolicyVerdicts,
  attachmentsOfType,
  describeAttachment,
  nameExtension,
} from './attachments.ts';
import { CompiledPatterns, limitForPatterns, PATTERN_TEXT_LIMIT, patternText } from './patterns.ts';
import { DETECTOR_NAMES, type Detector, detectPersonalData } from './personal-data.ts';
import { type Tokens, tokenise, WordList } from './words.ts';

/** What the relay knows about one message, besides its content. */
export interface RuleInput {
  readonly direction: Direction;
  /** MAIL FROM, or null for the null sender (<>). */
  readonly envelopeSender: string | null;
  /** RCPT TO, in the order given. */
  readonly envelopeRecipients: readonly string[];
  /** Outbound: the signed-in sender's own address; null when nobody signed in. */
  readonly authenticatedAddress: string | null;
  /** Outbound: the shared mailboxes the signed-in sender may send as (from the directory). */
  readonly sharedMailboxes: readonly string[];
  readonly inspection: Inspection;
}

/** MAIL-11: the pack has no setting for it yet, so a forged From is held for review. */
export const FROM_ADDRESS_ACTION: MailAction = 'hold';
export const FROM_ADDRESS_CLAUSES: readonly string[] = ['MAIL-11'];

type CompiledRule =
  | { readonly def: MailRuleDef & { kind: 'word-list' }; readonly words: WordList }
  | { readonly def: MailRuleDef & { kind: 'pattern' }; readonly patterns: CompiledPatterns }
  | { readonly def: MailRuleDef & { kind: 'personal-data' }; readonly detectors: Detector[] }
  | { readonly def: MailRuleDef & { kind: 'recipient-threshold' } }
  | { readonly def: MailRuleDef & { kind: 'attachment-type' }; readonly extensions: Set<string> };

export interface CompiledMailRules {
  readonly rules: readonly CompiledRule[];
  readonly isInternal: (address: string) => boolean;
  readonly allStaff: ReadonlySet<string>;
  /** The section's MAIL-2 threshold applies only when the pack has no recipient-threshold rule. */
  readonly sectionThreshold: boolean;
  /** Patterns left out because they risk runaway backtracking (see backtrackingRisk). */
  readonly refusedPatterns: readonly {
    readonly rule: string;
    readonly pattern: string;
    readonly reason: string;
  }[];
}

const cache = new WeakMap<MailPolicy, CompiledMailRules>();

type RefusedPattern = CompiledMailRules['refusedPatterns'][number];

function compileRule(def: MailRuleDef, refused: RefusedPattern[]): CompiledRule {
  switch (def.kind) {
    case 'word-list':
      return { def, words: new WordList(def.words) };
    case 'pattern': {
      const patterns = new CompiledPatterns(def.patterns);
      for (const r of patterns.refused) refused.push({ rule: def.id, ...r });
      return { def, patterns };
    }
    case 'personal-data':
      return { def, detectors: [...def.detectors] as Detector[] };
    case 'recipient-threshold':
      return { def };
    case 'attachment-type':
      return { def, extensions: new Set(def.extensions.map((e) => e.toLowerCase())) };
  }
}

/** The mail section's rules ready to run; built once per policy object. */
export function compileMailRules(mail: MailPolicy): CompiledMailRules {
  const cached = cache.get(mail);
  if (cached) return cached;
  const refusedPatterns: RefusedPattern[] = [];
  const compiled: CompiledMailRules = {
    rules: mail.rules.map((def) => compileRule(def, refusedPatterns)),
    isInternal: createDomainTest(mail.domains),
    allStaff: new Set(mail.recipientThreshold.allStaffAddresses.map((a) => a.toLowerCase())),
    sectionThreshold: !mail.rules.some((r) => r.kind === 'recipient-threshold'),
    refusedPatterns,
  };
  cache.set(mail, compiled);
  return compiled;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
/** Verdict reasons are phrases that follow "because" or "under MAIL-5:": no capital, no full stop. */
const phrase = (text: string) =>
  text
    .trim()
    .replace(/[.\s]+$/, '')
    .replace(/^\p{Lu}(?=\p{Ll})/u, (c) => c.toLowerCase());

function listInWords(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

function verdictOf(def: MailRuleDef, reason: string, details: Record<string, unknown>): Verdict {
  return {
    rule: def.id,
    action: def.action,
    clauseIds: def.clauseIds,
    reason,
    details,
    ...(def.notify.length > 0 ? { notify: def.notify } : {}),
  };
}

/** The message's distinct recipients: the envelope's, or the header's when it has none. */
function recipientsOf(input: RuleInput): string[] {
  const envelope = input.envelopeRecipients.flatMap((r) => addressesIn(r));
  const found =
    envelope.length > 0
      ? envelope
      : [...input.inspection.to, ...input.inspection.cc].flatMap((r) => addressesIn(r));
  return [...new Set(found)];
}

/** Everything derived from the message once, on first use, for all rules. */
class MessageView {
  private tokens?: Tokens;
  private patterns?: string;
  private limited?: string;
  readonly recipients: string[];
  readonly external: boolean;

  constructor(
    readonly input: RuleInput,
    compiled: CompiledMailRules,
  ) {
    this.recipients = recipientsOf(input);
    this.external = this.recipients.some((r) => !compiled.isInternal(r));
  }

  wordTokens(): Tokens {
    this.tokens ??= tokenise(`${this.input.inspection.subject}\n${this.input.inspection.text}`);
    return this.tokens;
  }

  /** Subject and text with white space runs made one space. */
  normalisedText(): string {
    this.patterns ??= patternText(this.input.inspection.subject, this.input.inspection.text);
    return this.patterns;
  }

  patternInput(): string {
    this.limited ??= limitForPatterns(this.normalisedText());
    return this.limited;
  }
}

function wordListVerdict(rule: { def: MailRuleDef; words: WordList }, view: MessageView) {
  const found = rule.words.count(view.wordTokens());
  if (found.size === 0) return null;
  const words: Record<string, number> = {};
  let matches = 0;
  for (const [index, n] of found) {
    words[rule.words.entries[index]!] = n;
    matches += n;
  }
  const listed = Object.entries(words).map(([w, n]) => (n === 1 ? w : `${w} (${n} times)`));
  return verdictOf(rule.def, `contains ${plural(matches, 'listed word')}: ${listInWords(listed)}`, {
    matches,
    words,
  });
}

function patternVerdict(rule: { def: MailRuleDef; patterns: CompiledPatterns }, view: MessageView) {
  const matched = rule.patterns.count(view.patternInput());
  if (matched.length === 0) return null;
  const matches = matched.reduce((sum, m) => sum + m.matches, 0);
  return verdictOf(
    rule.def,
    `${phrase(rule.def.description)}: ${plural(matches, 'matching phrase')}`,
    {
      matches,
      patterns: matched,
      ...(view.normalisedText().length > PATTERN_TEXT_LIMIT
        ? { readCharacters: PATTERN_TEXT_LIMIT }
        : {}),
    },
  );
}

function personalDataVerdict(rule: { def: MailRuleDef; detectors: Detector[] }, view: MessageView) {
  const counts = detectPersonalData(view.normalisedText(), rule.detectors);
  const found = Object.entries(counts) as [Detector, number][];
  if (found.length === 0) return null;
  const total = found.reduce((sum, [, n]) => sum + n, 0);
  const list = listInWords(found.map(([d, n]) => `${n} ${DETECTOR_NAMES[d][n === 1 ? 0 : 1]}`));
  const where = view.external ? ' to an outside address' : '';
  return verdictOf(rule.def, `${list}${where}`, {
    total,
    counts,
  });
}

interface RecipientFinding {
  readonly reason: string;
  readonly details: Record<string, unknown>;
}

function recipientFinding(
  view: MessageView,
  threshold: number,
  compiled: CompiledMailRules,
): RecipientFinding | null {
  const { inspection } = view.input;
  const headerRecipients = [...inspection.to, ...inspection.cc].flatMap((r) => addressesIn(r));
  const allStaff = [...new Set([...view.recipients, ...headerRecipients])].filter((r) =>
    compiled.allStaff.has(r),
  );
  const count = view.recipients.length;
  const over = count > threshold;
  if (!over && allStaff.length === 0) return null;
  const parts: string[] = [];
  if (over) parts.push(`${count} recipients, more than the limit of ${threshold}`);
  if (allStaff.length > 0) parts.push(`sent to the all-staff address ${allStaff.join(', ')}`);
  const reason = parts.join(', and ');
  return { reason, details: { recipients: count, threshold, allStaff } };
}

function attachmentTypeVerdict(
  rule: { def: MailRuleDef; extensions: Set<string> },
  view: MessageView,
) {
  const found = attachmentsOfType(view.input.inspection.attachments, rule.extensions);
  if (found.length === 0) return null;
  const first = describeAttachment(found[0]!, 'a listed type');
  const more = found.length > 1 ? ` (and ${plural(found.length - 1, 'other attachment')})` : '';
  return verdictOf(rule.def, `${first}${more}: ${phrase(rule.def.description)}`, {
    count: found.length,
    files: found.slice(0, 20).map((a) => ({
      name: a.name,
      path: a.path,
      extension: a.extension ?? nameExtension(a.name),
    })),
  });
}

/**
 * MAIL-11: an outbound From must be the signed-in sender or one of their shared mailboxes. Mail
 * that arrives from the school mail service's trusted connector carries no sign-in here: the
 * service has checked who may send as whom already (Microsoft 365 "Send As", Google "Send mail
 * as"), so only mail sent with SMTP AUTH to the gateway itself is checked.
 */
export function fromAddressVerdict(input: RuleInput): Verdict | null {
  if (input.direction !== 'outbound') return null;
  const own = addressOf(input.authenticatedAddress);
  if (own === null) return null;
  const from = addressesIn(input.inspection.from);
  const allowed = new Set(
    [own, ...input.sharedMailboxes.map(addressOf)].filter((a): a is string => a !== null),
  );
  let reason: string | null = null;
  if (from.length === 0) {
    reason = 'the message has no From address';
  } else {
    const foreign = from.filter((a) => !allowed.has(a));
    if (foreign.length > 0) {
      reason = `the From address ${foreign.join(', ')} is not the sender's own address (${own}) or a shared mailbox they may send from`;
    }
  }
  if (reason === null) return null;
  return {
    rule: 'from-address',
    action: FROM_ADDRESS_ACTION,
    clauseIds: FROM_ADDRESS_CLAUSES,
    reason,
    details: { from, authenticated: own, sharedMailboxes: input.sharedMailboxes.length },
  };
}

function applies(def: MailRuleDef, view: MessageView): boolean {
  if (def.direction !== 'both' && def.direction !== view.input.direction) return false;
  return !def.externalOnly || view.external;
}

/**
 * Every rule that matches the message, as verdicts: the pack's rules in their order, then the
 * section's MAIL-2 threshold (only when the pack has no recipient-threshold rule, outbound),
 * MAIL-11 (outbound) and the attachment policy.
 */
export function evaluateRules(input: RuleInput, policy: { readonly mail: MailPolicy }): Verdict[] {
  const compiled = compileMailRules(policy.mail);
  const view = new MessageView(input, compiled);
  const verdicts: Verdict[] = [];
  for (const rule of compiled.rules) {
    if (!applies(rule.def, view)) continue;
    let verdict: Verdict | null = null;
    if ('words' in rule) verdict = wordListVerdict(rule, view);
    else if ('patterns' in rule) verdict = patternVerdict(rule, view);
    else if ('detectors' in rule) verdict = personalDataVerdict(rule, view);
    else if ('extensions' in rule) verdict = attachmentTypeVerdict(rule, view);
    else if (rule.def.kind === 'recipient-threshold') {
      const found = recipientFinding(view, rule.def.threshold, compiled);
      if (found) verdict = verdictOf(rule.def, found.reason, found.details);
    }
    if (verdict) verdicts.push(verdict);
  }
  const section = policy.mail.recipientThreshold;
  if (compiled.sectionThreshold && input.direction === 'outbound') {
    const found = recipientFinding(view, section.max, compiled);
    if (found) {
      verdicts.push({
        rule: 'recipient-threshold',
        action: section.action,
        clauseIds: section.clauseIds,
        reason: found.reason,
        details: found.details,
      });
    }
  }
  const from = fromAddressVerdict(input);
  if (from) verdicts.push(from);
  verdicts.push(
    ...attachmentPolicyVerdicts(input.inspection.attachments, input.direction, policy.mail),
  );
  return verdicts;
}
