// The published policy as the console reads it: versions with their approval records (GOV-3,
// GOV-4), my acceptance of the version in force (GOV-5), who has and has not accepted, and
// "Needs my attention". See docs/policy-document.md.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api } from './api.ts';

export interface Approval {
  body: string;
  date: string;
  signatory: string | null;
}

export interface PublishedVersion {
  number: number;
  description: string;
  releaseDate: string | null;
  approval: Approval | null;
  note: string | null;
  status: 'current' | 'superseded';
  source: 'pack-history' | 'published';
  packName: string | null;
  packSha256: string | null;
  hasText: boolean;
  publishedAt: string;
  publishedBy: string;
  supersededAt: string | null;
  documentHtml: string;
  documentPdf: string;
}

export interface VersionsPage {
  current: number;
  review: { due: string; state: 'ok' | 'due-soon' | 'overdue'; daysLeft: number } | null;
  myAcceptance: { version: number; acceptedAt: string | null };
  versions: PublishedVersion[];
}

export interface AcceptancePerson {
  personId: string;
  name: string;
  email: string;
  kind: string;
  groups: string[];
  startDate: string | null;
  askedSince: string;
  acceptedAt: string | null;
  lastRemindedAt: string | null;
}

export interface AcceptanceReport {
  version: { number: number; publishedAt: string };
  totals: { inScope: number; accepted: number; notAccepted: number; percent: number };
  groups: string[];
  kinds: { id: string; name: string }[];
  people: AcceptancePerson[];
}

export interface AcceptanceFilter {
  group?: string | null;
  kind?: string | null;
  status?: 'accepted' | 'not-accepted' | null;
}

export interface PublishInput {
  description: string;
  releaseDate: string;
  approval: { body: string; date: string; signatory: string };
  note?: string;
  notify: boolean;
}

export interface AttentionItem {
  id: string;
  kind: string;
  title: string;
  detail: string;
  clauseIds: string[];
  href: string;
  action: string;
  severity: 'info' | 'warning' | 'critical';
  due?: string;
  count?: number;
}

const VERSIONS_KEY = ['policy', 'versions'] as const;

export const useVersions = () =>
  useQuery({ queryKey: VERSIONS_KEY, queryFn: () => api<VersionsPage>('/api/policy/versions') });

export const useAcceptance = (filter: AcceptanceFilter, enabled = true) =>
  useQuery({
    queryKey: ['policy', 'acceptance', filter],
    queryFn: () =>
      api<AcceptanceReport>('/api/policy/acceptance', {
        query: { group: filter.group, kind: filter.kind, status: filter.status },
      }),
    enabled,
  });

export const useAttention = () =>
  useQuery({
    queryKey: ['attention'],
    queryFn: () => api<{ items: AttentionItem[] }>('/api/attention'),
  });

/** After a change: the versions, the acceptance list and Home all read again. */
function useRefresh() {
  const client = useQueryClient();
  return () =>
    Promise.all([
      client.invalidateQueries({ queryKey: ['policy'] }),
      client.invalidateQueries({ queryKey: ['attention'] }),
    ]);
}

export function useAccept() {
  const refresh = useRefresh();
  return useMutation({
    mutationFn: (version: number) =>
      api<{ version: number; acceptedAt: string; alreadyAccepted: boolean }>(
        `/api/policy/versions/${version}/accept`,
        { method: 'POST' },
      ),
    onSuccess: refresh,
  });
}

export function usePublish() {
  const refresh = useRefresh();
  return useMutation({
    mutationFn: (input: PublishInput) =>
      api<PublishedVersion>('/api/policy/versions', { method: 'POST', body: input }),
    onSuccess: refresh,
  });
}

export function useRemind() {
  const refresh = useRefresh();
  return useMutation({
    mutationFn: () =>
      api<{ queued: number; alreadyRemindedToday: number; notificationsEnabled: boolean }>(
        '/api/policy/acceptance/remind',
        { method: 'POST' },
      ),
    onSuccess: refresh,
  });
}
