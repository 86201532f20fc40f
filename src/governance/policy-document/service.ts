// The policy as a published, versioned document that everyone in scope reads and accepts.
// GOV-4: each version is its own record, never edited once superseded; GOV-3: each carries its
// approval (body, date, signatory); GOV-6: publishing version N+1 supersedes N and asks everyone
// to accept again, because acceptances belong to one version; GOV-5: who has and has not
// accepted, and reminders by e-mail; GOV-1: when the review falls due. Every change is written
// with its audit entry in one transaction.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import type { AppContext } from '../../api/context.ts';
import { type Actor, type AuditLog, SYSTEM_ACTOR } from '../../audit/service.ts';
import type { Config } from '../../config/config.ts';
import { createDirectoryService, type Person } from '../../directory/service.ts';
import { enqueue, lastQueuedPerPerson, type OutgoingMessage } from '../../notify/outbox.ts';
import type { CompiledPolicy } from '../../policy/compiled.ts';
import type { PolicyHolder } from '../../policy/holder.ts';
import { loadPolicyPackFromText, PACK_FILE } from '../../policy/loader.ts';
import { AppError } from '../../shared/errors.ts';
import { newId } from '../../store/columns.ts';
import type { Store } from '../../store/database.ts';
import type { DocumentClause, DocumentVersion, PolicyDocumentModel } from './document.ts';
import {
  acceptanceReminder,
  KIND_ACCEPTANCE_REMINDER,
  publishedMessage,
  type Recipient,
  reviewReminder,
} from './messages.ts';
import * as repo from './repository.ts';
import { daysBetween, type ReviewStatus, reviewStatus } from './review.ts';

export interface Approval {
  body: string;
  date: string; // YYYY-MM-DD
  signatory: string | null;
}

export interface PolicyVersion {
  number: number;
  description: string;
  releaseDate: string | null;
  approval: Approval | null;
  note: string | null;
  status: 'current' | 'superseded';
  /** 'pack-history': recorded from the pack's change history when Custos started. */
  source: 'pack-history' | 'published';
  packName: string | null;
  packSha256: string | null;
  /** Whether the text of this version was kept (versions from before Custos have none). */
  hasText: boolean;
  publishedAt: string;
  publishedBy: string;
  supersededAt: string | null;
  documentHtml: string;
  documentPdf: string;
}

export interface PublishInput {
  description: string;
  releaseDate: string;
  approval: { body: string; date: string; signatory: string };
  note?: string | null | undefined;
  /** E-mail everyone in scope that there is a new version to accept (default true). */
  notify?: boolean | undefined;
}

export interface AcceptResult {
  version: number;
  acceptedAt: string;
  alreadyAccepted: boolean;
}

export interface MyAcceptance {
  version: number;
  acceptedAt: string | null;
}

export interface AcceptanceFilter {
  group?: string | undefined;
  kind?: string | undefined;
  status?: 'accepted' | 'not-accepted' | undefined;
}

export interface AcceptancePerson {
  personId: string;
  name: string;
  email: string;
  kind: string;
  groups: string[];
  startDate: string | null;
  /** The day the person was first asked to accept this version. */
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

export interface ReminderResult {
  queued: number;
  alreadyRemindedToday: number;
  notificationsEnabled: boolean;
}

export interface ScheduledResult {
  acceptanceReminders: number;
  reviewReminders: number;
}

export interface PackText {
  name: string;
  text: string;
}

export interface PolicyDocumentDeps {
  store: Store;
  audit: AuditLog;
  policy: PolicyHolder;
  config: Config;
  clock?: () => Date;
  /** The text of the pack in force; by default the latest applied upload, else the pack folder. */
  packText?: () => Promise<PackText>;
}

export interface PolicyDocumentService {
  /** Records versions 1..N from the pack's change history when no version is recorded yet. */
  ensureSeeded(): Promise<{ seeded: number }>;
  listVersions(): Promise<PolicyVersion[]>;
  getVersion(number: number): Promise<PolicyVersion>;
  currentVersion(): Promise<PolicyVersion>;
  publish(input: PublishInput, actor: Actor): Promise<PolicyVersion>;
  accept(
    number: number,
    personId: string,
    meta: { ip: string; userAgent: string },
    actor: Actor,
  ): Promise<AcceptResult>;
  myAcceptance(personId: string): Promise<MyAcceptance>;
  acceptance(filter?: AcceptanceFilter): Promise<AcceptanceReport>;
  remind(actor: Actor): Promise<ReminderResult>;
  /** The scheduled check: acceptance reminders after N days, review reminders to the owner. */
  runScheduledReminders(now?: Date): Promise<ScheduledResult>;
  review(): Promise<ReviewStatus | null>;
  documentOf(number: number | 'current'): Promise<PolicyDocumentModel>;
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const dayOf = (iso: string) => iso.slice(0, 10);
const nameOf = (p: Person) => `${p.givenName} ${p.familyName}`;

function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

function toVersion(row: repo.VersionRow): PolicyVersion {
  const base = `/api/policy/versions/${row.number}`;
  return {
    number: Number(row.number),
    description: row.description,
    releaseDate: row.release_date,
    approval:
      row.approval_body && row.approval_date
        ? { body: row.approval_body, date: row.approval_date, signatory: row.approval_signatory }
        : null,
    note: row.note,
    status: row.status === 'current' ? 'current' : 'superseded',
    source: row.source === 'published' ? 'published' : 'pack-history',
    packName: row.pack_name,
    packSha256: row.pack_sha256,
    hasText: row.pack_text !== null,
    publishedAt: row.published_at,
    publishedBy: row.published_by_label,
    supersededAt: row.superseded_at,
    documentHtml: `${base}/document.html`,
    documentPdf: `${base}/document.pdf`,
  };
}

const toDocumentVersion = (v: PolicyVersion): DocumentVersion => ({
  number: v.number,
  description: v.description,
  releaseDate: v.releaseDate,
  approval: v.approval,
  status: v.status,
});

/** The text of the pack in force: the latest applied upload, else the configured folder's file. */
export function defaultPackText(deps: {
  store: Store;
  config: Config;
  policy: PolicyHolder;
}): () => Promise<PackText> {
  return async () => {
    const policy = deps.policy.current();
    const applied = await deps.store.db
      .selectFrom('policy_packs')
      .select(['name', 'yaml'])
      .where('applied_at', 'is not', null)
      .orderBy('applied_at', 'desc')
      .executeTakeFirst()
      .catch(() => undefined);
    if (applied && applied.name === policy.name) return { name: applied.name, text: applied.yaml };
    try {
      const text = await readFile(path.join(deps.config.policy.pack, PACK_FILE), 'utf8');
      return { name: policy.name, text };
    } catch {
      // The folder moved since start-up: the validated pack as YAML says the same rules.
      return { name: policy.name, text: stringify(policy.raw) };
    }
  };
}

export function createPolicyDocumentService(deps: PolicyDocumentDeps): PolicyDocumentService {
  const { store, audit, policy, config } = deps;
  const clock = deps.clock ?? (() => new Date());
  const db = store.db;
  const packText = deps.packText ?? defaultPackText(deps);
  const directory = createDirectoryService({ store, audit, policy, clock });
  const policyUrl = `${config.server.publicUrl.replace(/\/$/, '')}/policy`;
  const compiledByHash = new Map<string, CompiledPolicy | null>();
  let seeded: Promise<unknown> | null = null;

  async function seed(): Promise<{ seeded: number }> {
    if ((await repo.countVersions(db)) > 0) return { seeded: 0 };
    const current = policy.current();
    const { document } = current;
    const pack = await packText();
    const now = clock().toISOString();
    const history = [...document.versions].sort((a, b) => a.version - b.version);
    const latest = history.at(-1)!;
    const rows: repo.VersionRow[] = history.map((v) => {
      const isCurrent = v === latest;
      return {
        id: newId(),
        number: v.version,
        description: v.description,
        release_date: v.date,
        approval_body: isCurrent ? document.approval.body : null,
        approval_date: isCurrent ? document.approval.date : null,
        approval_signatory: isCurrent ? document.approval.signatory : null,
        note: null,
        status: isCurrent ? 'current' : 'superseded',
        source: 'pack-history',
        pack_name: isCurrent ? pack.name : null,
        pack_text: isCurrent ? pack.text : null,
        pack_sha256: isCurrent ? sha256(pack.text) : null,
        published_at: now,
        published_by: null,
        published_by_label: 'system (from the policy pack change history)',
        superseded_at: isCurrent ? null : now,
      };
    });
    try {
      await db.transaction().execute(async (trx) => {
        await repo.insertVersions(trx, rows);
        await audit.append(
          {
            actor: SYSTEM_ACTOR,
            action: 'policy.versions-recorded',
            target: { type: 'policy_version', id: rows.at(-1)!.id },
            clauseIds: ['GOV-3', 'GOV-4'],
            details: {
              versions: rows.map((r) => r.number),
              current: latest.version,
              approval: document.approval,
              packSha256: rows.at(-1)!.pack_sha256,
            },
          },
          trx,
        );
      });
    } catch (error) {
      // Another process recorded them first: theirs stand.
      if (isUniqueViolation(error)) return { seeded: 0 };
      throw error;
    }
    return { seeded: rows.length };
  }

  /** Seeds once per service; every other method waits for it. */
  const ready = async () => {
    seeded ??= seed().catch((error) => {
      seeded = null;
      throw error;
    });
    await seeded;
  };

  async function currentRow(): Promise<repo.VersionRow> {
    await ready();
    const row = await repo.currentVersion(db);
    if (!row) {
      throw new AppError(
        'not_found',
        'No version of the policy is in force. Publish one under The policy, Publish a new version.',
      );
    }
    return row;
  }

  async function rowOf(number: number): Promise<repo.VersionRow> {
    await ready();
    const row = await repo.versionByNumber(db, number);
    if (!row) {
      const versions = await repo.allVersions(db);
      throw new AppError(
        'not_found',
        `There is no version ${number} of the policy. The versions recorded are ${versions.map((v) => v.number).join(', ') || 'none'}.`,
        { number },
      );
    }
    return row;
  }

  const today = () => dayOf(clock().toISOString());

  /** Everyone the policy applies to today (SCP-1): active, started, not yet left. */
  async function peopleInScope(on: string): Promise<Person[]> {
    const out: Person[] = [];
    for (let offset = 0; ; offset += 500) {
      const page = await directory.search({ status: 'active', limit: 500, offset });
      out.push(...page.people);
      if (page.people.length < 500 || out.length >= page.total) break;
    }
    return out.filter(
      (p) => (!p.startDate || p.startDate <= on) && (!p.leaveDate || p.leaveDate >= on),
    );
  }

  /** The day a person was first asked to accept a version: its publication, or their start. */
  const askedSince = (p: Person, version: repo.VersionRow) =>
    [dayOf(version.published_at), p.startDate ?? '', dayOf(p.createdAt)].sort().at(-1)!;

  const recipient = (p: Person): Recipient => ({
    personId: p.id,
    email: p.email,
    givenName: p.givenName,
  });

  function compiledOf(row: repo.VersionRow): CompiledPolicy | null {
    if (!row.pack_text || !row.pack_sha256) return null;
    if (!compiledByHash.has(row.pack_sha256)) {
      const loaded = loadPolicyPackFromText(row.pack_text);
      compiledByHash.set(row.pack_sha256, loaded.ok ? loaded.policy : null);
    }
    return compiledByHash.get(row.pack_sha256) ?? null;
  }

  async function review(): Promise<ReviewStatus | null> {
    const row = await currentRow();
    return reviewStatus({
      dates: [row.approval_date, row.release_date],
      reviewIntervalMonths: policy.current().document.reviewIntervalMonths,
      reminderDays: config.notifications.reviewReminderDays,
      today: today(),
    });
  }

  const service: PolicyDocumentService = {
    ensureSeeded: async () => {
      await ready();
      return (await seeded) as { seeded: number };
    },

    async listVersions() {
      await ready();
      return (await repo.allVersions(db)).map(toVersion);
    },

    getVersion: async (number) => toVersion(await rowOf(number)),

    currentVersion: async () => toVersion(await currentRow()),

    async publish(input, actor) {
      const previous = await currentRow();
      if (input.approval.date > today()) {
        throw new AppError(
          'validation_failed',
          `The approval date ${input.approval.date} is in the future. Publish once the governing body has agreed the policy (GOV-3), with the date it did.`,
          [{ path: 'body.approval.date', message: 'must not be in the future' }],
        );
      }
      const pack = await packText();
      const now = clock().toISOString();
      const number = Number(previous.number) + 1;
      const row: repo.VersionRow = {
        id: newId(),
        number,
        description: input.description.trim(),
        release_date: input.releaseDate,
        approval_body: input.approval.body.trim(),
        approval_date: input.approval.date,
        approval_signatory: input.approval.signatory.trim(),
        note: input.note?.trim() || null,
        status: 'current',
        source: 'published',
        pack_name: pack.name,
        pack_text: pack.text,
        pack_sha256: sha256(pack.text),
        published_at: now,
        published_by: actor.id,
        published_by_label: actor.label,
        superseded_at: null,
      };
      const on = today();
      const people = input.notify === false ? [] : await peopleInScope(on);
      const title = policy.current().document.title;
      try {
        await db.transaction().execute(async (trx) => {
          if ((await repo.supersede(trx, previous.id, now)) !== 1) {
            throw new AppError(
              'conflict',
              `Version ${previous.number} was superseded by another publication at the same moment. Reload to see the version in force.`,
            );
          }
          await repo.insertVersions(trx, [row]);
          const queued = await enqueue(
            trx,
            people.map((p) =>
              publishedMessage(recipient(p), row, title, row.description, policyUrl),
            ),
            now,
          );
          await audit.append(
            {
              actor,
              action: 'policy.version-published',
              target: { type: 'policy_version', id: row.id },
              clauseIds: ['GOV-6', 'GOV-4', 'GOV-3'],
              reason: row.description,
              details: {
                number,
                supersedes: Number(previous.number),
                releaseDate: row.release_date,
                approval: input.approval,
                note: row.note,
                packName: row.pack_name,
                packSha256: row.pack_sha256,
                peopleAskedToAccept: people.length,
                messagesQueued: queued.length,
              },
            },
            trx,
          );
        });
      } catch (error) {
        if (isUniqueViolation(error)) {
          throw new AppError(
            'conflict',
            `Version ${number} was published by someone else at the same moment. Reload to see it.`,
          );
        }
        throw error;
      }
      return toVersion(row);
    },

    async accept(number, personId, meta, actor) {
      const current = await currentRow();
      if (Number(current.number) !== number) {
        const exists = await repo.versionByNumber(db, number);
        throw new AppError(
          exists ? 'conflict' : 'not_found',
          exists
            ? `Version ${number} is no longer in force. Read and accept version ${current.number}, the version in force.`
            : `There is no version ${number} of the policy. Read and accept version ${current.number}, the version in force.`,
          { current: Number(current.number) },
        );
      }
      const existing = await repo.acceptanceOf(db, current.id, personId);
      if (existing)
        return { version: number, acceptedAt: existing.accepted_at, alreadyAccepted: true };
      const acceptedAt = clock().toISOString();
      const row: repo.AcceptanceRow = {
        id: newId(),
        version_id: current.id,
        person_id: personId,
        accepted_at: acceptedAt,
        ip: meta.ip,
        user_agent: meta.userAgent.slice(0, 500),
      };
      const inserted = await db.transaction().execute(async (trx) => {
        if (!(await repo.insertAcceptance(trx, row))) return false;
        await audit.append(
          {
            actor,
            action: 'policy.accepted',
            target: { type: 'policy_version', id: current.id },
            clauseIds: ['GOV-5'],
            details: { number, personId, ip: meta.ip },
          },
          trx,
        );
        return true;
      });
      if (inserted) return { version: number, acceptedAt, alreadyAccepted: false };
      // Accepted twice at the same moment (two tabs): the first one stands.
      const first = await repo.acceptanceOf(db, current.id, personId);
      return { version: number, acceptedAt: first!.accepted_at, alreadyAccepted: true };
    },

    async myAcceptance(personId) {
      const current = await currentRow();
      const row = await repo.acceptanceOf(db, current.id, personId);
      return { version: Number(current.number), acceptedAt: row?.accepted_at ?? null };
    },

    async acceptance(filter = {}) {
      const current = await currentRow();
      const on = today();
      const [everyone, accepted, reminded] = await Promise.all([
        peopleInScope(on),
        repo.acceptancesOf(db, current.id),
        lastQueuedPerPerson(db, KIND_ACCEPTANCE_REMINDER, current.id),
      ]);
      const group = filter.group?.trim().toLowerCase();
      const people = everyone
        .filter((p) => !filter.kind || p.kind === filter.kind)
        .filter((p) => !group || p.groups.some((g) => g.toLowerCase() === group))
        .map(
          (p): AcceptancePerson => ({
            personId: p.id,
            name: nameOf(p),
            email: p.email,
            kind: p.kind,
            groups: p.groups,
            startDate: p.startDate,
            askedSince: askedSince(p, current),
            acceptedAt: accepted.get(p.id) ?? null,
            lastRemindedAt: reminded.get(p.id) ?? null,
          }),
        );
      const acceptedCount = people.filter((p) => p.acceptedAt).length;
      const listed = people.filter(
        (p) => !filter.status || (filter.status === 'accepted') === (p.acceptedAt !== null),
      );
      const kinds = policy.current().personKinds;
      return {
        version: { number: Number(current.number), publishedAt: current.published_at },
        totals: {
          inScope: people.length,
          accepted: acceptedCount,
          notAccepted: people.length - acceptedCount,
          percent: people.length ? Math.round((acceptedCount / people.length) * 1000) / 10 : 100,
        },
        groups: [...new Set(everyone.flatMap((p) => p.groups))].sort((a, b) => a.localeCompare(b)),
        kinds: [...kinds.values()].map((k) => ({ id: k.id, name: k.name })),
        people: listed,
      };
    },

    async remind(actor) {
      const current = await currentRow();
      const on = today();
      const [everyone, accepted] = await Promise.all([
        peopleInScope(on),
        repo.acceptancesOf(db, current.id),
      ]);
      const waiting = everyone.filter((p) => !accepted.has(p.id));
      const title = policy.current().document.title;
      const now = clock().toISOString();
      const queued = await db.transaction().execute(async (trx) => {
        const ids = await enqueue(
          trx,
          waiting.map((p) =>
            acceptanceReminder(recipient(p), current, title, askedSince(p, current), on, policyUrl),
          ),
          now,
        );
        await audit.append(
          {
            actor,
            action: 'policy.acceptance-reminders-queued',
            target: { type: 'policy_version', id: current.id },
            clauseIds: ['GOV-5'],
            details: {
              number: Number(current.number),
              notAccepted: waiting.length,
              queued: ids.length,
              alreadyRemindedToday: waiting.length - ids.length,
            },
          },
          trx,
        );
        return ids.length;
      });
      return {
        queued,
        alreadyRemindedToday: waiting.length - queued,
        notificationsEnabled: config.notifications.enabled,
      };
    },

    async runScheduledReminders(now = clock()) {
      const current = await currentRow();
      const on = dayOf(now.toISOString());
      const document = policy.current().document;
      const every = config.notifications.acceptanceReminderDays;
      const [everyone, accepted, reminded] = await Promise.all([
        peopleInScope(on),
        repo.acceptancesOf(db, current.id),
        lastQueuedPerPerson(db, KIND_ACCEPTANCE_REMINDER, current.id),
      ]);
      const messages: OutgoingMessage[] = [];
      for (const p of everyone) {
        if (accepted.has(p.id)) continue;
        const since = askedSince(p, current);
        if (daysBetween(since, on) < every) continue;
        const last = reminded.get(p.id);
        if (last && daysBetween(dayOf(last), on) < every) continue;
        messages.push(
          acceptanceReminder(recipient(p), current, document.title, since, on, policyUrl),
        );
      }
      const status = reviewStatus({
        dates: [current.approval_date, current.release_date],
        reviewIntervalMonths: document.reviewIntervalMonths,
        reminderDays: config.notifications.reviewReminderDays,
        today: on,
      });
      const reviewMessages: OutgoingMessage[] = [];
      if (status && status.state !== 'ok') {
        for (const owner of everyone.filter((p) => p.roles.includes(document.owner.role))) {
          reviewMessages.push(
            reviewReminder(recipient(owner), current, document.title, status, policyUrl),
          );
        }
      }
      const at = now.toISOString();
      return db.transaction().execute(async (trx) => {
        const acceptanceIds = await enqueue(trx, messages, at);
        const reviewIds = await enqueue(trx, reviewMessages, at);
        if (acceptanceIds.length) {
          await audit.append(
            {
              actor: SYSTEM_ACTOR,
              action: 'policy.acceptance-reminders-queued',
              target: { type: 'policy_version', id: current.id },
              clauseIds: ['GOV-5'],
              details: {
                number: Number(current.number),
                queued: acceptanceIds.length,
                afterDays: every,
                scheduled: true,
              },
            },
            trx,
          );
        }
        if (reviewIds.length) {
          await audit.append(
            {
              actor: SYSTEM_ACTOR,
              action: 'policy.review-reminders-queued',
              target: { type: 'policy_version', id: current.id },
              clauseIds: ['GOV-1'],
              details: { due: status?.due, state: status?.state, queued: reviewIds.length },
            },
            trx,
          );
        }
        return { acceptanceReminders: acceptanceIds.length, reviewReminders: reviewIds.length };
      });
    },

    review,

    async documentOf(which) {
      const row = which === 'current' ? await currentRow() : await rowOf(which);
      const versions = (await repo.allVersions(db)).map(toVersion).reverse();
      const compiled = compiledOf(row);
      const source = compiled ?? policy.current();
      const { document } = source;
      const clauses: DocumentClause[] | null = compiled
        ? [...compiled.clauses.values()].map((c) => ({
            ...c,
            parts: c.parts ? { ...c.parts } : undefined,
          }))
        : null;
      const raw = (source.raw as { document?: { website?: string } } | null)?.document;
      return {
        title: document.title,
        school: document.school,
        website: raw?.website ?? null,
        owner: {
          name: document.owner.name,
          role: source.roles.get(document.owner.role)?.name ?? document.owner.role,
        },
        reviewIntervalMonths: document.reviewIntervalMonths,
        version: toDocumentVersion(toVersion(row)),
        history: versions.map(toDocumentVersion),
        clauses,
        packSha256: row.pack_sha256,
        publishedAt: row.published_at,
      };
    },
  };
  return service;
}

/** The service over an AppContext (routes, attention, scheduled jobs). */
export const policyDocumentServiceOf = (ctx: AppContext): PolicyDocumentService =>
  createPolicyDocumentService({
    store: ctx.store,
    audit: ctx.audit,
    policy: ctx.policy,
    config: ctx.config,
    clock: ctx.clock,
  });
