// What the signed-in person may do with a record, answered with the record itself so that the
// console hides what would be refused instead of failing after a click. Pure functions of the
// principal (its permissions come from the pack in force) and the record; each ability is true
// exactly when the route that does it would accept the request (test/api/abilities.test.ts calls
// the routes to prove it).
import { z } from 'zod';
import type { Permission } from './permissions.ts';

/** The part of a principal abilities depend on. */
export interface Holder {
  readonly personId?: string;
  readonly permissions: ReadonlySet<Permission>;
}

const has = (who: Holder | null | undefined, permission: Permission) =>
  Boolean(who?.permissions.has(permission));

/** One person's record: change it (PATCH /api/people/:id), its roles, export, its audit trail. */
export interface PersonAbilities {
  edit: boolean;
  changeRoles: boolean;
  export: boolean;
  viewAudit: boolean;
}

export function personAbilities(
  who: Holder | null | undefined,
  _person: { readonly id: string },
): PersonAbilities {
  const manage = has(who, 'people.manage');
  return {
    edit: manage,
    changeRoles: manage,
    export: manage,
    viewAudit: has(who, 'audit.read'),
  };
}

/** The directory as a whole: add one person, import a CSV, export everyone. */
export interface PeopleAbilities {
  read: boolean;
  create: boolean;
  import: boolean;
  export: boolean;
}

export function peopleAbilities(who: Holder | null | undefined): PeopleAbilities {
  const manage = has(who, 'people.manage');
  return { read: has(who, 'people.read'), create: manage, import: manage, export: manage };
}

/** The policy: publish a new version, manage read-and-accept (GOV-5), apply a pack. */
export interface PolicyAbilities {
  read: boolean;
  publish: boolean;
  manageAcceptance: boolean;
  applyPack: boolean;
}

export function policyAbilities(who: Holder | null | undefined): PolicyAbilities {
  const manage = has(who, 'policy.manage');
  return {
    read: has(who, 'policy.read'),
    publish: manage,
    manageAcceptance: manage,
    applyPack: manage,
  };
}

export interface AuditAbilities {
  read: boolean;
  verify: boolean;
}

export function auditAbilities(who: Holder | null | undefined): AuditAbilities {
  return { read: has(who, 'audit.read'), verify: has(who, 'audit.verify') };
}

/** The summary GET /api/auth/session gives the console for its navigation. */
export interface SessionAbilities {
  people: PeopleAbilities;
  policy: PolicyAbilities;
  audit: AuditAbilities;
  settings: boolean;
}

export function sessionAbilities(who: Holder | null | undefined): SessionAbilities {
  return {
    people: peopleAbilities(who),
    policy: policyAbilities(who),
    audit: auditAbilities(who),
    settings: has(who, 'policy.manage'),
  };
}

// --- Response schemas (OpenAPI) ---------------------------------------------------------------

export const PersonAbilitiesSchema = z.object({
  edit: z.boolean(),
  changeRoles: z.boolean(),
  export: z.boolean(),
  viewAudit: z.boolean(),
});

export const PeopleAbilitiesSchema = z.object({
  read: z.boolean(),
  create: z.boolean(),
  import: z.boolean(),
  export: z.boolean(),
});

export const PolicyAbilitiesSchema = z.object({
  read: z.boolean(),
  publish: z.boolean(),
  manageAcceptance: z.boolean(),
  applyPack: z.boolean(),
});

export const SessionAbilitiesSchema = z.object({
  people: PeopleAbilitiesSchema,
  policy: PolicyAbilitiesSchema,
  audit: z.object({ read: z.boolean(), verify: z.boolean() }),
  settings: z.boolean(),
});
