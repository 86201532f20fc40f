// How verdicts and attachments are shown to a person: the rule in words, the clauses with their
// titles, what an attachment really is. Shared by the quarantine, the activity and "test a
// message"; pure.
import type { CompiledPolicy } from '../policy/compiled.ts';
import { describeAttachment, isDisguised } from './rules/index.ts';
import type { AttachmentView, VerdictView } from './schema.ts';
import type { AttachmentInfo, Verdict } from './types.ts';

/** The checks the gateway makes whatever the pack says, in words. */
export const BUILT_IN_RULES: Readonly<Record<string, string>> = {
  virus: 'Virus found',
  'virus-scan-error': 'Could not be scanned for viruses',
  'virus-scan-skipped': 'Passed without a virus scan',
  limits: 'Could not be checked completely',
  'attachment-type': 'Program, script or macro',
  'encrypted-archive': 'Encrypted archive',
  'from-address': "From address not the sender's own",
  'recipient-threshold': 'Many recipients',
  malformed: 'Malformed message',
  private: 'Marked Private',
};

/** "personal-data-external" → "Personal data external". */
const humanise = (id: string) => {
  const words = id.replace(/[-_]+/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
};

export function ruleName(policy: CompiledPolicy, rule: string): string {
  const own = policy.mail.rules.find((r) => r.id === rule);
  if (own) return humanise(own.id);
  return BUILT_IN_RULES[rule] ?? humanise(rule);
}

export const clauseTitle = (policy: CompiledPolicy, id: string): string | null =>
  (policy.clauses.get(id) ?? policy.clauses.get(id.replace(/\(.*$/, '')))?.title ?? null;

export const clauseRefs = (policy: CompiledPolicy, ids: readonly string[]) =>
  ids.map((id) => ({ id, title: clauseTitle(policy, id) }));

export function verdictView(policy: CompiledPolicy, v: Verdict): VerdictView {
  return {
    rule: v.rule,
    name: ruleName(policy, v.rule),
    action: v.action,
    reason: v.reason,
    clauses: clauseRefs(policy, v.clauseIds),
  };
}

/**
 * An attachment as a person reads it. `withholdName` (a Private message, MON-3): the name the
 * sender gave is left out, and so is the sentence that would repeat it.
 */
export function attachmentView(a: AttachmentInfo, withholdName = false): AttachmentView {
  const fallback = a.detectedType ? `a file of type ${a.detectedType}` : 'a file';
  return {
    path: a.path,
    name: withholdName ? null : a.name,
    declaredType: a.declaredType,
    detectedType: a.detectedType,
    extension: a.extension,
    size: a.size,
    executable: a.executable,
    script: a.script,
    macro: a.macro,
    encrypted: a.encrypted,
    depth: a.depth,
    disguised: isDisguised(a),
    description: withholdName ? null : describeAttachment(a, fallback),
  };
}
