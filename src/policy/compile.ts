// Turns a validated pack into the CompiledPolicy the rest of Custos reads: Maps and Sets for
// look-ups, and deep-frozen so that no reader can change the policy in force by accident.
import { allPermissions, isPermission, type Permission } from '../auth/permissions.ts';
import type {
  Clause,
  CompiledPolicy,
  MailRuleDef,
  Purpose,
  RetentionPeriod,
  SafeSearchPolicy,
  WebAccessRule,
} from './compiled.ts';
import { CLAUSE_ID, type PolicyPack, RECORD_KINDS } from './schema.ts';

const READ_ONLY = 'The compiled policy is read-only; load a new pack to change it.';

/** A Map that refuses changes once built. */
class FrozenMap<K, V> extends Map<K, V> {
  constructor(entries: Iterable<readonly [K, V]>) {
    super();
    for (const [k, v] of entries) Map.prototype.set.call(this, k, v);
    Object.freeze(this);
  }
  override set(): this {
    throw new TypeError(READ_ONLY);
  }
  override delete(): boolean {
    throw new TypeError(READ_ONLY);
  }
  override clear(): void {
    throw new TypeError(READ_ONLY);
  }
}

/** A Set that refuses changes once built. */
class FrozenSet<T> extends Set<T> {
  constructor(values: Iterable<T>) {
    super();
    for (const v of values) Set.prototype.add.call(this, v);
    Object.freeze(this);
  }
  override add(): this {
    throw new TypeError(READ_ONLY);
  }
  override delete(): boolean {
    throw new TypeError(READ_ONLY);
  }
  override clear(): void {
    throw new TypeError(READ_ONLY);
  }
}

const map = <K, V>(entries: Iterable<readonly [K, V]>) => new FrozenMap<K, V>(entries);
const set = <T>(values: Iterable<T>) => new FrozenSet<T>(values);

/** Freezes every plain object and array reachable from value (Maps and Sets are walked). */
export function deepFreeze<T>(value: T, seen = new WeakSet<object>()): T {
  if (value === null || typeof value !== 'object' || seen.has(value)) return value;
  seen.add(value);
  if (value instanceof Map) {
    for (const [k, v] of value) {
      deepFreeze(k, seen);
      deepFreeze(v, seen);
    }
  } else if (value instanceof Set) {
    for (const v of value) deepFreeze(v, seen);
  }
  for (const key of Reflect.ownKeys(value)) {
    deepFreeze((value as Record<PropertyKey, unknown>)[key], seen);
  }
  return Object.freeze(value);
}

/** A pack without a `web.safeSearch` section rewrites nothing. */
const SAFE_SEARCH_OFF: SafeSearchPolicy = {
  google: false,
  bing: false,
  duckduckgo: false,
  youtube: 'off',
  clauseIds: [],
};

const sectionOf = (id: string) => id.slice(0, id.indexOf('-'));

const access = (rule: { block: string[]; allow: string[] }): WebAccessRule => ({
  block: set(rule.block),
  allow: set(rule.allow),
});

const purposes = (list: { id: string; text: string; clauseIds: string[] }[]) =>
  map(list.map((p): [string, Purpose] => [p.id, { ...p, clauseIds: [...p.clauseIds] }]));

/** Compiles a pack that checkPackText() has validated (cross-references included). */
export function compilePolicy(pack: PolicyPack): CompiledPolicy {
  const clauses = map(
    Object.entries(pack.clauses)
      .filter(([id]) => CLAUSE_ID.test(id))
      .map(([id, c]): [string, Clause] => [
        id,
        {
          id,
          title: c.title,
          text: c.text,
          section: sectionOf(id),
          ...(c.parts ? { parts: { ...c.parts } } : {}),
        },
      ]),
  );
  const policy: CompiledPolicy = {
    name: pack.name,
    document: {
      title: pack.document.title,
      school: pack.document.school,
      owner: { ...pack.document.owner },
      reviewIntervalMonths: pack.document.reviewIntervalMonths,
      approval: { ...pack.document.approval },
      versions: pack.document.versions.map((v) => ({ ...v })),
    },
    clauses,
    roles: map(
      Object.entries(pack.roles).map(([id, r]) => [
        id,
        {
          id,
          name: r.name,
          description: r.description,
          permissions: set<Permission>(
            r.permissions.includes('*') ? allPermissions() : r.permissions.filter(isPermission),
          ),
          requiresTotp: r.requireTotp,
        },
      ]),
    ),
    personKinds: map(Object.entries(pack.personKinds).map(([id, k]) => [id, { id, name: k.name }])),
    auth: {
      password: { ...pack.auth.password, clauseIds: [...pack.auth.password.clauseIds] },
      idleLockMinutes: pack.auth.idleLockMinutes,
    },
    groups: map(Object.entries(pack.groups).map(([id, g]) => [id, { id, ...g }])),
    approvals: map(
      Object.entries(pack.approvals).map(([id, r]) => [
        id,
        {
          id,
          name: r.name,
          description: r.description,
          clauseIds: [...r.clauseIds],
          approvers: r.approvers.allOf
            ? { mode: 'all' as const, roles: [...r.approvers.allOf] }
            : { mode: 'any' as const, roles: [...(r.approvers.anyOf ?? [])] },
          notify: [...r.notify],
          opens: r.opens ?? null,
          requiresEndDate: r.requiresEndDate,
        },
      ]),
    ),
    web: {
      categories: map(
        Object.entries(pack.web.categories).map(([id, c]) => [
          id,
          { id, name: c.name, clauseIds: [...c.clauseIds], alert: c.alert },
        ]),
      ),
      everyone: {
        block: set(pack.web.everyone.block),
        clauseIds: [...pack.web.everyone.clauseIds],
      },
      groups: map(Object.entries(pack.web.groups).map(([id, r]) => [id, access(r)])),
      defaultGroups: [...pack.web.defaultGroups],
      personKinds: map(Object.entries(pack.web.personKinds).map(([id, r]) => [id, access(r)])),
      alerts: { notify: [...pack.web.alerts.notify], clauseIds: [...pack.web.alerts.clauseIds] },
      unregisteredDevices: {
        mode: pack.web.unregisteredDevices.mode,
        block: set(pack.web.unregisteredDevices.block),
        clauseIds: [...pack.web.unregisteredDevices.clauseIds],
      },
      downloads: {
        blockExecutables: pack.web.downloads.blockExecutables,
        extensions: set(pack.web.downloads.extensions),
        clauseIds: [...pack.web.downloads.clauseIds],
      },
      blockPage: { ...pack.web.blockPage },
      dns: { ...pack.web.dns },
      safeSearch: pack.web.safeSearch
        ? { ...pack.web.safeSearch, clauseIds: [...pack.web.safeSearch.clauseIds] }
        : SAFE_SEARCH_OFF,
    },
    mail: {
      domains: [...pack.mail.domains],
      personalUse: { ...pack.mail.personalUse },
      disclaimer: { ...pack.mail.disclaimer },
      recipientThreshold: { ...pack.mail.recipientThreshold },
      attachments: {
        executables: set(pack.mail.attachments.executables),
        scripts: set(pack.mail.attachments.scripts),
        inbound: { ...pack.mail.attachments.inbound },
        outbound: { ...pack.mail.attachments.outbound },
        clauseIds: [...pack.mail.attachments.clauseIds],
      },
      virusDetected: { ...pack.mail.virusDetected },
      rules: pack.mail.rules.map((r) => ({ ...r }) as MailRuleDef),
    },
    monitoring: {
      purposes: purposes(pack.monitoring.purposes),
      contentGrounds: purposes(pack.monitoring.contentGrounds),
      webGrounds: purposes(pack.monitoring.webGrounds),
      mailCases: { ...pack.monitoring.mailCases },
      webCases: { ...pack.monitoring.webCases },
      contentAccess: { ...pack.monitoring.contentAccess },
      privateMarkers: { ...pack.monitoring.privateMarkers },
    },
    retention: map(
      RECORD_KINDS.map((kind): [typeof kind, RetentionPeriod] => {
        const p = pack.retention[kind];
        return [
          kind,
          {
            kind,
            months: p.months ?? null,
            days: p.days ?? null,
            reason: p.reason,
            clauseIds: [...p.clauseIds],
          },
        ];
      }),
    ),
    raw: structuredClone(pack),
  };
  return deepFreeze(policy);
}
