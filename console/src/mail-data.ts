// The mail gateway as the console reads it from /api/mail: the messages held for review (never
// their body, MON-2), the activity in aggregate, the answer to "test a message" and the mail
// rules in force. The shapes follow src/mail/schema.ts.
import { useQuery } from '@tanstack/react-query';
import { api } from './api.ts';

export type Direction = 'inbound' | 'outbound';
export type MailAction = 'allow' | 'tag' | 'warn-sender' | 'hold' | 'reject';

export interface ClauseRef {
  id: string;
  title: string | null;
}

export interface Verdict {
  rule: string;
  name: string;
  action: MailAction;
  reason: string;
  clauses: ClauseRef[];
}

export interface Attachment {
  path: string;
  /** Null when the sender gave none, or withheld for a Private message (MON-3). */
  name: string | null;
  declaredType: string | null;
  detectedType: string | null;
  extension: string | null;
  size: number;
  executable: boolean;
  script: boolean;
  macro: boolean;
  encrypted: boolean;
  depth: number;
  disguised: boolean;
  description: string | null;
}

export interface HeldMessage {
  id: string;
  receivedAt: string;
  direction: Direction;
  sender: string;
  headerFrom: string | null;
  recipients: string[];
  /** Null when the message is marked Private or Personal (MON-3). */
  subject: string | null;
  private: boolean;
  size: number;
  attachments: Attachment[];
  action: MailAction;
  verdicts: Verdict[];
}

export interface DecisionResult {
  id: string;
  status: 'released' | 'deleted';
  senderTold: boolean;
  nextHopReply: string | null;
}

export interface Outcomes {
  delivered: number;
  held: number;
  released: number;
  deleted: number;
  rejected: number;
  failed: number;
}

export interface MailActivity {
  from: string;
  to: string;
  total: { messages: number; inbound: number; outbound: number };
  byDay: ({ day: string; direction: Direction; messages: number } & Outcomes)[];
  byRule: {
    rule: string;
    name: string;
    action: MailAction;
    clauseIds: string[];
    messages: number;
  }[];
  byRuleDay: { day: string; rule: string; messages: number }[];
  heldNow: number;
}

export interface TestResult {
  direction: Direction;
  directionGuessed: boolean;
  sender: string | null;
  recipients: string[];
  subject: string;
  private: boolean;
  size: number;
  action: MailAction;
  outcome: string;
  verdicts: Verdict[];
  attachments: Attachment[];
  problems: { code: string; message: string }[];
  scan: {
    status: 'clean' | 'infected' | 'error' | 'unavailable';
    scanner: string;
    version: string | null;
    detail: string;
  };
}

export interface AttachmentActions {
  executables: string;
  scripts: string;
  encryptedArchives: string;
}

export interface MailRules {
  domains: string[];
  personalUse: { default: string; clauses: ClauseRef[] };
  disclaimer: { text: string; clauses: ClauseRef[] };
  recipientThreshold: {
    max: number;
    allStaffAddresses: string[];
    action: MailAction;
    clauses: ClauseRef[];
  };
  attachments: {
    executables: string[];
    scripts: string[];
    inbound: AttachmentActions;
    outbound: AttachmentActions;
    clauses: ClauseRef[];
  };
  virusDetected: { notify: string[]; clauses: ClauseRef[] };
  rules: {
    id: string;
    description: string;
    kind: string;
    direction: Direction | 'both';
    externalOnly: boolean;
    action: MailAction;
    notify: string[];
    clauses: ClauseRef[];
    matches: string[];
    threshold: number | null;
  }[];
  builtIn: { rule: string; name: string; what: string; clauses: ClauseRef[] }[];
}

/** What each action means, as a badge says it. */
export const ACTION_LABEL: Record<MailAction, string> = {
  allow: 'Allowed',
  tag: 'Tagged',
  'warn-sender': 'Sender warned',
  hold: 'Held',
  reject: 'Refused',
};

/** Filled badge colours: white text on each meets WCAG AA contrast. */
export const ACTION_COLOUR: Record<MailAction, string> = {
  allow: '#1e6b32',
  tag: '#495057',
  'warn-sender': '#6b5900',
  hold: '#8a4b00',
  reject: '#a51d1d',
};

export const DIRECTION_LABEL: Record<Direction, string> = {
  inbound: 'Inbound',
  outbound: 'Outbound',
};

/** The anchor of a clause on the policy page: MIS-2(d) is under MIS-2. */
export const clauseHref = (id: string) => `/policy#${encodeURIComponent(id.replace(/\(.*$/, ''))}`;

/** 512 bytes, 14 KB, 2.3 MB. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${Math.round(n / 1024)} KB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MB`;
}

export const QUARANTINE_KEY = ['mail', 'quarantine'] as const;

export function useQuarantine() {
  return useQuery({
    queryKey: QUARANTINE_KEY,
    queryFn: () => api<{ messages: HeldMessage[]; held: number }>('/api/mail/quarantine'),
  });
}

export function useMailActivity(range: { from: string; to: string }) {
  return useQuery({
    queryKey: ['mail', 'activity', range.from, range.to],
    queryFn: () => api<MailActivity>('/api/mail/activity', { query: range }),
  });
}

export interface ScannerStatus {
  answering: boolean;
  address: string;
  failOpen: boolean;
  message: string;
}

/** Whether clamd answers; asked again every minute while the Mail screen is open. */
export function useScannerStatus(enabled: boolean) {
  return useQuery({
    queryKey: ['mail', 'scanner'],
    queryFn: () => api<ScannerStatus>('/api/mail/scanner'),
    enabled,
    refetchInterval: 60_000,
  });
}

export function useMailRules() {
  return useQuery({
    queryKey: ['mail', 'rules'],
    queryFn: () => api<MailRules>('/api/mail/rules'),
  });
}
