// The compiled, immutable form of a policy pack: what the rest of Custos reads. Decisions are
// pure functions over this object. src/policy/compile.ts builds it from the validated YAML.
import type { Permission } from '../auth/permissions.ts';
import type { RecordKind } from './schema.ts';

export interface Clause {
  readonly id: string; // e.g. 'SYS-5'
  readonly title: string;
  /** The policy's own words for the clause. */
  readonly text: string;
  readonly section: string; // GOV, SCP, BRE, PWD, SYS, MAIL, MON, WEB, PER, MIS, INC
  /** Lettered or numbered items, cited as MIS-2(a), MON-1(4b). */
  readonly parts?: Readonly<Record<string, string>>;
}

export interface RoleDef {
  readonly id: string; // e.g. 'sbm'
  readonly name: string; // 'School Business Manager'
  readonly description: string;
  readonly permissions: ReadonlySet<Permission>;
  readonly requiresTotp: boolean;
}

export interface PersonKindDef {
  readonly id: string; // 'employee', 'governor', ... (SCP-1)
  readonly name: string;
}

export interface PasswordRule {
  readonly minLength: number;
  readonly requireLetter: boolean;
  readonly requireDigit: boolean;
  readonly requireSpecial: boolean;
  readonly refuseCommon: boolean;
  readonly refusePersonalInfo: boolean;
  readonly clauseIds: readonly string[]; // ['PWD-2']
}

export interface CompiledPolicy {
  readonly name: string;
  readonly document: {
    readonly title: string;
    readonly school: string;
    readonly owner: { readonly role: string; readonly name: string };
    readonly reviewIntervalMonths: number;
    readonly approval: {
      readonly body: string;
      readonly date: string;
      readonly signatory: string | null;
    };
    readonly versions: readonly {
      readonly version: number;
      readonly description: string;
      readonly date: string | null; // YYYY-MM-DD
    }[];
  };
  readonly clauses: ReadonlyMap<string, Clause>;
  readonly roles: ReadonlyMap<string, RoleDef>;
  readonly personKinds: ReadonlyMap<string, PersonKindDef>;
  readonly auth: {
    readonly password: PasswordRule;
    readonly idleLockMinutes: number; // PWD-5
  };
  readonly groups: ReadonlyMap<string, GroupDef>;
  /** Request types and who approves them (SYS-2, SYS-3, SYS-6, SYS-9, PWD-3, PWD-7, PER-1, WEB-3, WEB-5). */
  readonly approvals: ReadonlyMap<string, RequestTypeDef>;
  readonly web: WebPolicy;
  readonly mail: MailPolicy;
  readonly monitoring: MonitoringPolicy;
  /** Retention per kind of record (INC-5). */
  readonly retention: ReadonlyMap<RecordKind, RetentionPeriod>;
  /** The parsed pack as validated, for parts not yet compiled into a dedicated shape. */
  readonly raw: unknown;
}

/** Every permission held by any of the given roles. Unknown role ids grant nothing. */
export function permissionsOf(policy: CompiledPolicy, roleIds: Iterable<string>): Set<Permission> {
  const out = new Set<Permission>();
  for (const id of roleIds) {
    for (const permission of policy.roles.get(id)?.permissions ?? []) out.add(permission);
  }
  return out;
}

export function totpRequiredFor(policy: CompiledPolicy, roleIds: Iterable<string>): boolean {
  for (const id of roleIds) if (policy.roles.get(id)?.requiresTotp) return true;
  return false;
}

// --- sections compiled from the pack (src/policy/compile.ts) ----------------------------------

/** Clause references as cited: 'SYS-5', 'MIS-2(a)'. */
export type ClauseRefs = readonly string[];

export interface GroupDef {
  readonly id: string;
  readonly name: string;
  readonly description: string;
}

export interface RequestTypeDef {
  readonly id: string; // 'software', 'network-drive-disclosure', ...
  readonly name: string;
  readonly description: string;
  readonly clauseIds: ClauseRefs;
  /** 'any': one approval from any listed role; 'all': an approval from each listed role. */
  readonly approvers: { readonly mode: 'any' | 'all'; readonly roles: readonly string[] };
  readonly notify: readonly string[];
  readonly opens: 'dpia' | null;
  readonly requiresEndDate: boolean;
}

export interface WebCategoryDef {
  readonly id: string; // UT1 name: 'social_networks', 'adult', ...
  readonly name: string;
  readonly clauseIds: ClauseRefs;
  /** An attempt alerts the designated staff at once (MIS-2(j), pornography). */
  readonly alert: boolean;
}

export interface WebAccessRule {
  readonly block: ReadonlySet<string>;
  readonly allow: ReadonlySet<string>;
}

export interface WebPolicy {
  readonly categories: ReadonlyMap<string, WebCategoryDef>;
  /** Blocked for every person and device, whatever their group (WEB-1, MIS-2). */
  readonly everyone: { readonly block: ReadonlySet<string>; readonly clauseIds: ClauseRefs };
  readonly groups: ReadonlyMap<string, WebAccessRule>;
  /** Groups every known person is in for web rules, whatever their directory groups. */
  readonly defaultGroups: readonly string[];
  readonly personKinds: ReadonlyMap<string, WebAccessRule>;
  readonly alerts: { readonly notify: readonly string[]; readonly clauseIds: ClauseRefs };
  /** What a device missing from the device register gets (SYS-6). */
  readonly unregisteredDevices: {
    readonly mode: 'block-all' | 'block-categories';
    readonly block: ReadonlySet<string>;
    readonly clauseIds: ClauseRefs;
  };
  readonly downloads: {
    readonly blockExecutables: boolean;
    readonly extensions: ReadonlySet<string>;
    readonly clauseIds: ClauseRefs;
  };
  readonly blockPage: { readonly url: string };
  readonly dns: {
    readonly blockAnswer: 'block-page' | '0.0.0.0' | 'nxdomain';
    readonly blockPageAddress: string | null;
  };
  /** Search and video sites answered through their own "safe" host names (WEB-1). */
  readonly safeSearch: SafeSearchPolicy;
}

export interface SafeSearchPolicy {
  readonly google: boolean;
  readonly bing: boolean;
  readonly duckduckgo: boolean;
  /** YouTube Restricted Mode. */
  readonly youtube: 'strict' | 'moderate' | 'off';
  readonly clauseIds: ClauseRefs;
}

export type MailAction = 'allow' | 'tag' | 'warn-sender' | 'hold' | 'reject';
export type MailDirection = 'outbound' | 'inbound' | 'both';
export type AttachmentAction = 'allow' | 'hold' | 'reject';

interface MailRuleBase {
  readonly id: string;
  readonly description: string;
  readonly clauseIds: ClauseRefs;
  readonly direction: MailDirection;
  readonly action: MailAction;
  readonly externalOnly: boolean;
  readonly notify: readonly string[];
}

export type MailRuleDef =
  | (MailRuleBase & { readonly kind: 'word-list'; readonly words: readonly string[] })
  | (MailRuleBase & { readonly kind: 'pattern'; readonly patterns: readonly string[] })
  | (MailRuleBase & { readonly kind: 'personal-data'; readonly detectors: readonly string[] })
  | (MailRuleBase & { readonly kind: 'recipient-threshold'; readonly threshold: number })
  | (MailRuleBase & { readonly kind: 'attachment-type'; readonly extensions: readonly string[] });

export interface AttachmentActions {
  readonly executables: AttachmentAction;
  readonly scripts: AttachmentAction;
  readonly encryptedArchives: AttachmentAction;
}

export interface MailPolicy {
  readonly domains: readonly string[];
  readonly personalUse: {
    readonly default: 'authorisation-required' | 'incidental-allowed';
    readonly clauseIds: ClauseRefs;
  };
  readonly disclaimer: { readonly text: string; readonly clauseIds: ClauseRefs };
  readonly recipientThreshold: {
    readonly max: number;
    readonly allStaffAddresses: readonly string[];
    readonly action: MailAction;
    readonly clauseIds: ClauseRefs;
  };
  readonly attachments: {
    readonly executables: ReadonlySet<string>;
    readonly scripts: ReadonlySet<string>;
    readonly inbound: AttachmentActions;
    readonly outbound: AttachmentActions;
    readonly clauseIds: ClauseRefs;
  };
  readonly virusDetected: { readonly notify: readonly string[]; readonly clauseIds: ClauseRefs };
  readonly rules: readonly MailRuleDef[];
}

export interface Purpose {
  readonly id: string;
  readonly text: string;
  readonly clauseIds: ClauseRefs;
}

export interface MonitoringPolicy {
  /** Why a case may be opened (MON-1). */
  readonly purposes: ReadonlyMap<string, Purpose>;
  /** Why content may be opened (MON-4). */
  readonly contentGrounds: ReadonlyMap<string, Purpose>;
  /** Why one person's browsing may be looked at (WEB-6). */
  readonly webGrounds: ReadonlyMap<string, Purpose>;
  readonly mailCases: { readonly openedBy: readonly string[]; readonly clauseIds: ClauseRefs };
  readonly webCases: { readonly openedBy: readonly string[]; readonly clauseIds: ClauseRefs };
  readonly contentAccess: {
    readonly approvers: readonly string[];
    readonly secondApprover: boolean;
    readonly grantHours: number;
    readonly clauseIds: ClauseRefs;
  };
  readonly privateMarkers: {
    readonly headers: readonly { readonly name: string; readonly values: readonly string[] }[];
    readonly subjectMarkers: readonly string[];
    readonly clauseIds: ClauseRefs;
  };
}

export interface RetentionPeriod {
  readonly kind: RecordKind;
  readonly months: number | null;
  readonly days: number | null;
  readonly reason: string;
  readonly clauseIds: ClauseRefs;
}
