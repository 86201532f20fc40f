// The web filter as a running process holds it: the category lists loaded once (with progress
// logged) and the WebFilterState that keeps the engine current. Shared by the proxy and the API's
// "test a URL" within one process, so the lists are held in memory once. Likewise the alerts on
// alert categories, shared by the proxy and the DNS filter so that one attempt seen by both is
// one alert.
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/service.ts';
import type { Config } from '../config/config.ts';
import type { PolicyHolder } from '../policy/holder.ts';
import type { Store } from '../store/database.ts';
import { activityOptionsFrom, configureActivity } from './activity.ts';
import { createWebAlerts, type WebAlerts } from './alerts.ts';
import { type LoadReport, loadCategories } from './categories/index.ts';
import { type InstalledLists, LISTS_KEY, listsInForce } from './lists.service.ts';
import { createWebFilterState, type WebFilterState } from './state.ts';

export interface WebFilterRuntime {
  readonly state: WebFilterState;
  /** The report of the lists in force (replaced when new lists are installed). */
  readonly report: LoadReport;
  /** The file or folder they came from, and the install record when they were installed. */
  readonly source: string;
  readonly installed: InstalledLists | null;
  /** After an update in this process: the new lists are in force. */
  listsReplaced(installed: InstalledLists, report: LoadReport): void;
}

interface Needs {
  config: Config;
  store: Store;
  policy: PolicyHolder;
  log: Logger;
}

const running = new WeakMap<Store, Promise<WebFilterRuntime>>();

/** Loads the lists in force (installed by `custos lists update`, else config.webfilter.lists), builds the engine state and watches for newly installed lists. */
export async function loadWebFilter(needs: Needs): Promise<WebFilterRuntime> {
  const { config, log } = needs;
  const inForce = await listsInForce(config, needs.store);
  const source = inForce.path;
  const begun = Date.now();
  let lastLogged = 0;
  log.info({ lists: source }, 'web filter: loading category lists');
  const { index, report } = await loadCategories(source, {
    onProgress(p) {
      const now = Date.now();
      if (p.phase === 'reading' && now - lastLogged < 1000) return;
      lastLogged = now;
      log.info(
        { phase: p.phase, category: p.category, done: p.done, total: p.total },
        'web filter: loading category lists',
      );
    },
  });
  log.info(
    {
      lists: source,
      categories: report.categories.length,
      names: report.names,
      skipped: report.totalSkipped,
      ms: Date.now() - begun,
    },
    'web filter: category lists loaded',
  );
  const inner = await createWebFilterState({
    store: needs.store,
    policy: needs.policy,
    lists: index,
    log,
  });
  const runtime = {
    report,
    source,
    installed: inForce.installed,
    state: inner,
    listsReplaced(installed: InstalledLists, next: LoadReport) {
      runtime.report = next;
      runtime.source = installed.path;
      runtime.installed = installed;
      stopWatch.accept(JSON.stringify(installed));
    },
  };
  const stopWatch = watchInstalledLists(needs.store, inner, {
    intervalMs: config.webfilter.listsWatchIntervalMs,
    log,
    known: inForce.installed ? JSON.stringify(inForce.installed) : null,
    onReload: (installed, next) => runtime.listsReplaced(installed, next),
  });
  runtime.state = {
    ...inner,
    stop() {
      stopWatch();
      inner.stop();
    },
  };
  return runtime;
}

export interface ListsWatchOptions {
  intervalMs?: number;
  log?: Pick<Logger, 'info' | 'error'>;
  /** The kv value of the lists already in force (null: the configured ones). */
  known?: string | null;
  onReload?: (installed: InstalledLists, report: LoadReport) => void;
}

/**
 * Polls the kv row 'webfilter.lists' and, when its value changes, loads the lists it names in the
 * background and swaps them into `state`: requests in flight finish on the engine they began
 * with. Lists that fail to load are logged and the ones in force stay. Answers a stop function;
 * `check()` runs one poll now (tests).
 */
export function watchInstalledLists(
  store: Store,
  state: Pick<WebFilterState, 'replaceLists'>,
  options: ListsWatchOptions = {},
): (() => void) & { check(): Promise<void>; accept(value: string): void } {
  let known = options.known ?? null;
  let failed: string | null = null;
  let stopped = false;
  let running: Promise<void> | null = null;
  const tick = async () => {
    const row = await store.db
      .selectFrom('kv')
      .select('value')
      .where('key', '=', LISTS_KEY)
      .executeTakeFirst();
    if (!row || row.value === known || row.value === failed || stopped) return;
    // Tried once per install: a file that does not load is not re-read every interval.
    failed = row.value;
    const installed = JSON.parse(row.value) as InstalledLists;
    const { index, report } = await loadCategories(installed.path);
    if (stopped) return;
    await state.replaceLists(index);
    known = row.value;
    failed = null;
    options.log?.info(
      { lists: installed.path, sha256: installed.sha256, names: report.names },
      'web filter: new category lists in force',
    );
    options.onReload?.(installed, report);
  };
  const check = () => {
    running ??= tick()
      .catch((error: unknown) => {
        options.log?.error(
          { err: error },
          'web filter: the newly installed lists did not load; keeping the ones in force',
        );
      })
      .finally(() => {
        running = null;
      });
    return running;
  };
  const timer = setInterval(() => void check(), options.intervalMs ?? 10_000);
  timer.unref();
  const stop = () => {
    stopped = true;
    clearInterval(timer);
  };
  // Lists this process installed and swapped in itself: not loaded a second time.
  const accept = (value: string) => {
    known = value;
  };
  return Object.assign(stop, { check, accept });
}

/** The process's web filter for this store, loaded on first use. */
export function webFilterFor(needs: Needs): Promise<WebFilterRuntime> {
  // The proxy and the DNS filter make their activity recorders after this call: they take the
  // configured window, bound and visit gap from here.
  configureActivity(needs.store, activityOptionsFrom(needs.config));
  let found = running.get(needs.store);
  if (!found) {
    found = loadWebFilter(needs);
    running.set(needs.store, found);
    found.catch(() => running.delete(needs.store));
  }
  return found;
}

/** Stops the process's web filter for this store, if one was loaded. */
export async function stopWebFilter(store: Store): Promise<void> {
  const found = running.get(store);
  running.delete(store);
  if (found) (await found.catch(() => null))?.state.stop();
}

const alerts = new WeakMap<Store, WebAlerts>();

/** The process's alerts for this store (MIS-2(j), pornography), shared by the proxy and the DNS filter. */
export function webAlertsFor(needs: Needs & { audit: AuditLog }): WebAlerts {
  let found = alerts.get(needs.store);
  if (!found) {
    found = createWebAlerts({
      store: needs.store,
      audit: needs.audit,
      policy: () => needs.policy.current(),
      log: needs.log,
      publicUrl: needs.config.server.publicUrl,
      repeatMinutes: needs.config.webfilter.alertRepeatMinutes,
    });
    alerts.set(needs.store, found);
  }
  return found;
}

/**
 * Re-reads the registers and school lists into this process's web filter, if one is loaded here:
 * a change takes effect at once in this process, and within the refresh interval in the others.
 */
export async function refreshWebFilter(store: Store): Promise<void> {
  const found = running.get(store);
  if (found) await (await found).state.refresh();
}
