// The web filter as a running process holds it: the category lists loaded once (with progress
// logged) and the WebFilterState that keeps the engine current. Shared by the proxy and the API's
// "test a URL" within one process, so the lists are held in memory once.
import type { Logger } from 'pino';
import type { Config } from '../config/config.ts';
import type { PolicyHolder } from '../policy/holder.ts';
import type { Store } from '../store/database.ts';
import { type LoadReport, loadCategories } from './categories/index.ts';
import { createWebFilterState, type WebFilterState } from './state.ts';

export interface WebFilterRuntime {
  readonly state: WebFilterState;
  readonly report: LoadReport;
}

interface Needs {
  config: Config;
  store: Store;
  policy: PolicyHolder;
  log: Logger;
}

const running = new WeakMap<Store, Promise<WebFilterRuntime>>();

/** Loads the lists named by config.webfilter.lists and builds the engine state. */
export async function loadWebFilter(needs: Needs): Promise<WebFilterRuntime> {
  const { config, log } = needs;
  const source = config.webfilter.lists;
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
  const state = await createWebFilterState({
    store: needs.store,
    policy: needs.policy,
    lists: index,
    log,
  });
  return { state, report };
}

/** The process's web filter for this store, loaded on first use. */
export function webFilterFor(needs: Needs): Promise<WebFilterRuntime> {
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
