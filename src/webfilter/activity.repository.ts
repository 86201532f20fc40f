// Writes activity rows and visits for the recorder (activity.ts). On SQLite it keeps a connection
// of its own with prepared statements; on PostgreSQL it goes through Kysely, whose driver is
// asynchronous already. Rows carry their id from the first attempt, and an id already stored is
// skipped, so a batch retried after an ambiguous failure is never stored twice.
import type { Store } from '../store/database.ts';
import type { WebVisitsTable } from '../store/schema.ts';
import { createSqliteWriter } from '../store/sqlite-writer.ts';

/** A web_activity row as the recorder writes it (hits and last_at always given). */
export interface ActivityRow {
  id: string;
  at: string;
  source: string;
  person_id: string | null;
  device_id: string | null;
  client_ip: string;
  method: string | null;
  host: string;
  path: string | null;
  categories: string;
  decision: string;
  reason: string;
  clause_ids: string;
  status: number | null;
  bytes: number;
  duration_ms: number;
  search_terms: string | null;
  hits: number;
  last_at: string | null;
}

export const ACTIVITY_COLUMNS = [
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
  'hits',
  'last_at',
] as const satisfies readonly (keyof ActivityRow)[];

const VISIT_COLUMNS = [
  'id',
  'source',
  'person_id',
  'device_id',
  'client_ip',
  'host',
  'started_at',
  'ended_at',
  'duration_ms',
  'requests',
  'blocked',
  'bytes',
  'closed',
] as const satisfies readonly (keyof WebVisitsTable)[];

/**
 * What a visit row may change once inserted: it is written again while it goes on. Not its start,
 * so that an update touches no index.
 */
const VISIT_UPDATES = [
  'ended_at',
  'duration_ms',
  'requests',
  'blocked',
  'bytes',
  'closed',
] as const satisfies readonly (keyof WebVisitsTable)[];

export interface ActivityWriter {
  /** Writes the rows in one transaction: all or none. */
  writeActivity(rows: readonly ActivityRow[]): Promise<void>;
  /** Inserts visits, or brings rows already written up to date (by id). */
  writeVisits(rows: readonly WebVisitsTable[]): Promise<void>;
  /** Rows a batch, when the writer wants other than the recorder's default. */
  batchSize?: number;
  /** Waits for nothing in flight: call after the last write has settled. */
  close(): Promise<void>;
}

/**
 * On SQLite, activity is written by a thread of its own (store/sqlite-writer.ts) on a connection
 * of its own with `synchronous = NORMAL`: in WAL mode a commit then needs no fsync, and the event
 * loop that the proxy and DNS filter share only hands the rows over. (A power cut may lose the last
 * second of what was written; the mail gateway's records are written with FULL.)
 */
export function activityWriterFor(store: Store): ActivityWriter {
  if (store.dialect === 'sqlite' && store.sqliteFile) return sqliteWriter(store.sqliteFile);
  return {
    async writeActivity(rows) {
      if (rows.length === 0) return;
      await store.db
        .insertInto('web_activity')
        .values(rows as ActivityRow[])
        .onConflict((oc) => oc.column('id').doNothing())
        .execute();
    },
    async writeVisits(rows) {
      if (rows.length === 0) return;
      await store.db
        .insertInto('web_visits')
        .values(rows as WebVisitsTable[])
        .onConflict((oc) =>
          oc
            .column('id')
            .doUpdateSet((eb) =>
              Object.fromEntries(VISIT_UPDATES.map((c) => [c, eb.ref(`excluded.${c}`)])),
            ),
        )
        .execute();
    },
    close: async () => {},
  };
}

function sqliteWriter(file: string): ActivityWriter {
  // One row per statement, prepared once, in one transaction per batch: measured faster than
  // multi-row statements of 10 to 100 rows (docs/decisions/005-aggregated-web-activity.md).
  const insertText = `insert into web_activity (${ACTIVITY_COLUMNS.join(', ')}) values (${ACTIVITY_COLUMNS.map(
    () => '?',
  ).join(', ')}) on conflict (id) do nothing`;
  const visitText = `insert into web_visits (${VISIT_COLUMNS.join(', ')}) values (${VISIT_COLUMNS.map(
    () => '?',
  ).join(', ')}) on conflict (id) do update set ${VISIT_UPDATES.map(
    (c) => `${c} = excluded.${c}`,
  ).join(', ')}`;
  const writer = createSqliteWriter(file, { synchronous: 'NORMAL', foreignKeys: false });
  const send = <T>(sqlText: string, rows: readonly T[], columns: readonly (keyof T)[]) => {
    // Sized once: a batch is thousands of rows of a dozen or more values.
    const width = columns.length;
    const values = new Array<unknown>(rows.length * width);
    let k = 0;
    for (const row of rows) for (let c = 0; c < width; c++) values[k++] = row[columns[c]!];
    return writer.write([{ sql: sqlText, width, values }]);
  };
  return {
    batchSize: 2000,
    writeActivity: (rows) => send(insertText, rows, ACTIVITY_COLUMNS),
    writeVisits: (rows) => send(visitText, rows, VISIT_COLUMNS),
    close: () => writer.close(),
  };
}
