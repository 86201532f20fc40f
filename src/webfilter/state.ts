// Keeps the web engine in force for a running gateway: the category lists, the school's lists,
// the registers and the policy, rebuilt into a new immutable engine whenever one of them changes,
// and swapped in whole. Requests in flight finish on the engine they started with.
import type { Logger } from 'pino';
import type { CompiledPolicy } from '../policy/compiled.ts';
import type { PolicyHolder } from '../policy/holder.ts';
import type { Store } from '../store/database.ts';
import { type CategoryIndex, createOverlay } from './categories/index.ts';
import { createWebEngine, type WebEngine } from './engine.ts';
import { loadSchoolLists, loadSubjectRows } from './subjects.repository.ts';
import { buildSubjectSnapshot, packGroupIndex, type SubjectSnapshot } from './subjects.ts';

export interface WebFilterState {
  engine(): WebEngine;
  /** Re-reads the registers and the school's lists now (after a change made in this process). */
  refresh(): Promise<void>;
  /** New category lists (after `custos lists update`). */
  replaceLists(index: CategoryIndex): Promise<void>;
  stop(): void;
}

export async function createWebFilterState(deps: {
  store: Store;
  policy: PolicyHolder;
  lists: CategoryIndex;
  log?: Logger;
  /** How often registers are re-read, for changes made by other processes. */
  refreshMs?: number;
}): Promise<WebFilterState> {
  let lists = deps.lists;
  let subjects: SubjectSnapshot;
  let engine: WebEngine;
  let school = { allow: [] as string[], deny: [] as string[] };

  const rebuild = () => {
    const index = createOverlay(lists, school);
    engine = createWebEngine(deps.policy.current(), index, subjects);
  };
  // What the engine in force was built from. The periodic re-read mostly finds the registers as
  // they were: the engine then stays, and with it what the gateways keep for it (the DNS filter's
  // decisions, the engine's own per-profile sets) instead of all of it being made again.
  let loaded: { policy: CompiledPolicy; rows: string } | null = null;
  const reload = async () => {
    const policy = deps.policy.current();
    const [rows, schoolLists] = await Promise.all([
      loadSubjectRows(deps.store, packGroupIndex(policy.groups)),
      loadSchoolLists(deps.store),
    ]);
    // Every register row and both school lists; the group index comes from the policy.
    const { packGroups: _fromThePolicy, ...registers } = rows;
    const fingerprint = JSON.stringify([registers, schoolLists]);
    if (loaded?.policy === policy && loaded.rows === fingerprint) return;
    subjects = buildSubjectSnapshot(rows);
    school = schoolLists;
    rebuild();
    loaded = { policy, rows: fingerprint };
  };
  await reload();
  const unsubscribe = deps.policy.onChange(() => {
    void reload().catch((err) =>
      deps.log?.error({ err }, 'web filter reload after a policy change failed'),
    );
  });
  const timer = setInterval(() => {
    void reload().catch((err) =>
      deps.log?.warn({ err }, 'web filter could not re-read the registers; keeping the last ones'),
    );
  }, deps.refreshMs ?? 15_000);
  timer.unref();

  return {
    engine: () => engine,
    refresh: reload,
    async replaceLists(index) {
      lists = index;
      rebuild();
    },
    stop() {
      clearInterval(timer);
      unsubscribe();
    },
  };
}
