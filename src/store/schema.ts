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

export interface DevicesTable {
  id: string;
  person_id: string | null;
  kind: string;
  label: string;
  mac: string | null;
  hostname: string | null;
  ip: string | null;
  status: string; // approved | pending | revoked
  approved_by: string | null;
  approved_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface AccessWithdrawalsTable {
  id: string;
  person_id: string;
  web: Bool;
  mail: Bool;
  reason: string;
  withdrawn_by: string;
  withdrawn_at: string;
  lifted_by: string | null;
  lifted_at: string | null;
}

export interface WebRestrictionsTable {
  id: string;
  person_id: string;
  host: string;
  reason: string;
  created_by: string;
  created_at: string;
  removed_by: string | null;
  removed_at: string | null;
}

export interface PersonalUseAuthorisationsTable {
  id: string;
  person_id: string;
  starts_on: string;
  ends_on: string | null;
  daily_from: string | null;
  daily_to: string | null;
  categories: string; // JSON array
  conditions: string;
  approved_by: string;
  approved_at: string;
  withdrawn_by: string | null;
  withdrawn_at: string | null;
}

export interface WebListsTable {
  id: string;
  list: string; // allow | deny
  host: string;
  reason: string;
  added_by: string;
  added_at: string;
}

export interface WebActivityTable {
  id: string;
  at: string;
  source: string;
  person_id: string | null;
  device_id: string | null;
  client_ip: string;
  method: string | null;
  host: string;
  path: string | null;
  categories: string;
  decision: string;
  reason: string;
  clause_ids: string;
  status: number | null;
  bytes: number; // summed over the hits
  duration_ms: number; // summed over the hits
  search_terms: string | null;
  /** Identical decisions within one window that this row stands for (0008). */
  hits: Generated<number>;
  /** The last of them; null means the same as `at`, the first. */
  last_at: string | null;
}

/** One subject's requests to one site, first to last, until an idle gap (WEB-6). */
export interface WebVisitsTable {
  id: string;
  source: string; // proxy | dns
  person_id: string | null;
  device_id: string | null;
  client_ip: string;
  host: string;
  started_at: string;
  ended_at: string;
  duration_ms: number; // ended_at - started_at
  requests: number;
  blocked: number;
  bytes: number;
  closed: Bool; // 0 while the visit may go on
}

export interface Database {
  devices: DevicesTable;
  access_withdrawals: AccessWithdrawalsTable;
  web_restrictions: WebRestrictionsTable;
  personal_use_authorisations: PersonalUseAuthorisationsTable;
  web_lists: WebListsTable;
  web_activity: WebActivityTable;
  web_visits: WebVisitsTable;
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
  policy_versions: PolicyVersionsTable;
  policy_acceptances: PolicyAcceptancesTable;
  notification_outbox: NotificationOutboxTable;
}

/** One published version of the policy (GOV-2, GOV-3, GOV-4); a new version is a new row. */
export interface PolicyVersionsTable {
  id: string;
  number: number;
  description: string;
  release_date: string | null; // YYYY-MM-DD
  approval_body: string | null; // GOV-3; null for history recorded before Custos
  approval_date: string | null; // YYYY-MM-DD
  approval_signatory: string | null;
  note: string | null;
  status: string; // current | superseded
  source: string; // pack-history | published
  pack_name: string | null;
  pack_text: string | null; // the pack YAML as published; null for earlier history
  pack_sha256: string | null;
  published_at: string;
  published_by: string | null; // person id; null for the system
  published_by_label: string;
  superseded_at: string | null;
}

/** GOV-5: one person read and accepted one version. */
export interface PolicyAcceptancesTable {
  id: string;
  version_id: string;
  person_id: string;
  accepted_at: string;
  ip: string;
  user_agent: string;
}

/** E-mail waiting to go, or gone: a row is marked sent only after the relay accepted it. */
export interface NotificationOutboxTable {
  id: string;
  kind: string; // 'policy.acceptance-reminder' | 'policy.review-reminder' | ...
  to_address: string;
  to_person_id: string | null;
  subject: string;
  text: string;
  html: string | null;
  related_type: string | null;
  related_id: string | null;
  /** Queuing a second message with the same key does nothing (one reminder a day). */
  dedupe_key: string | null;
  created_at: string;
  next_attempt_at: string;
  attempts: number;
  last_error: string | null;
  sent_at: string | null;
  message_id: string | null;
}

// Generated is re-exported for modules that add tables with database-made columns.
export type { Generated };

/** Policy packs uploaded in the console (0005-policy-packs); the latest applied one is in force. */
export interface PolicyPacksTable {
  id: string;
  name: string; // the pack's `name`, or the file name when the pack does not say
  file_name: string;
  yaml: string;
  sha256: string; // of the UTF-8 text as stored
  size_bytes: number;
  valid: Bool;
  errors: string; // JSON array of PackError: file, line, column, key, message
  summary: string | null; // JSON counts of a valid pack: clauses, roles, web categories, ...
  uploaded_at: string;
  uploaded_by: string | null; // person id
  uploaded_by_label: string;
  applied_at: string | null; // the latest time it was made the pack in force
  applied_by: string | null;
  applied_by_label: string | null;
}

export interface Database {
  policy_packs: PolicyPacksTable;
}

export interface SiteReviewRequestsTable {
  id: string;
  host: string;
  url: string;
  person_id: string | null;
  device_id: string | null;
  client_ip: string;
  categories: string; // JSON array
  clause_ids: string; // JSON array
  reason: string;
  status: string; // open | allowed | refused
  created_at: string;
  decided_by: string | null;
  decided_at: string | null;
  decision_note: string | null;
}

export interface Database {
  site_review_requests: SiteReviewRequestsTable;
}

export interface MailContentTable {
  id: string;
  created_at: string;
  key_id: string;
  wrapped_key: Buffer;
  iv: Buffer;
  tag: Buffer;
  ciphertext: Buffer;
  size: number;
  sha256: string;
}

export interface MailMessagesTable {
  id: string;
  received_at: string;
  direction: string; // inbound | outbound
  client_ip: string;
  helo: string | null;
  auth_user: string | null;
  person_id: string | null;
  envelope_from: string;
  envelope_to: string; // JSON array
  header_from: string | null;
  header_to: string; // JSON array
  subject: string;
  message_id: string | null;
  size: number;
  attachments: string; // JSON array
  verdicts: string; // JSON array
  action: string;
  private: number;
  status: string; // pending | delivered | held | rejected | released | deleted | failed
  next_hop_reply: string | null;
  content_id: string | null;
  decided_by: string | null;
  decided_at: string | null;
  decision_reason: string | null;
  updated_at: string;
}

export interface Database {
  mail_content: MailContentTable;
  mail_messages: MailMessagesTable;
}
