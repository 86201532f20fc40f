// Activity records (WEB-6, WEB-7): every decision, allowed or blocked, as metadata. The hot path
// calls record(), which folds the decision into an in-memory row for its time window: identical
// decisions (same person, device, address, site, path, decision and reasons) within one window are
// one row with a count of hits. A timer writes each window once it has closed, and keeps the
// visits (visits.ts) current. Filtering never waits on the database; when too many rows wait, the
// oldest are dropped, counted and reported: a loss is never silent.
import type { Logger } from 'pino';
import type { Config } from '../config/config.ts';
import { newTimeId } from '../store/columns.ts';
import type { Store } from '../store/database.ts';
import { type ActivityRow, type ActivityWriter, activityWriterFor } from './activity.repository.ts';
import { createVisitTracker, toVisitRow } from './visits.ts';

export interface ActivityEvent {
  at: Date;
  source: 'proxy' | 'dns' | 'import';
  personId: string | null;
  deviceId: string | null;
  clientIp: string;
  method?: string | null;
  host: string;
  path?: string | null;
  /** Not changed after record(): the recorder holds the event until its window is written. */
  categories: readonly string[];
  decision: 'allow' | 'block';
  reason: string;
  clauseIds: readonly string[];
  status?: number | null;
  bytes: number;
  durationMs: number;
  searchTerms?: string | null;
}

export interface ActivityStats {
  /** Rows waiting to be written; each stands for one decision or more. */
  queued: number;
  /** Rows written. */
  written: number;
  /** Decisions folded into a row already waiting (the same decision within the same window). */
  merged: number;
  /** Decisions lost because too many rows were waiting (the database away, or too slow). */
  dropped: number;
  failedBatches: number;
  /** Visits going on now. */
  openVisits: number;
  /** Ended visits lost because the database was away for too long. */
  droppedVisits: number;
}

export interface ActivityRecorder {
  record(event: ActivityEvent): void;
  stats(): ActivityStats;
  /** Writes everything waiting now, the window still open included, and the visits as they are. */
  flush(): Promise<void>;
  /** Ends the open visits, flushes and stops the timer. */
  stop(): Promise<void>;
}

export interface RecorderOptions {
  /** Rows waiting at most (and visits open at most); beyond, the oldest are dropped and counted. */
  capacity?: number;
  /** Rows per transaction when writing; the event loop is given back between transactions. */
  batchSize?: number;
  /** How often the timer looks for a window that has closed, in milliseconds. */
  flushMs?: number;
  /** Length of a window in seconds, aligned to the clock (60: 10:04:00 to 10:05:00). */
  windowSeconds?: number;
  /** A visit ends after this many minutes without a request. */
  visitIdleMinutes?: number;
  clock?: () => Date;
  log?: Logger;
}

/** The recorder's settings in the configuration (webfilter.activity*, webfilter.visitIdleMinutes). */
export const activityOptionsFrom = (config: Config): RecorderOptions => ({
  windowSeconds: config.webfilter.activityWindowSeconds,
  capacity: config.webfilter.activityMaxWaitingRows,
  visitIdleMinutes: config.webfilter.visitIdleMinutes,
});

/** The settings of recorders made for a store without their own (set from the configuration). */
const configured = new WeakMap<Store, RecorderOptions>();

/**
 * The configured window, bound and visit gap for every recorder on this store that is not given
 * its own. The web filter's runtime calls it before the proxy or the DNS filter makes its recorder.
 */
export function configureActivity(
  store: Store,
  options: Pick<RecorderOptions, 'windowSeconds' | 'visitIdleMinutes' | 'capacity'>,
): void {
  configured.set(store, options);
}

const SEARCH_PARAMS = ['q', 'query', 'p', 'search_query', 'text', 'wd', 'k'];
const SEARCH_HOSTS =
  /(^|\.)(google|bing|duckduckgo|yahoo|ecosia|youtube|baidu|yandex|ask|startpage)\./;

/** Search terms where the URL shows them (WEB-6): q= on known search engines. */
export function searchTermsOf(host: string, path: string | null | undefined): string | null {
  if (!path || !SEARCH_HOSTS.test(host)) return null;
  const q = path.indexOf('?');
  if (q < 0) return null;
  const params = new URLSearchParams(path.slice(q + 1));
  for (const name of SEARCH_PARAMS) {
    const value = params.get(name);
    if (value?.trim()) return value.trim().slice(0, 500);
  }
  return null;
}

// The JSON of the category and clause arrays, computed once per array: the compiled policy hands
// out the same frozen arrays for every decision of a kind.
const jsonByArray = new WeakMap<readonly string[], string>();
const jsonOfSingle = new Map<string, string>();
function jsonOf(values: readonly string[]): string {
  if (values.length === 0) return '[]';
  let json = jsonByArray.get(values);
  if (json !== undefined) return json;
  if (values.length === 1) {
    // One category or clause: often a fresh array per decision, so keyed by its value instead.
    const only = values[0]!;
    json = jsonOfSingle.get(only);
    if (json === undefined) {
      json = JSON.stringify(values);
      if (jsonOfSingle.size < 10_000) jsonOfSingle.set(only, json);
    }
    return json;
  }
  json = JSON.stringify(values);
  if (Object.isFrozen(values)) jsonByArray.set(values, json);
  return json;
}

/** Identical decisions within one window so far: the first one's fields, and the sums. */
interface Pending {
  event: ActivityEvent;
  first: number;
  last: number;
  hits: number;
  bytes: number;
  durationMs: number;
  /** Still taking hits: false once handed to the writer, or dropped. */
  open: boolean;
}

interface Window {
  start: number;
  rows: Pending[];
  /** Rows before this one were dropped (oldest first) or never open. */
  head: number;
}

const sameList = (a: readonly string[], b: readonly string[]): boolean => {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
};

/** The same decision, given the same source, subject and host (the visit's key). */
const sameDecision = (a: ActivityEvent, b: ActivityEvent): boolean =>
  a.path === b.path &&
  a.method === b.method &&
  a.decision === b.decision &&
  a.reason === b.reason &&
  a.status === b.status &&
  a.personId === b.personId &&
  a.deviceId === b.deviceId &&
  a.clientIp === b.clientIp &&
  a.searchTerms === b.searchTerms &&
  sameList(a.categories, b.categories) &&
  sameList(a.clauseIds, b.clauseIds);

function toRow(p: Pending): ActivityRow {
  const e = p.event;
  return {
    id: '', // given when written
    at: new Date(p.first).toISOString(),
    source: e.source,
    person_id: e.personId,
    device_id: e.deviceId,
    client_ip: e.clientIp,
    method: e.method ?? null,
    host: e.host,
    path: e.path ? e.path.slice(0, 2000) : null,
    categories: jsonOf(e.categories),
    decision: e.decision,
    reason: e.reason,
    clause_ids: jsonOf(e.clauseIds),
    status: e.status ?? null,
    bytes: Math.round(p.bytes),
    duration_ms: Math.round(p.durationMs),
    search_terms: e.searchTerms ?? searchTermsOf(e.host, e.path),
    hits: p.hits,
    last_at: p.last > p.first ? new Date(p.last).toISOString() : null,
  };
}

const byPerson = (a: ActivityRow, b: ActivityRow): number => {
  const x = a.person_id ?? '';
  const y = b.person_id ?? '';
  return x < y ? -1 : x > y ? 1 : 0;
};

// biome-ignore lint/complexity/useMathMinMax: NaN counts as 0 here; Math.max would keep it.
const nonNegative = (n: number): number => (n > 0 ? n : 0);

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export function createActivityRecorder(
  store: Store,
  options: RecorderOptions = {},
): ActivityRecorder {
  const o = { ...configured.get(store), ...options };
  const writer: ActivityWriter = activityWriterFor(store);
  const capacity = o.capacity ?? 100_000;
  const batchSize = o.batchSize ?? writer.batchSize ?? 100;
  const windowMs = Math.max(1, Math.round((o.windowSeconds ?? 60) * 1000));
  const clock = o.clock ?? (() => new Date());
  const log = o.log;
  const visits = createVisitTracker<Pending>({
    idleMs: (o.visitIdleMinutes ?? 5) * 60_000,
    capacity,
  });
  const stats = { written: 0, merged: 0, dropped: 0, failedBatches: 0 };

  const windows = new Map<number, Window>();
  let current: Window | null = null;
  /** Rows that failed to be written, oldest first; written before any window. */
  let retry: ActivityRow[] = [];
  let retryHead = 0;
  /** Rows in windows and in retry: what `capacity` bounds. */
  let waiting = 0;
  let nextVisitSync = 0;
  let lastDropReport = 0;
  let running = 0;
  let chain: Promise<void> = Promise.resolve();
  let earlyWrite = false;

  function windowAt(start: number): Window {
    if (current !== null && current.start === start) return current;
    let w = windows.get(start);
    if (w === undefined) {
      w = { start, rows: [], head: 0 };
      windows.set(start, w);
    }
    current = w;
    return w;
  }

  /** Drops the oldest waiting row (a failed one first), counting the decisions it stood for. */
  function dropOldest(): void {
    if (retryHead < retry.length) {
      stats.dropped += retry[retryHead]!.hits;
      retryHead++;
      waiting--;
      return;
    }
    for (const w of windows.values()) {
      while (w.head < w.rows.length) {
        const p = w.rows[w.head++]!;
        if (!p.open) continue;
        p.open = false;
        stats.dropped += p.hits;
        waiting--;
        return;
      }
    }
  }

  /** Sets failed rows aside for the next attempt, dropping the oldest beyond capacity. */
  function setAside(rows: ActivityRow[]): void {
    const room = Math.max(0, capacity - waiting);
    const lost = Math.max(0, rows.length - room);
    for (let i = 0; i < lost; i++) stats.dropped += rows[i]!.hits;
    const kept = lost > 0 ? rows.slice(lost) : rows;
    retry = kept.concat(retry.slice(retryHead));
    retryHead = 0;
    waiting += kept.length;
  }

  async function writeDue(all: boolean): Promise<void> {
    const now = clock().getTime();
    const failed = retry.slice(retryHead);
    waiting -= failed.length;
    retry = [];
    retryHead = 0;
    let windowClosed = false;
    // Only references are gathered here; rows are built a batch at a time below, with the event
    // loop let go between batches, so that a window of many distinct decisions never stalls it.
    const due: Pending[] = [];
    for (const [start, w] of windows) {
      if (!all && start + windowMs > now) continue;
      windows.delete(start);
      if (current === w) current = null;
      windowClosed = true;
      for (let i = w.head; i < w.rows.length; i++) {
        const p = w.rows[i]!;
        if (!p.open) continue;
        p.open = false;
        waiting--;
        due.push(p);
      }
    }
    const total = failed.length + due.length;
    for (let i = 0; i < total; i += batchSize) {
      const end = Math.min(total, i + batchSize);
      const batch: ActivityRow[] = [];
      for (let k = i; k < end; k++)
        batch.push(k < failed.length ? failed[k]! : toRow(due[k - failed.length]!));
      // Grouped by person: each transaction then touches few pages of the (person_id, at)
      // index, which halves the cost of a row on SQLite. Ids are given in that order.
      batch.sort(byPerson);
      for (const row of batch) row.id ||= newTimeId(now);
      try {
        await writer.writeActivity(batch);
        stats.written += batch.length;
      } catch (error) {
        // The database is away: keep the rows for the next attempt, unless that overflows.
        stats.failedBatches++;
        const rest: ActivityRow[] = batch;
        for (let k = end; k < total; k++)
          rest.push(k < failed.length ? failed[k]! : toRow(due[k - failed.length]!));
        setAside(rest);
        log?.warn({ err: error, waiting }, 'activity records could not be written; will retry');
        return;
      }
      if (end < total) await yieldToLoop();
    }
    if (all || windowClosed || now >= nextVisitSync) await writeVisits(now);
  }

  async function writeVisits(now: number): Promise<void> {
    nextVisitSync = (Math.floor(now / windowMs) + 1) * windowMs;
    visits.sweep(now);
    const taken = visits.take(now);
    for (let i = 0; i < taken.length; i += batchSize) {
      const part = taken.slice(i, i + batchSize);
      try {
        await writer.writeVisits(part.map(toVisitRow));
      } catch (error) {
        stats.failedBatches++;
        visits.failed(taken.slice(i));
        log?.warn({ err: error }, 'visits could not be written; will retry');
        return;
      }
      if (i + batchSize < taken.length) await yieldToLoop();
    }
  }

  /** Writes run one after another; `all` writes the windows still open as well. */
  function run(all: boolean): Promise<void> {
    running++;
    const done = chain
      .then(() => writeDue(all))
      .catch((error: unknown) => {
        log?.error({ err: error }, 'activity records: writing failed');
      })
      .finally(() => {
        running--;
        // Rows may have piled up while this write ran: start on them now, not at the next one.
        writeEarlyIfFull();
      });
    chain = done;
    return done;
  }

  function due(now: number): boolean {
    if (retryHead < retry.length || now >= nextVisitSync) return true;
    for (const start of windows.keys()) if (start + windowMs <= now) return true;
    return false;
  }

  const timer = setInterval(() => {
    if (running === 0 && due(clock().getTime())) void run(false);
    if (stats.dropped > lastDropReport) {
      log?.error(
        { dropped: stats.dropped - lastDropReport, totalDropped: stats.dropped },
        'activity records dropped: too many were waiting to be written',
      );
      lastDropReport = stats.dropped;
    }
  }, o.flushMs ?? 1000);
  timer.unref();

  function record(e: ActivityEvent): void {
    const t = e.at.getTime();
    const start = t - (t % windowMs);
    const blocked = e.decision === 'block';
    const visit = visits.touch(t, e, blocked);
    // The visit holds its rows of the current window by path: the same decision is among a few.
    if (visit.window !== start && !(start < visit.window)) {
      visit.window = start;
      visit.rows = null;
    }
    const pathKey = e.path ?? '';
    let mine: Pending[] | null = null; // null: a late event, not merged
    if (visit.window === start) {
      visit.rows ??= new Map();
      mine = visit.rows.get(pathKey) ?? null;
      if (mine === null) {
        mine = [];
        visit.rows.set(pathKey, mine);
      }
    }
    const bytes = nonNegative(e.bytes);
    const durationMs = nonNegative(e.durationMs);
    if (mine !== null) {
      for (let i = mine.length - 1; i >= 0; i--) {
        const row = mine[i]!;
        if (!row.open || !sameDecision(row.event, e)) continue;
        row.hits++;
        if (t > row.last) row.last = t;
        else if (t < row.first) row.first = t;
        row.bytes += bytes;
        row.durationMs += durationMs;
        stats.merged++;
        return;
      }
    }
    if (waiting >= capacity) dropOldest();
    const row: Pending = { event: e, first: t, last: t, hits: 1, bytes, durationMs, open: true };
    windowAt(start).rows.push(row);
    mine?.push(row);
    waiting++;
    writeEarlyIfFull();
  }

  /** Many distinct decisions: write before the window closes rather than drop any. */
  function writeEarlyIfFull(): void {
    if (waiting < capacity / 2 || running !== 0 || earlyWrite) return;
    earlyWrite = true;
    setImmediate(() => {
      earlyWrite = false;
      if (running === 0) void run(true);
    });
  }

  async function flush(): Promise<void> {
    await run(true);
    if (waiting > 0 && retry.length === 0) await run(true);
  }

  return {
    record,
    stats: () => {
      const v = visits.stats();
      return { queued: waiting, ...stats, openVisits: v.open, droppedVisits: v.dropped };
    },
    flush,
    async stop() {
      clearInterval(timer);
      visits.sweep(clock().getTime(), true);
      await flush();
      await writer.close();
    },
  };
}
