// The policy in force as the console reads it (GET /api/policy), with the names of person kinds
// (SCP-1) and roles used by the directory screens.
import { useQuery } from '@tanstack/react-query';
import { api } from './api.ts';

export interface Clause {
  id: string;
  title: string;
  text: string;
  section: string;
  parts?: Record<string, string>;
}

export interface PolicyVersion {
  version: number;
  description: string;
  date: string | null;
}

export interface PolicyDocument {
  name: string;
  document: {
    title: string;
    school: string;
    owner: { role: string; name: string };
    reviewIntervalMonths: number;
    nextReviewDue?: string;
    approval: { body: string; date: string; signatory: string | null };
    versions: PolicyVersion[];
  };
  clauses: Clause[];
  /** Person kinds and roles, when the API includes them. */
  personKinds?: { id: string; name: string }[];
  roles?: { id: string; name: string }[];
}

/** SCP-1's kinds, used for names when the API does not list the pack's own. */
const SCP1_KINDS = [
  'employee',
  'worker',
  'temporary_worker',
  'agency_worker',
  'intern',
  'volunteer',
  'apprentice',
  'governor',
  'trustee',
  'consultant',
  'contractor',
];

/** 'agency_worker' -> 'Agency worker'. */
export const humanise = (id: string) => {
  const text = id.replace(/[_-]+/g, ' ').trim();
  return text.charAt(0).toUpperCase() + text.slice(1);
};

export function usePolicy(enabled = true) {
  return useQuery({
    queryKey: ['policy'],
    queryFn: () => api<PolicyDocument>('/api/policy'),
    staleTime: 5 * 60_000,
    enabled,
  });
}

export interface Option {
  value: string;
  label: string;
}

export function kindOptions(policy: PolicyDocument | undefined): Option[] {
  const kinds = policy?.personKinds?.length
    ? policy.personKinds
    : SCP1_KINDS.map((id) => ({ id, name: humanise(id) }));
  return kinds.map((k) => ({ value: k.id, label: k.name }));
}

/** Names of the roles REQUIREMENTS.md uses, for when the API does not list the pack's own. */
const ROLE_NAMES: Record<string, string> = {
  sbm: 'School Business Manager',
  slt: 'Senior Leadership Team',
  it_support: 'IT support',
  dpo: 'Data protection officer',
};

export const roleName = (policy: PolicyDocument | undefined, id: string) =>
  policy?.roles?.find((r) => r.id === id)?.name ?? ROLE_NAMES[id] ?? humanise(id);

export function roleOptions(policy: PolicyDocument | undefined, seen: string[]): Option[] {
  if (policy?.roles?.length) return policy.roles.map((r) => ({ value: r.id, label: r.name }));
  return [...new Set([...Object.keys(ROLE_NAMES), ...seen])]
    .sort()
    .map((id) => ({ value: id, label: roleName(policy, id) }));
}

export const labelOf = (options: Option[], value: string) =>
  options.find((o) => o.value === value)?.label ?? humanise(value);
