// Policy packs uploaded in the console (GOV-1, GOV-6). Every upload is checked with the same
// loader as `custos policy check` and kept, valid or not, with its problems; applying a valid one
// makes it the pack in force: stored in the database, swapped into this process's PolicyHolder at
// once, and announced to other processes through the kv row 'policy.applied', which
// watchAppliedPack() polls. On start-up the pack applied most recently wins over the configured
// folder (see openRuntime in src/cli/runtime.ts).
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { parse as parseYaml } from 'yaml';
import type { Actor, AuditLog } from '../audit/service.ts';
import type { Permission } from '../auth/permissions.ts';
import { AppError } from '../shared/errors.ts';
import { fromJson, newId, toBool, toJson } from '../store/columns.ts';
import type { Store } from '../store/database.ts';
import type { PolicyPacksTable } from '../store/schema.ts';
import { type CompiledPolicy, permissionsOf } from './compiled.ts';
import type { PolicyHolder } from './holder.ts';
import {
  firstInvalidUtf8,
  formatPackError,
  loadPolicyPack,
  loadPolicyPackFromBytes,
  loadPolicyPackFromText,
  MAX_PACK_BYTES,
  type PackError,
} from './loader.ts';

/** The kv row whose value changes every time a pack is applied. */
export const APPLIED_KEY = 'policy.applied';
/** Clauses an upload and an application cite: the SBM owns the policy and may amend it. */
export const PACK_UPLOAD_CLAUSES = ['GOV-1'] as const;
export const PACK_APPLY_CLAUSES = ['GOV-1', 'GOV-6'] as const;

export interface PackSummary {
  name: string;
  clauses: number;
  roles: number;
  webCategories: number;
  requestTypes: number;
  mailRules: number;
  groups: number;
  personKinds: number;
}

export interface StoredPack {
  id: string;
  name: string;
  fileName: string;
  sha256: string;
  sizeBytes: number;
  valid: boolean;
  errors: PackError[];
  summary: PackSummary | null;
  uploadedAt: string;
  uploadedBy: { id: string | null; label: string };
  appliedAt: string | null;
  appliedBy: { id: string | null; label: string } | null;
  /** True for the pack applied most recently: the one in force. */
  inForce: boolean;
}

export interface AppliedPack {
  id: string;
  name: string;
  sha256: string;
  appliedAt: string;
  appliedByLabel: string;
  yaml: string;
  /** The value of the kv row 'policy.applied' when this pack was applied. */
  marker: string;
}

export function summariseCompiled(policy: CompiledPolicy): PackSummary {
  return {
    name: policy.name,
    clauses: policy.clauses.size,
    roles: policy.roles.size,
    webCategories: policy.web.categories.size,
    requestTypes: policy.approvals.size,
    mailRules: policy.mail.rules.length,
    groups: policy.groups.size,
    personKinds: policy.personKinds.size,
  };
}

export const sha256Of = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

const markerOf = (id: string, sha256: string, appliedAt: string) =>
  JSON.stringify({ id, sha256, appliedAt });

/**
 * What each holder was last loaded from (the 'policy.applied' marker), so that a watcher in the
 * process that applied a pack does not load it a second time.
 */
const holderMarkers = new WeakMap<PolicyHolder, string>();

export function markHolder(holder: PolicyHolder, marker: string | null): void {
  if (marker === null) holderMarkers.delete(holder);
  else holderMarkers.set(holder, marker);
}

/** A display name for pack text that may not even be YAML: its `name`, else the file name. */
function nameOf(text: string, fileName: string): string {
  try {
    const parsed = parseYaml(text, { uniqueKeys: false }) as { name?: unknown } | null;
    if (parsed && typeof parsed === 'object' && typeof parsed.name === 'string' && parsed.name) {
      return parsed.name.slice(0, 100);
    }
  } catch {
    // Not YAML: the errors say so; the file name stands in.
  }
  return fileName;
}

function toStored(row: PolicyPacksTable, inForceId: string | null): StoredPack {
  return {
    id: row.id,
    name: row.name,
    fileName: row.file_name,
    sha256: row.sha256,
    sizeBytes: Number(row.size_bytes),
    valid: Number(row.valid) === 1,
    errors: fromJson<PackError[]>(row.errors, []),
    summary: fromJson<PackSummary | null>(row.summary, null),
    uploadedAt: row.uploaded_at,
    uploadedBy: { id: row.uploaded_by, label: row.uploaded_by_label },
    appliedAt: row.applied_at,
    appliedBy: row.applied_at
      ? { id: row.applied_by, label: row.applied_by_label ?? 'unknown' }
      : null,
    inForce: row.id === inForceId,
  };
}

/** The pack applied most recently, or null when none has been (the folder pack is in force). */
export async function findAppliedPack(store: Store): Promise<AppliedPack | null> {
  const row = await store.db
    .selectFrom('policy_packs')
    .selectAll()
    .where('applied_at', 'is not', null)
    .orderBy('applied_at', 'desc')
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
  if (!row?.applied_at) return null;
  return {
    id: row.id,
    name: row.name,
    sha256: row.sha256,
    appliedAt: row.applied_at,
    appliedByLabel: row.applied_by_label ?? 'unknown',
    yaml: row.yaml,
    marker: markerOf(row.id, row.sha256, row.applied_at),
  };
}

async function readMarker(store: Store): Promise<string | null> {
  const row = await store.db
    .selectFrom('kv')
    .select('value')
    .where('key', '=', APPLIED_KEY)
    .executeTakeFirst();
  return row?.value ?? null;
}

export interface PackServiceDeps {
  store: Store;
  audit: AuditLog;
  policy: PolicyHolder;
  clock?: () => Date;
}

export interface UploadInput {
  /** The file as received; checked for UTF-8 and size by the loader. */
  bytes: Uint8Array;
  fileName?: string | undefined;
}

export interface PackService {
  upload(input: UploadInput, actor: Actor): Promise<StoredPack>;
  list(): Promise<StoredPack[]>;
  get(id: string): Promise<(StoredPack & { yaml: string }) | null>;
  /**
   * Makes a valid pack the one in force. When the actor's `roles` are given, a pack under which
   * those roles would lose policy.manage is refused, so nobody locks the school out of its own
   * settings.
   */
  apply(
    id: string,
    actor: Actor & { roles?: readonly string[] },
  ): Promise<{ pack: StoredPack; summary: PackSummary; previous: PackSummary }>;
}

const MANAGE: Permission = 'policy.manage';

export function createPackService(deps: PackServiceDeps): PackService {
  const { store, audit, policy } = deps;
  const clock = deps.clock ?? (() => new Date());

  async function inForceId(): Promise<string | null> {
    return (await findAppliedPack(store))?.id ?? null;
  }

  async function row(id: string): Promise<PolicyPacksTable | undefined> {
    return store.db.selectFrom('policy_packs').selectAll().where('id', '=', id).executeTakeFirst();
  }

  const notFound = (id: string) =>
    new AppError(
      'not_found',
      `There is no uploaded policy pack with id ${id}. GET /api/policy/packs lists them; upload the pack again if it is missing.`,
      { id },
    );

  return {
    async upload({ bytes, fileName }, actor) {
      const file = (fileName ?? '').trim().slice(0, 200) || 'policy.yaml';
      if (bytes.length === 0) {
        throw new AppError(
          'bad_request',
          'The file is empty. Choose the policy.yaml of your pack and upload it again.',
        );
      }
      const loaded = loadPolicyPackFromBytes(bytes, file);
      // Text that is not UTF-8 or is too large is reported but not kept: there is nothing usable.
      const text = Buffer.from(bytes).toString('utf8');
      const unusable = bytes.length > MAX_PACK_BYTES || firstInvalidUtf8(bytes) !== -1;
      const yaml = unusable ? '' : text.replace(/^\uFEFF/, '');
      const id = newId();
      const at = clock().toISOString();
      const values: PolicyPacksTable = {
        id,
        name: loaded.ok ? loaded.policy.name : nameOf(yaml, file),
        file_name: file,
        yaml,
        sha256: sha256Of(yaml),
        size_bytes: bytes.length,
        valid: toBool(loaded.ok),
        errors: toJson(loaded.ok ? [] : loaded.errors),
        summary: loaded.ok ? toJson(summariseCompiled(loaded.policy)) : null,
        uploaded_at: at,
        uploaded_by: actor.id,
        uploaded_by_label: actor.label,
        applied_at: null,
        applied_by: null,
        applied_by_label: null,
      };
      await store.db.transaction().execute(async (trx) => {
        await trx.insertInto('policy_packs').values(values).execute();
        await audit.append(
          {
            actor,
            action: 'policy.pack-uploaded',
            target: { type: 'policy-pack', id },
            clauseIds: PACK_UPLOAD_CLAUSES,
            details: {
              name: values.name,
              fileName: file,
              sha256: values.sha256,
              valid: loaded.ok,
              problems: loaded.ok ? 0 : loaded.errors.length,
            },
          },
          trx,
        );
      });
      return toStored(values, await inForceId());
    },

    async list() {
      const rows = await store.db
        .selectFrom('policy_packs')
        .selectAll()
        .orderBy('uploaded_at', 'desc')
        .orderBy('id', 'desc')
        .limit(200)
        .execute();
      const current = await inForceId();
      return rows.map((r) => toStored(r, current));
    },

    async get(id) {
      const found = await row(id);
      return found ? { ...toStored(found, await inForceId()), yaml: found.yaml } : null;
    },

    async apply(id, actor) {
      const found = await row(id);
      if (!found) throw notFound(id);
      if (Number(found.valid) !== 1) {
        const problems = fromJson<PackError[]>(found.errors, []).length;
        throw new AppError(
          'conflict',
          `This pack has ${problems} problem(s) and cannot be applied. Fix them in policy.yaml and upload it again.`,
          { id, problems },
        );
      }
      // Checked again: the rules of the check may have grown since the upload.
      const loaded = loadPolicyPackFromText(found.yaml, found.file_name);
      if (!loaded.ok) {
        throw new AppError(
          'conflict',
          `This pack no longer passes the check (${loaded.errors.length} problem(s)). Upload a corrected policy.yaml and apply that.`,
          { id, errors: loaded.errors },
        );
      }
      const next = loaded.policy;
      if (actor.roles && !permissionsOf(next, actor.roles).has(MANAGE)) {
        throw new AppError(
          'conflict',
          `Under this pack your roles (${actor.roles.join(', ') || 'none'}) would no longer hold ${MANAGE}, so nobody could change the policy pack from the console afterwards. Give one of your roles ${MANAGE} in the pack, upload it again and apply that.`,
          { id, roles: actor.roles },
        );
      }
      const previous = summariseCompiled(policy.current());
      const summary = summariseCompiled(next);
      const at = clock().toISOString();
      const marker = markerOf(found.id, found.sha256, at);
      await store.db.transaction().execute(async (trx) => {
        await trx
          .updateTable('policy_packs')
          .set({ applied_at: at, applied_by: actor.id, applied_by_label: actor.label })
          .where('id', '=', id)
          .execute();
        await trx
          .insertInto('kv')
          .values({ key: APPLIED_KEY, value: marker, updated_at: at })
          .onConflict((oc) => oc.column('key').doUpdateSet({ value: marker, updated_at: at }))
          .execute();
        await audit.append(
          {
            actor,
            action: 'policy.applied',
            target: { type: 'policy-pack', id },
            clauseIds: PACK_APPLY_CLAUSES,
            details: { name: next.name, sha256: found.sha256, previous, summary },
          },
          trx,
        );
      });
      // At once, in this process; other processes follow through watchAppliedPack.
      markHolder(policy, marker);
      policy.replace(next);
      const stored = toStored({ ...found, applied_at: at }, id);
      stored.appliedBy = { id: actor.id, label: actor.label };
      return { pack: stored, summary, previous };
    },
  };
}

export interface WatchOptions {
  intervalMs?: number;
  log?: Pick<Logger, 'info' | 'error'>;
  /** Called after each reload (tests wait on it). */
  onReload?: (pack: AppliedPack) => void;
}

/**
 * Polls the kv row 'policy.applied' and, when its value changes, loads the pack applied most
 * recently into `holder`. One indexed primary-key read per interval; the compile only happens on
 * a change. A pack that fails to load is logged and the policy in force stays as it was.
 * Answers a function that stops the watch.
 */
export function watchAppliedPack(
  store: Store,
  holder: PolicyHolder,
  options: WatchOptions = {},
): () => void {
  const intervalMs = options.intervalMs ?? 3000;
  let stopped = false;
  let running = false;
  let lastFailed: string | null = null;
  const tick = async () => {
    if (running || stopped) return;
    running = true;
    try {
      const marker = await readMarker(store);
      if (marker === null || marker === holderMarkers.get(holder) || marker === lastFailed) return;
      const applied = await findAppliedPack(store);
      if (!applied || stopped) return;
      const loaded = loadPolicyPackFromText(applied.yaml);
      if (!loaded.ok) {
        lastFailed = marker;
        options.log?.error(
          { pack: applied.name, id: applied.id, problems: loaded.errors.length },
          'the policy pack applied in the console does not load here; keeping the policy in force',
        );
        return;
      }
      markHolder(holder, marker);
      holder.replace(loaded.policy);
      options.log?.info(
        { pack: applied.name, id: applied.id, sha256: applied.sha256 },
        'policy pack reloaded: another process applied it',
      );
      options.onReload?.(applied);
    } catch (error) {
      options.log?.error({ err: error }, 'could not check for a newly applied policy pack');
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void tick(), intervalMs);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}

export type StartupPolicy =
  | { ok: true; source: 'database'; policy: CompiledPolicy; pack: AppliedPack }
  | { ok: true; source: 'folder'; policy: CompiledPolicy; folder: string }
  | { ok: false; source: 'database' | 'folder'; message: string };

/**
 * The policy a process starts with: the pack applied most recently in the console when there is
 * one, otherwise the configured folder (`policy.pack`). `ignoreApplied` starts from the folder
 * even when a pack was applied (the way out when an applied pack no longer loads).
 */
export async function startupPolicy(
  store: Store,
  folder: string,
  options: { ignoreApplied?: boolean } = {},
): Promise<StartupPolicy> {
  const applied = options.ignoreApplied ? null : await findAppliedPack(store);
  if (applied) {
    const loaded = loadPolicyPackFromText(applied.yaml);
    if (!loaded.ok) {
      return {
        ok: false,
        source: 'database',
        message: `The policy pack applied in the console (${applied.name}, applied ${applied.appliedAt} by ${applied.appliedByLabel}) no longer passes the check:\n${loaded.errors.map(formatPackError).join('\n')}\nStart with "custos serve --policy-from-folder" to use ${folder}, then upload and apply a corrected pack in Settings.`,
      };
    }
    return { ok: true, source: 'database', policy: loaded.policy, pack: applied };
  }
  const loaded = await loadPolicyPack(folder);
  if (!loaded.ok) {
    return {
      ok: false,
      source: 'folder',
      message: `The policy pack at ${folder} is not valid:\n${loaded.errors.map(formatPackError).join('\n')}\nRun "custos policy check ${folder}" after fixing it.`,
    };
  }
  return { ok: true, source: 'folder', policy: loaded.policy, folder };
}

/** Records in `holder` which applied pack (if any) it was started from, for watchAppliedPack. */
export async function markStartupPolicy(
  store: Store,
  holder: PolicyHolder,
  started: StartupPolicy,
): Promise<void> {
  if (!started.ok) return;
  // From the folder: any pack applied before start-up was passed over on purpose (or there was
  // none); only an application after this moment should replace the folder pack.
  markHolder(holder, started.source === 'database' ? started.pack.marker : await readMarker(store));
}
