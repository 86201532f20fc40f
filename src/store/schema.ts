// Table types for Kysely. Conventions that hold on both SQLite and PostgreSQL (see
// docs/decisions/001-one-store-two-databases.md): ids are text (UUIDs), timestamps are ISO 8601
// UTC text, booleans are integers 0/1, JSON is text. src/store/columns.ts converts.
import type { Generated } from 'kysely';

export type Bool = 0 | 1;

export interface AuditLogTable {
  seq: number;
  at: string;
  actor_id: string | null;
  actor_label: string;
  action: string;
  target_type: string | null;
  target_id: string | null;
  clause_ids: string; // JSON array of clause ids
  reason: string | null;
  details: string; // JSON object
  prev_hash: string;
  hash: string;
}

export interface PeopleTable {
  id: string;
  staff_id: string | null;
  email: string; // lower-cased
  given_name: string;
  family_name: string;
  kind: string; // SCP-1 person kind id from the pack
  status: string; // active | suspended | left
  start_date: string | null; // YYYY-MM-DD
  leave_date: string | null; // YYYY-MM-DD
  supervised_use: Bool; // PWD-6
  created_at: string;
  updated_at: string;
}

export interface GroupsTable {
  id: string;
  name: string;
  description: string;
  created_at: string;
}

export interface PersonGroupsTable {
  person_id: string;
  group_id: string;
}

export interface PersonRolesTable {
  person_id: string;
  role: string; // role id from the pack
}

export interface AccountsTable {
  id: string;
  person_id: string;
  password_hash: string | null;
  password_changed_at: string | null;
  totp_secret: string | null;
  totp_enabled: Bool;
  /** Last TOTP time step accepted (0003-auth): a code is not accepted twice. */
  totp_last_step: number | null;
  failed_sign_ins: number;
  locked_until: string | null;
  disabled: Bool;
  created_at: string;
  updated_at: string;
}

export interface SessionsTable {
  id: string; // SHA-256 of the cookie token; the token itself is never stored
  account_id: string;
  csrf_token: string;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
  ip: string;
  user_agent: string;
  /** 'password' | 'oidc:microsoft' | 'oidc:google' */
  method: string;
  /** 1 once the second factor has been given (or none is required). */
  mfa_passed: Bool;
  revoked_at: string | null;
}

export interface SetupTokensTable {
  id: string; // SHA-256 of the token
  purpose: string; // 'first-run' | 'password-reset'
  account_id: string | null;
  created_at: string;
  expires_at: string;
  used_at: string | null;
}

export interface OidcIdentitiesTable {
  provider: string;
  subject: string;
  account_id: string;
  email: string;
  created_at: string;
}

export interface SecurityFlagsTable {
  id: string;
  kind: string; // 'concurrent-sign-in' (PWD-4) | 'lockout' | ...
  account_id: string | null;
  clause_ids: string; // JSON array
  details: string; // JSON object
  created_at: string;
  reviewed_at: string | null;
  reviewed_by: string | null;
}

export interface KvTable {
  key: string;
  value: string;
  updated_at: string;
}

export interface Database {
  audit_log: AuditLogTable;
  people: PeopleTable;
  groups: GroupsTable;
  person_groups: PersonGroupsTable;
  person_roles: PersonRolesTable;
  accounts: AccountsTable;
  sessions: SessionsTable;
  setup_tokens: SetupTokensTable;
  oidc_identities: OidcIdentitiesTable;
  security_flags: SecurityFlagsTable;
  kv: KvTable;
}

// Generated is re-exported for modules that add tables with database-made columns.
export type { Generated };
