// Who approves what (SYS-2, SYS-3, SYS-6, SYS-9, PWD-3, PWD-7, PER-1, WEB-3, WEB-5) and whether a
// set of approvals given so far completes a request.
import type { ClauseRefs, CompiledPolicy } from '../compiled.ts';

export interface ApproverRule {
  /** 'any': one approval from any listed role; 'all': an approval from each listed role. */
  readonly mode: 'any' | 'all';
  readonly roles: readonly string[];
  readonly clauseIds: ClauseRefs;
}

/** The approver rule of a request type, or undefined if the pack has no such type. */
export function approversFor(
  policy: CompiledPolicy,
  requestType: string,
): ApproverRule | undefined {
  const type = policy.approvals.get(requestType);
  if (!type) return undefined;
  return { mode: type.approvers.mode, roles: type.approvers.roles, clauseIds: type.clauseIds };
}

/** Whether a person holding these roles may approve this type of request. */
export function canApprove(
  policy: CompiledPolicy,
  requestType: string,
  roles: Iterable<string>,
): boolean {
  const rule = approversFor(policy, requestType);
  if (!rule) return false;
  for (const role of roles) if (rule.roles.includes(role)) return true;
  return false;
}

export interface GivenApproval {
  readonly personId: string;
  /** The roles the approver held when approving. */
  readonly roles: readonly string[];
}

export interface ApprovalOutcome {
  readonly complete: boolean;
  /** Roles whose approval is still needed (for 'any', all listed roles until one approves). */
  readonly missingRoles: readonly string[];
  readonly clauseIds: ClauseRefs;
}

/**
 * Whether the approvals given complete the request. The requester's own approval never counts,
 * one person's approval counts once, and under 'all' each role needs a different person (WEB-5:
 * the Headteacher and the School Business Manager are two approvals, not one).
 */
export function approvalOutcome(
  policy: CompiledPolicy,
  requestType: string,
  approvals: readonly GivenApproval[],
  requesterId?: string,
): ApprovalOutcome | undefined {
  const rule = approversFor(policy, requestType);
  if (!rule) return undefined;
  const byPerson = new Map<string, Set<string>>();
  for (const approval of approvals) {
    if (approval.personId === requesterId) continue;
    const roles = byPerson.get(approval.personId) ?? new Set<string>();
    for (const role of approval.roles) if (rule.roles.includes(role)) roles.add(role);
    byPerson.set(approval.personId, roles);
  }
  if (rule.mode === 'any') {
    const complete = [...byPerson.values()].some((roles) => roles.size > 0);
    return { complete, missingRoles: complete ? [] : [...rule.roles], clauseIds: rule.clauseIds };
  }
  // Match each required role to a distinct approver (augmenting paths; the lists are tiny).
  const holderOf = new Map<string, string>(); // role -> person
  const roleOf = new Map<string, string>(); // person -> role
  const tryRole = (role: string, seen: Set<string>): boolean => {
    for (const [person, roles] of byPerson) {
      if (!roles.has(role) || seen.has(person)) continue;
      seen.add(person);
      const taken = roleOf.get(person);
      if (taken === undefined || tryRole(taken, seen)) {
        holderOf.set(role, person);
        roleOf.set(person, role);
        return true;
      }
    }
    return false;
  };
  for (const role of rule.roles) tryRole(role, new Set());
  const missingRoles = rule.roles.filter((role) => !holderOf.has(role));
  return { complete: missingRoles.length === 0, missingRoles, clauseIds: rule.clauseIds };
}
