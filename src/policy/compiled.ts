// The compiled, immutable form of a policy pack: what the rest of Custos reads. Decisions are
// pure functions over this object. src/policy/compile.ts builds it from the validated YAML.
import type { Permission } from '../auth/permissions.ts';

export interface Clause {
  readonly id: string; // e.g. 'SYS-5'
  readonly title: string;
  /** The policy's own words for the clause. */
  readonly text: string;
  readonly section: string; // GOV, SCP, BRE, PWD, SYS, MAIL, MON, WEB, PER, MIS, INC
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
