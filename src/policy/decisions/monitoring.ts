// Monitoring decisions (MON-1..MON-5, WEB-6, WEB-8): valid purposes and grounds, who opens which
// cases, what content access needs, and whether a message is marked Private or Personal.
import type { ClauseRefs, CompiledPolicy, Purpose } from '../compiled.ts';

export type CaseKind = 'mail' | 'web';

/** The MON-1 purpose with this id, or undefined: a case must name one. */
export const purposeFor = (policy: CompiledPolicy, id: string): Purpose | undefined =>
  policy.monitoring.purposes.get(id);

/** The MON-4 ground with this id, or undefined: opening content must name one. */
export const contentGroundFor = (policy: CompiledPolicy, id: string): Purpose | undefined =>
  policy.monitoring.contentGrounds.get(id);

/** The WEB-6 ground with this id, or undefined. */
export const webGroundFor = (policy: CompiledPolicy, id: string): Purpose | undefined =>
  policy.monitoring.webGrounds.get(id);

/** Whether someone holding these roles may open a case of this kind (MON-5: SBM; WEB-8: IT). */
export function canOpenCase(
  policy: CompiledPolicy,
  kind: CaseKind,
  roles: Iterable<string>,
): boolean {
  const openers = (kind === 'mail' ? policy.monitoring.mailCases : policy.monitoring.webCases)
    .openedBy;
  for (const role of roles) if (openers.includes(role)) return true;
  return false;
}

/** What a grant of access to content needs (MON-5). */
export function contentAccessRule(policy: CompiledPolicy): {
  readonly approverRoles: readonly string[];
  /** Distinct people who must approve: 1, or 2 when the pack asks for a second approver. */
  readonly approvalsNeeded: 1 | 2;
  readonly grantHours: number;
  readonly clauseIds: ClauseRefs;
} {
  const rule = policy.monitoring.contentAccess;
  return {
    approverRoles: rule.approvers,
    approvalsNeeded: rule.secondApprover ? 2 : 1,
    grantHours: rule.grantHours,
    clauseIds: rule.clauseIds,
  };
}

export interface MessageMarks {
  /** Header name and value pairs as received; names are matched without regard to case. */
  readonly headers: Iterable<readonly [string, string]>;
  readonly subject: string;
}

/** Whether a message is marked Private or Personal and must be withheld (MON-3). */
export function privateMarking(
  policy: CompiledPolicy,
  message: MessageMarks,
): { readonly marked: boolean; readonly marker: string | null; readonly clauseIds: ClauseRefs } {
  const rule = policy.monitoring.privateMarkers;
  for (const [name, value] of message.headers) {
    const header = rule.headers.find((h) => h.name.toLowerCase() === name.trim().toLowerCase());
    if (header?.values.some((v) => v.toLowerCase() === value.trim().toLowerCase())) {
      return { marked: true, marker: `${header.name}: ${value.trim()}`, clauseIds: rule.clauseIds };
    }
  }
  const subject = message.subject.toLowerCase();
  const marker = rule.subjectMarkers.find((m) => subject.includes(m.toLowerCase()));
  if (marker) return { marked: true, marker, clauseIds: rule.clauseIds };
  return { marked: false, marker: null, clauseIds: rule.clauseIds };
}
