// The shapes the console reads from the API (see docs/api.md and /api/openapi.json).

export type SessionState =
  | 'none'
  | 'ok'
  | 'locked'
  | 'second_factor_required'
  | 'enrol_second_factor';
export type Provider = 'microsoft' | 'google';

export interface Session {
  state: SessionState;
  person?: { id: string; email: string; name: string };
  roles?: string[];
  permissions?: string[];
  abilities?: SessionAbilities;
  csrfToken?: string;
  method?: string;
  idleLockMinutes: number;
  providers: Provider[];
}

export type NextStep = 'done' | 'totp' | 'enrol-totp';

export type PersonStatus = 'active' | 'suspended' | 'left';
export const PERSON_STATUSES: readonly PersonStatus[] = ['active', 'suspended', 'left'];

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

export interface PeoplePage {
  total: number;
  limit: number;
  offset: number;
  people: Person[];
  abilities?: PeopleAbilities;
}

export interface Group {
  id: string;
  name: string;
  description: string;
  members: number;
  createdAt: string;
}

export interface ImportError {
  line: number;
  column?: string;
  message: string;
}

export interface ImportPreviewRow {
  line: number;
  action: 'create' | 'update';
  email: string;
  staffId: string | null;
  changes?: string[];
}

export interface ImportResult {
  applied: boolean;
  dryRun: boolean;
  rows: number;
  created: number;
  updated: number;
  unchanged: number;
  errors: ImportError[];
  ignoredColumns: string[];
  preview?: ImportPreviewRow[];
}

export interface AuditEntry {
  seq: number;
  at: string;
  actorId: string | null;
  actorLabel: string;
  action: string;
  targetType: string | null;
  targetId: string | null;
  clauseIds: string[];
  reason: string | null;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export interface VerifyResult {
  ok: boolean;
  entries: number;
  brokenAt?: number;
  problem?: string;
  lastHash?: string;
}

// What the signed-in person may do, as the API answers it with each record (src/auth/abilities.ts).

export interface PersonAbilities {
  edit: boolean;
  changeRoles: boolean;
  export: boolean;
  viewAudit: boolean;
}

export interface PeopleAbilities {
  read: boolean;
  create: boolean;
  import: boolean;
  export: boolean;
}

export interface PolicyAbilities {
  read: boolean;
  publish: boolean;
  manageAcceptance: boolean;
  applyPack: boolean;
}

export interface SessionAbilities {
  people: PeopleAbilities;
  policy: PolicyAbilities;
  audit: { read: boolean; verify: boolean };
  settings: boolean;
}
