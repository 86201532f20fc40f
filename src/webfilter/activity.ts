// Activity records (WEB-6, WEB-7): every decision, allowed or blocked, as metadata. The hot path
// calls record(), which folds the decision into an in-memory row for its time window: identical
// decisions (same person, device, address, site, path, decision and reasons) within one window are
// one row with a count of hits. A timer writes each window once it has closed, and keeps the
// visits (visits.ts) current. Filtering never waits on the database; when too many rows wait, the
// oldest are dropped, counted and reported: a loss is never silent.
import type { Logger } from 'pino';
import type { Config } from '../config/config.ts';
import type { Store } from '../store/database.ts';
import { type ActivityRow, type ActivityWriter, activityWriterFor } from './activity.repository.ts';
import { PendingRows } from './activity-rows.ts';
import { createVisitTracker } from './visits.ts';

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
  /**
   * Folds one decision in. What is kept is copied from the event (its arrays are kept as they
   * are, and must not change), so a caller may fill the same event object again for its next
   * call: the DNS filter does, so that a lookup allocates no event.
   */
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

export { searchTermsOf } from './activity-rows.ts';

/**
 * Rows of one visit and window searched for the same decision, newest first, at most: a visit
 * rarely has more rows in one window; one that does (a page of many resources) gets a row more.
 */
const MAX_SEARCH = 32;

// biome-ignore lint/complexity/useMathMinMax: NaN counts as 0 here; Math.max would keep it.
const nonNegative = (n: number): number => (n > 0 ? n : 0);

const byPerson = (a: ActivityRow, b: ActivityRow): number => {
  const x = a.person_id ?? '';
  const y = b.person_id ?? '';
  return x < y ? -1 : x > y ? 1 : 0;
};

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
  const visits = createVisitTracker({ idleMs: (o.visitIdleMinutes ?? 5) * 60_000, capacity });
  const rows = new PendingRows();
  const stats = { written: 0, merged: 0, dropped: 0, failedBatches: 0 };

  /** Rows that failed to be written, oldest first; written before any window. */
  let retry: ActivityRow[] = [];
  let retryHead = 0;
  let nextVisitSync = 0;
  let lastDropReport = 0;
  let running = 0;
  let chain: Promise<void> = Promise.resolve();
  let earlyWrite = false;

  /** Rows waiting (open ones and failed ones): what `capacity` bounds. */
  const waiting = () => rows.size + retry.length - retryHead;

  /** Drops the oldest waiting row (a failed one first), counting the decisions it stood for. */
  function dropOldest(): void {
    if (retryHead < retry.length) {
      stats.dropped += retry[retryHead]!.hits;
      retryHead++;
      return;
    }
    stats.dropped += rows.dropOldest();
  }

  /** Sets failed rows aside for the next attempt, dropping the oldest beyond capacity. */
  function setAside(failed: ActivityRow[]): void {
    const room = Math.max(0, capacity - waiting());
    const lost = Math.max(0, failed.length - room);
    for (let i = 0; i < lost; i++) stats.dropped += failed[i]!.hits;
    const kept = lost > 0 ? failed.slice(lost) : failed;
    retry = kept.concat(retry.slice(retryHead));
    retryHead = 0;
  }

  async function writeDue(all: boolean): Promise<void> {
    const now = clock().getTime();
    const failed = retry.slice(retryHead);
    retry = [];
    retryHead = 0;
    // Only slots are taken here; rows are built a batch at a time below, with the event loop let
    // go between batches, so that a window of many distinct decisions never stalls it. The slots
    // are given back once their batch is written: a batch that fails is built again from them.
    const due = rows.take(now, windowMs, all);
    const total = failed.length + due.length;
    const rowAt = (k: number) =>
      k < failed.length ? failed[k]! : rows.toRow(due[k - failed.length]!, now);
    const release = (from: number, to: number) => {
      for (let k = Math.max(from, failed.length); k < to; k++)
        rows.release(due[k - failed.length]!);
    };
    /**
     * The rows from `from` to `to`, grouped by person: each transaction then touches few pages of
     * the (person_id, at) index, which halves the cost of a row on SQLite. Made in a function of
     * its own so that nothing holds them while the write is awaited: they die young.
     */
    const batchOf = (from: number, to: number): ActivityRow[] => {
      const batch: ActivityRow[] = [];
      for (let k = from; k < to; k++) batch.push(rowAt(k));
      return batch.sort(byPerson);
    };
    for (let i = 0; i < total; i += batchSize) {
      const end = Math.min(total, i + batchSize);
      try {
        await writer.writeActivity(batchOf(i, end));
        stats.written += end - i;
      } catch (error) {
        // The database is away: keep the rows for the next attempt, unless that overflows.
        stats.failedBatches++;
        const rest: ActivityRow[] = [];
        for (let k = i; k < total; k++) rest.push(rowAt(k));
        release(i, total);
        setAside(rest);
        log?.warn(
          { err: error, waiting: waiting() },
          'activity records could not be written; will retry',
        );
        return;
      }
      release(i, end);
      if (end < total) await yieldToLoop();
    }
    if (all || due.length > 0 || now >= nextVisitSync) await writeVisits(now);
  }

  async function writeVisits(now: number): Promise<void> {
    nextVisitSync = (Math.floor(now / windowMs) + 1) * windowMs;
    visits.sweep(now);
    const taken = visits.take(now);
    for (let i = 0; i < taken.length; i += batchSize) {
      const part = taken.slice(i, i + batchSize);
      try {
        await writer.writeVisits(part.map((visit) => visits.toRow(visit)));
      } catch (error) {
        stats.failedBatches++;
        visits.failed(taken.slice(i));
        log?.warn({ err: error }, 'visits could not be written; will retry');
        return;
      }
      visits.written(part);
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

  const due = (now: number): boolean =>
    retryHead < retry.length || now >= nextVisitSync || rows.due(now, windowMs);

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
    const visit = visits.touch(t, e, e.decision === 'block');
    // The visit knows its newest row in its newest window: the same decision is among the few
    // rows of that chain. An event of an earlier window (reported late) gets a row of its own.
    const late = start < visits.rowWindow(visit);
    const bytes = nonNegative(e.bytes);
    const durationMs = nonNegative(e.durationMs);
    if (!late) {
      let row = visits.rowIn(visit, start);
      for (let n = 0; n < MAX_SEARCH && row >= 0 && rows.isOf(row, visit, start); n++) {
        if (rows.sameDecision(row, e)) {
          rows.hit(row, t, bytes, durationMs);
          stats.merged++;
          return;
        }
        row = rows.previousOf(row);
      }
    }
    if (waiting() >= capacity) dropOldest();
    if (late) {
      rows.add(e, t, start, visit, -1, bytes, durationMs);
    } else {
      const newest = visits.rowIn(visit, start);
      const previous = newest >= 0 && rows.isOf(newest, visit, start) ? newest : -1;
      visits.setRow(visit, start, rows.add(e, t, start, visit, previous, bytes, durationMs));
    }
    writeEarlyIfFull();
  }

  /** Many distinct decisions: write before the window closes rather than drop any. */
  function writeEarlyIfFull(): void {
    if (waiting() < capacity / 2 || running !== 0 || earlyWrite) return;
    earlyWrite = true;
    setImmediate(() => {
      earlyWrite = false;
      if (running === 0) void run(true);
    });
  }

  async function flush(): Promise<void> {
    await run(true);
    if (waiting() > 0 && retry.length === 0) await run(true);
  }

  return {
    record,
    stats: () => {
      const v = visits.stats();
      return { queued: waiting(), ...stats, openVisits: v.open, droppedVisits: v.dropped };
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
