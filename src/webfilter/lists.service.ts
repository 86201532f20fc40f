// Keeping the category lists current: download the UT1 tarball (or take a file), check it by
// loading it whole, refuse it when it would quietly unblock the web (no categories, or a category
// the policy names shrunk past a limit), then install it with a rename beside the target and
// record it in the kv row 'webfilter.lists' that running gateways poll (see runtime.ts).
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { copyFile, mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Actor, AuditLog } from '../audit/service.ts';
import type { Config } from '../config/config.ts';
import type { CompiledPolicy } from '../policy/compiled.ts';
import type { Store } from '../store/database.ts';
import {
  type CategoryIndex,
  ListLoadError,
  type LoadReport,
  loadCategories,
} from './categories/index.ts';

/** The kv row naming the lists installed last; its value changes on every install. */
export const LISTS_KEY = 'webfilter.lists';
/** Keeping the lists current is how the school blocks what SYS-5 and WEB-1 forbid. */
export const LISTS_UPDATE_CLAUSES = ['SYS-5', 'WEB-1'] as const;

export interface CategoryCount {
  name: string;
  domains: number;
  urls: number;
}

export interface InstalledLists {
  path: string;
  sha256: string;
  source: string;
  categories: CategoryCount[];
  names: number;
  at: string;
}

export type UpdatePhase = 'downloading' | 'checking' | 'comparing' | 'installing' | 'done';

export interface UpdateProgress {
  phase: UpdatePhase;
  done: number;
  total: number;
}

export type UpdateErrorCode = 'download_failed' | 'invalid_lists' | 'lists_shrank';

/** An update refused or failed; nothing was installed. */
export class ListUpdateError extends Error {
  constructor(
    readonly code: UpdateErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ListUpdateError';
  }
}

export interface UpdateResult {
  installed: InstalledLists;
  index: CategoryIndex;
  report: LoadReport;
}

/** Where installed lists live: lists/ut1.tar.gz inside the data folder. */
export const installTarget = (config: Config): string =>
  path.resolve(config.dataDir, 'lists', 'ut1.tar.gz');

export async function readInstalledLists(store: Store): Promise<InstalledLists | null> {
  const row = await store.db
    .selectFrom('kv')
    .select('value')
    .where('key', '=', LISTS_KEY)
    .executeTakeFirst();
  if (!row) return null;
  try {
    return JSON.parse(row.value) as InstalledLists;
  } catch {
    return null;
  }
}

/** The lists a process loads: the ones installed last when their file is there, else the config's. */
export async function listsInForce(
  config: Config,
  store: Store,
): Promise<{ path: string; installed: InstalledLists | null }> {
  const installed = await readInstalledLists(store);
  if (installed && existsSync(installed.path)) return { path: installed.path, installed };
  return { path: config.webfilter.lists, installed: null };
}

export const countsOf = (report: LoadReport): CategoryCount[] =>
  report.categories.map((c) => ({ name: c.name, domains: c.domains, urls: c.urls }));

/**
 * Categories the policy names that would lose more than `maxShrink` of their entries. Pure. A
 * category missing from the new lists counts as shrunk to nothing.
 */
export function shrunkCategories(
  before: readonly CategoryCount[],
  after: readonly CategoryCount[],
  relevant: ReadonlySet<string>,
  maxShrink: number,
): { name: string; before: number; after: number }[] {
  const now = new Map(after.map((c) => [c.name, c.domains + c.urls]));
  const out: { name: string; before: number; after: number }[] = [];
  for (const c of before) {
    if (!relevant.has(c.name)) continue;
    const was = c.domains + c.urls;
    const is = now.get(c.name) ?? 0;
    if (was > 0 && is < was * (1 - maxShrink)) out.push({ name: c.name, before: was, after: is });
  }
  return out;
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

/** Downloads `url` to `dest`, reporting bytes. */
export async function download(
  url: string,
  dest: string,
  onProgress: (p: UpdateProgress) => void,
  signal?: AbortSignal,
): Promise<void> {
  let response: Response;
  try {
    response = await fetch(url, signal ? { signal } : {});
  } catch (error) {
    throw new ListUpdateError(
      'download_failed',
      `Could not reach ${url}: ${(error as Error).message}. Check the network, or download the file elsewhere and use --from FILE.`,
    );
  }
  if (!response.ok || !response.body) {
    throw new ListUpdateError(
      'download_failed',
      `${url} answered ${response.status} ${response.statusText}. Check webfilter.listsUrl.`,
    );
  }
  const total = Number(response.headers.get('content-length') ?? 0) || 0;
  let done = 0;
  let last = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      done += chunk.length;
      const now = Date.now();
      if (now - last > 200) {
        last = now;
        onProgress({ phase: 'downloading', done, total });
      }
      cb(null, chunk);
    },
  });
  try {
    await pipeline(
      Readable.fromWeb(response.body as import('node:stream/web').ReadableStream),
      counter,
      createWriteStream(dest),
    );
  } catch (error) {
    throw new ListUpdateError(
      'download_failed',
      `The download from ${url} broke off after ${done} bytes: ${(error as Error).message}. Try again.`,
    );
  }
  if (total > 0 && done !== total) {
    throw new ListUpdateError(
      'download_failed',
      `The download from ${url} stopped at ${done} of ${total} bytes. Try again.`,
    );
  }
  onProgress({ phase: 'downloading', done, total: total || done });
}

export interface UpdateDeps {
  config: Config;
  store: Store;
  audit: AuditLog;
  policy: CompiledPolicy;
  clock: () => Date;
}

/**
 * Downloads (`url`) or copies (`file`) the lists beside the install target, checks them, and
 * installs them atomically. On any refusal the temporary file is removed and nothing changes.
 */
export async function updateLists(
  deps: UpdateDeps,
  from: { url: string } | { file: string },
  options: {
    actor: Actor;
    onProgress?: (p: UpdateProgress) => void;
    /** Counts of the lists in force, when the caller has them (a running process). */
    current?: readonly CategoryCount[];
    signal?: AbortSignal;
  },
): Promise<UpdateResult> {
  const { config, store, audit, policy } = deps;
  const progress = options.onProgress ?? (() => {});
  const target = installTarget(config);
  await mkdir(path.dirname(target), { recursive: true });
  // Beside the target, so that the rename is atomic; ends in .tar.gz so the loader reads a tarball.
  const temp = path.join(
    path.dirname(target),
    `.incoming-${randomBytes(6).toString('hex')}.tar.gz`,
  );
  const source = 'url' in from ? from.url : path.resolve(from.file);
  try {
    if ('url' in from) await download(from.url, temp, progress, options.signal);
    else {
      const size = (await stat(from.file)).size;
      progress({ phase: 'downloading', done: 0, total: size });
      await copyFile(from.file, temp);
      progress({ phase: 'downloading', done: size, total: size });
    }

    let loaded: { index: CategoryIndex; report: LoadReport };
    try {
      loaded = await loadCategories(temp, {
        onProgress: (p) =>
          progress({
            phase: 'checking',
            done: p.phase === 'reading' ? p.done : p.total,
            total: p.total,
          }),
      });
    } catch (error) {
      const why = error instanceof ListLoadError ? error.message : (error as Error).message;
      throw new ListUpdateError(
        'invalid_lists',
        `${source} is not a usable list archive (${why}). Nothing was changed.`,
      );
    }
    if (loaded.report.categories.length === 0) {
      throw new ListUpdateError(
        'invalid_lists',
        `${source} holds no categories. Nothing was changed.`,
      );
    }

    const relevant = new Set(policy.web.categories.keys());
    let before = options.current;
    if (!before) {
      const inForce = await listsInForce(config, store);
      if (inForce.installed) before = inForce.installed.categories;
      else {
        progress({ phase: 'comparing', done: 0, total: 1 });
        const old = await loadCategories(inForce.path, { only: [...relevant] }).catch(() => null);
        before = old ? countsOf(old.report) : [];
      }
    }
    const shrunk = shrunkCategories(
      before,
      countsOf(loaded.report),
      relevant,
      config.webfilter.listsMaxShrink,
    );
    if (shrunk.length > 0) {
      const list = shrunk.map((s) => `${s.name} ${s.before} → ${s.after}`).join(', ');
      throw new ListUpdateError(
        'lists_shrank',
        `Refused: categories the policy uses lost more than ${Math.round(config.webfilter.listsMaxShrink * 100)}% of their entries (${list}). The download may be incomplete; the lists in force are unchanged. Try again later.`,
      );
    }

    progress({ phase: 'installing', done: 0, total: 1 });
    const sha256 = await sha256Of(temp);
    const at = deps.clock().toISOString();
    const installed: InstalledLists = {
      path: target,
      sha256,
      source,
      categories: countsOf(loaded.report),
      names: loaded.report.names,
      at,
    };
    const value = JSON.stringify(installed);
    await rename(temp, target);
    await store.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('kv')
        .values({ key: LISTS_KEY, value, updated_at: at })
        .onConflict((oc) => oc.column('key').doUpdateSet({ value, updated_at: at }))
        .execute();
      await audit.append(
        {
          actor: options.actor,
          action: 'lists.updated',
          clauseIds: LISTS_UPDATE_CLAUSES,
          details: {
            source,
            sha256,
            categories: installed.categories.length,
            names: installed.names,
          },
        },
        trx,
      );
    });
    progress({ phase: 'done', done: 1, total: 1 });
    return { installed, index: loaded.index, report: loaded.report };
  } finally {
    await rm(temp, { force: true });
  }
}
