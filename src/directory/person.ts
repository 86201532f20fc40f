// A person record: its shapes, how input is checked and normalised against the policy, and how
// two versions compare. Shared by the directory service and the CSV import.
import type { CompiledPolicy } from '../policy/compiled.ts';
import { AppError } from '../shared/errors.ts';
import { fromBool, toBool } from '../store/columns.ts';
import type { PersonRow } from './repository.ts';
import {
  groupNameProblem,
  isFormulaLike,
  isValidEmail,
  kindIds,
  MAX_CELL_LENGTH,
  nameProblem,
  normaliseEmail,
  PERSON_STATUSES,
  type PersonStatus,
  parseDate,
  resolveKind,
  resolveRole,
  roleIds,
  sortedUnique,
} from './rules.ts';

export interface PersonInput {
  email: string;
  givenName: string;
  familyName: string;
  /** A person kind id from the policy pack (SCP-1). */
  kind: string;
  staffId?: string | null;
  /** Group names; missing groups are created. */
  groups?: string[];
  /** Role ids from the policy pack. */
  roles?: string[];
  startDate?: string | null; // YYYY-MM-DD
  leaveDate?: string | null; // YYYY-MM-DD
  status?: PersonStatus;
  /** PWD-6: may use terminals only under supervision. */
  supervisedUse?: boolean;
}

export interface Person {
  id: string;
  staffId: string | null;
  email: string;
  givenName: string;
  familyName: string;
  kind: string;
  status: PersonStatus;
  startDate: string | null;
  leaveDate: string | null;
  supervisedUse: boolean;
  groups: string[];
  roles: string[];
  createdAt: string;
  updatedAt: string;
}

export interface NormalisedPerson {
  staffId: string | null;
  email: string;
  givenName: string;
  familyName: string;
  kind: string;
  status: PersonStatus;
  startDate: string | null;
  leaveDate: string | null;
  supervisedUse: boolean;
  groups: string[];
  roles: string[];
}

export const PERSON_FIELDS = [
  'staffId',
  'email',
  'givenName',
  'familyName',
  'kind',
  'status',
  'startDate',
  'leaveDate',
  'supervisedUse',
  'groups',
  'roles',
] as const satisfies readonly (keyof NormalisedPerson)[];

export function toPerson(row: PersonRow, groups: string[], roles: string[]): Person {
  return {
    id: row.id,
    staffId: row.staff_id,
    email: row.email,
    givenName: row.given_name,
    familyName: row.family_name,
    kind: row.kind,
    status: row.status as PersonStatus,
    startDate: row.start_date,
    leaveDate: row.leave_date,
    supervisedUse: fromBool(row.supervised_use),
    groups,
    roles,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function personColumns(p: NormalisedPerson) {
  return {
    staff_id: p.staffId,
    email: p.email,
    given_name: p.givenName,
    family_name: p.familyName,
    kind: p.kind,
    status: p.status,
    start_date: p.startDate,
    leave_date: p.leaveDate,
    supervised_use: toBool(p.supervisedUse),
  };
}

export const sameList = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((v, i) => v === b[i]);

/** The fields that differ, with their values before and after. */
export function changesBetween(
  before: NormalisedPerson,
  after: NormalisedPerson,
): Record<string, { from: unknown; to: unknown }> {
  const out: Record<string, { from: unknown; to: unknown }> = {};
  for (const field of PERSON_FIELDS) {
    const a = before[field];
    const b = after[field];
    const same = Array.isArray(a) && Array.isArray(b) ? sameList(a, b) : a === b;
    if (!same) out[field] = { from: a, to: b };
  }
  return out;
}

/** The policy clauses a person change touches: SCP-1 (kind), PWD-6 (supervised use), PWD-8. */
export function clausesFor(
  after: NormalisedPerson,
  changed: Record<string, unknown> | 'created',
): string[] {
  const out: string[] = [];
  if (changed === 'created' || 'kind' in changed) out.push('SCP-1');
  if (changed === 'created' ? after.supervisedUse : 'supervisedUse' in changed) out.push('PWD-6');
  if (
    changed === 'created'
      ? after.status === 'left' || after.leaveDate !== null
      : ('status' in changed && after.status === 'left') || 'leaveDate' in changed
  )
    out.push('PWD-8');
  return out;
}

interface Problem {
  field: string;
  message: string;
}

/** Checks and normalises a complete input against the policy; throws validation_failed. */
export function normaliseInput(input: PersonInput, policy: CompiledPolicy): NormalisedPerson {
  const problems: Problem[] = [];
  const email = normaliseEmail(input.email ?? '');
  if (!isValidEmail(email) || isFormulaLike(email))
    problems.push({ field: 'email', message: `"${input.email}" is not an e-mail address` });
  const givenName = (input.givenName ?? '').trim();
  const familyName = (input.familyName ?? '').trim();
  const givenProblem = nameProblem(givenName);
  if (givenProblem)
    problems.push({ field: 'givenName', message: `the given name ${givenProblem}` });
  const familyProblem = nameProblem(familyName);
  if (familyProblem)
    problems.push({ field: 'familyName', message: `the family name ${familyProblem}` });
  const kind = resolveKind(policy, input.kind ?? '');
  if (!kind)
    problems.push({
      field: 'kind',
      message: `"${input.kind}" is not a person kind in the policy; use one of: ${kindIds(policy).join(', ')}`,
    });
  const staffId = input.staffId?.trim() || null;
  if (staffId && (staffId.length > MAX_CELL_LENGTH || isFormulaLike(staffId)))
    problems.push({
      field: 'staffId',
      message: 'the staff id is too long or starts with a formula character (=, +, -, @)',
    });
  const roles: string[] = [];
  for (const value of input.roles ?? []) {
    const role = resolveRole(policy, value);
    if (role) roles.push(role);
    else
      problems.push({
        field: 'roles',
        message: `"${value}" is not a role in the policy; use one of: ${roleIds(policy).join(', ')}`,
      });
  }
  const groups: string[] = [];
  for (const value of input.groups ?? []) {
    const name = value.trim();
    const problem = groupNameProblem(name);
    if (problem) problems.push({ field: 'groups', message: `"${value}": ${problem}` });
    else groups.push(name);
  }
  const dates: Record<'startDate' | 'leaveDate', string | null> = {
    startDate: null,
    leaveDate: null,
  };
  for (const field of ['startDate', 'leaveDate'] as const) {
    const value = input[field]?.trim();
    if (!value) continue;
    const parsed = parseDate(value, false);
    if (parsed) dates[field] = parsed;
    else problems.push({ field, message: `"${value}" is not a date as YYYY-MM-DD` });
  }
  if (dates.startDate && dates.leaveDate && dates.leaveDate < dates.startDate)
    problems.push({
      field: 'leaveDate',
      message: `the leaving date ${dates.leaveDate} is before the start date ${dates.startDate}`,
    });
  const status = input.status ?? 'active';
  if (!PERSON_STATUSES.includes(status))
    problems.push({
      field: 'status',
      message: `"${status}" is not a status; use one of: ${PERSON_STATUSES.join(', ')}`,
    });
  if (problems.length) {
    throw new AppError(
      'validation_failed',
      `The person cannot be saved: ${problems.map((p) => `${p.field}: ${p.message}`).join('; ')}.`,
      problems,
    );
  }
  return {
    staffId,
    email,
    givenName,
    familyName,
    kind: kind!,
    status,
    startDate: dates.startDate,
    leaveDate: dates.leaveDate,
    supervisedUse: input.supervisedUse ?? false,
    groups: sortedUnique(groups),
    roles: sortedUnique(roles),
  };
}

export const normalisedOf = (p: Person): NormalisedPerson => ({
  staffId: p.staffId,
  email: p.email,
  givenName: p.givenName,
  familyName: p.familyName,
  kind: p.kind,
  status: p.status,
  startDate: p.startDate,
  leaveDate: p.leaveDate,
  supervisedUse: p.supervisedUse,
  groups: p.groups,
  roles: p.roles,
});
