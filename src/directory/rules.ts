// The rules a person record must satisfy, shared by the service (API, CLI) and the CSV import so
// that both accept and refuse exactly the same values. Pure functions: no I/O.
import type { CompiledPolicy } from '../policy/compiled.ts';

export const PERSON_STATUSES = ['active', 'suspended', 'left'] as const;
export type PersonStatus = (typeof PERSON_STATUSES)[number];

export const MAX_CELL_LENGTH = 500;
export const MAX_NAME_LENGTH = 200;
export const MAX_EMAIL_LENGTH = 254;
export const MAX_GROUP_NAME_LENGTH = 100;

export const normaliseEmail = (email: string): string => email.trim().toLowerCase();

// Deliberately plain: one @, no spaces, a dot in the domain. Mail systems are the real judge.
const EMAIL = /^[^\s@"<>(),;:\\[\]]+@[^\s@"<>(),;:\\[\]]+\.[^\s@"<>(),;:\\[\]]+$/;
export const isValidEmail = (email: string): boolean =>
  email.length <= MAX_EMAIL_LENGTH && EMAIL.test(email);

/**
 * True when a spreadsheet would treat the text as a formula (OWASP CSV injection): it starts
 * with =, +, -, @, tab or carriage return. A plain negative number ("-12.5") and a lone "-" are
 * data, not formulas.
 */
export function isFormulaLike(value: string): boolean {
  if (value === '') return false;
  const first = value[0];
  if (first === '=' || first === '+' || first === '@' || first === '\t' || first === '\r')
    return true;
  if (first === '-') return !/^-(\d+([.,]\d+)?)?$/.test(value);
  return false;
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const UK_DATE = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/;

function validDate(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1 || y < 1900 || y > 2200) return false;
  const days = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return d <= days;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** YYYY-MM-DD or DD/MM/YYYY (UK order) to YYYY-MM-DD; null when it is neither or not a date. */
export function parseDate(value: string, allowUk = true): string | null {
  const iso = ISO_DATE.exec(value);
  if (iso) {
    const [y, m, d] = [Number(iso[1]), Number(iso[2]), Number(iso[3])];
    return validDate(y, m, d) ? value : null;
  }
  const uk = allowUk ? UK_DATE.exec(value) : null;
  if (uk) {
    const [d, m, y] = [Number(uk[1]), Number(uk[2]), Number(uk[3])];
    return validDate(y, m, d) ? `${y}-${pad(m)}-${pad(d)}` : null;
  }
  return null;
}

/** The pack's person kind whose id or name matches, case-insensitively (SCP-1). */
export function resolveKind(policy: CompiledPolicy, value: string): string | null {
  const wanted = value.trim().toLowerCase();
  if (policy.personKinds.has(wanted)) return wanted;
  for (const kind of policy.personKinds.values()) {
    if (kind.id.toLowerCase() === wanted || kind.name.toLowerCase() === wanted) return kind.id;
  }
  return null;
}

export function resolveRole(policy: CompiledPolicy, value: string): string | null {
  const wanted = value.trim().toLowerCase();
  if (policy.roles.has(wanted)) return wanted;
  for (const role of policy.roles.values()) {
    if (role.id.toLowerCase() === wanted || role.name.toLowerCase() === wanted) return role.id;
  }
  return null;
}

export const kindIds = (policy: CompiledPolicy): string[] => [...policy.personKinds.keys()];
export const roleIds = (policy: CompiledPolicy): string[] => [...policy.roles.keys()];

export function resolveStatus(value: string): PersonStatus | null {
  const wanted = value.trim().toLowerCase();
  return (PERSON_STATUSES as readonly string[]).includes(wanted) ? (wanted as PersonStatus) : null;
}

const TRUE = new Set(['yes', 'y', 'true', '1']);
const FALSE = new Set(['no', 'n', 'false', '0', '']);
export function parseBoolean(value: string): boolean | null {
  const v = value.trim().toLowerCase();
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  return null;
}

/** Why a group name cannot be used, or null when it can. */
export function groupNameProblem(name: string): string | null {
  if (name === '') return 'a group name cannot be empty';
  if (name.length > MAX_GROUP_NAME_LENGTH)
    return `a group name is at most ${MAX_GROUP_NAME_LENGTH} characters`;
  if (name.includes(';'))
    return 'a group name cannot contain ";" (it separates groups in CSV files)';
  if (isFormulaLike(name)) return 'a group name cannot start with =, +, -, @ or a tab';
  return null;
}

/** Why a name (given or family) cannot be used, or null when it can. */
export function nameProblem(name: string): string | null {
  if (name === '') return 'is empty';
  if (name.length > MAX_NAME_LENGTH) return `is longer than ${MAX_NAME_LENGTH} characters`;
  if (isFormulaLike(name))
    return 'starts with =, +, -, @ or a tab, which spreadsheets run as a formula; formulas are not accepted';
  return null;
}

export const sortedUnique = (values: Iterable<string>): string[] =>
  [...new Set(values)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
