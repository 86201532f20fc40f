// Activity records (WEB-6, WEB-7): every decision, allowed or blocked, as metadata. The hot path
// calls record(), which only pushes onto a bounded in-memory queue; a timer writes batches to the
// store. When the queue is full the oldest waiting record is dropped, counted and reported:
// filtering never waits on the database, and a loss is never silent.
import SqliteDatabase from 'better-sqlite3';
import type { Logger } from 'pino';
import { newId, toJson } from '../store/columns.ts';
import type { Store } from '../store/database.ts';
import type { WebActivityTable } from '../store/schema.ts';

export interface ActivityEvent {
  at: Date;
  source: 'proxy' | 'dns' | 'import';
  personId: string | null;
  deviceId: string | null;
  clientIp: string;
  method?: string | null;
  host: string;
  path?: string | null;
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
  queued: number;
  written: number;
  dropped: number;
  failedBatches: number;
}

export interface ActivityRecorder {
  record(event: ActivityEvent): void;
  stats(): ActivityStats;
  /** Writes everything queued now. */
  flush(): Promise<void>;
  /** Flushes and stops the timer. */
  stop(): Promise<void>;
}

export interface RecorderOptions {
  capacity?: number;
  batchSize?: number;
  flushMs?: number;
  log?: Logger;
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

function toRow(e: ActivityEvent): WebActivityTable {
  return {
    id: newId(),
    at: e.at.toISOString(),
    source: e.source,
    person_id: e.personId,
    device_id: e.deviceId,
    client_ip: e.clientIp,
    method: e.method ?? null,
    host: e.host,
    path: e.path ? e.path.slice(0, 2000) : null,
    categories: toJson(e.categories),
    decision: e.decision,
    reason: e.reason,
    clause_ids: toJson(e.clauseIds),
    status: e.status ?? null,
    bytes: Math.max(0, Math.round(e.bytes)),
    duration_ms: Math.max(0, Math.round(e.durationMs)),
    search_terms: e.searchTerms ?? searchTermsOf(e.host, e.path),
  };
}

const COLUMNS = [
  'id',
  'at',
  'source',
  'person_id',
  'device_id',
  'client_ip',
  'method',
  'host',
  'path',
  'categories',
  'decision',
  'reason',
  'clause_ids',
  'status',
  'bytes',
  'duration_ms',
  'search_terms',
] as const satisfies readonly (keyof WebActivityTable)[];

type BatchWriter = (rows: WebActivityTable[]) => Promise<void>;

/**
 * On SQLite, activity gets a connection of its own with one prepared statement and
 * `synchronous = NORMAL`: in WAL mode a commit then needs no fsync, so a batch costs well under a
 * millisecond of the event loop that the proxy and DNS filter share. (A power cut may lose the
 * last second of activity records; the mail gateway's records keep the main connection's FULL.)
 * PostgreSQL writes through Kysely: the driver is asynchronous already.
 */
function batchWriterFor(store: Store): { write: BatchWriter; close(): void } {
  if (store.dialect === 'sqlite' && store.sqliteFile) {
    const db = new SqliteDatabase(store.sqliteFile);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    const text = `insert into web_activity (${COLUMNS.join(', ')}) values (${COLUMNS.map(() => '?').join(', ')})`;
    // Prepared on first use, and again after a failure (the table may have been out of reach).
    let insert: SqliteDatabase.Statement | null = null;
    const writeAll = db.transaction((rows: WebActivityTable[]) => {
      insert ??= db.prepare(text);
      for (const row of rows) insert.run(COLUMNS.map((c) => row[c]));
    });
    return {
      write: async (rows) => {
        try {
          writeAll(rows);
        } catch (error) {
          insert = null;
          throw error;
        }
      },
      close: () => db.close(),
    };
  }
  return {
    write: async (rows) => {
      await store.db.insertInto('web_activity').values(rows).execute();
    },
    close: () => {},
  };
}

export function createActivityRecorder(
  store: Store,
  options: RecorderOptions = {},
): ActivityRecorder {
  const writer = batchWriterFor(store);
  const capacity = options.capacity ?? 100_000;
  const batchSize = options.batchSize ?? 500;
  const queue: ActivityEvent[] = [];
  let head = 0; // index of the oldest waiting event (a ring would save the splice; batches are small)
  const stats: ActivityStats = { queued: 0, written: 0, dropped: 0, failedBatches: 0 };
  let writing: Promise<void> | null = null;
  let lastDropReport = 0;

  async function writeSome(): Promise<void> {
    while (queue.length - head > 0) {
      const batch = queue.slice(head, head + batchSize);
      head += batch.length;
      if (head > 10_000) {
        queue.splice(0, head);
        head = 0;
      }
      try {
        await writer.write(batch.map(toRow));
        stats.written += batch.length;
      } catch (error) {
        // The database is away: put the batch back at the front, unless that overflows.
        stats.failedBatches++;
        const room = capacity - (queue.length - head);
        const keep = batch.slice(Math.max(0, batch.length - room));
        stats.dropped += batch.length - keep.length;
        queue.splice(head, 0, ...keep);
        options.log?.warn(
          { err: error, waiting: queue.length - head },
          'activity records could not be written; will retry',
        );
        return;
      }
    }
  }

  function flushNow(): Promise<void> {
    writing ??= writeSome().finally(() => {
      writing = null;
    });
    return writing;
  }

  const timer = setInterval(() => {
    void flushNow();
    if (stats.dropped > lastDropReport) {
      options.log?.error(
        { dropped: stats.dropped - lastDropReport, totalDropped: stats.dropped },
        'activity records dropped: the queue was full',
      );
      lastDropReport = stats.dropped;
    }
  }, options.flushMs ?? 1000);
  timer.unref();

  return {
    record(event) {
      if (queue.length - head >= capacity) {
        head++; // drop the oldest waiting record
        stats.dropped++;
      }
      queue.push(event);
      if (queue.length - head >= batchSize && !writing) void flushNow();
    },
    stats: () => ({ ...stats, queued: queue.length - head }),
    async flush() {
      await flushNow();
      if (queue.length - head > 0) await flushNow();
    },
    async stop() {
      clearInterval(timer);
      await flushNow();
      if (queue.length - head > 0) await flushNow();
      writer.close();
    },
  };
}
