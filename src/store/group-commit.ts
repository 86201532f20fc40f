// Writes from many concurrent callers committed together. Under SQLite's synchronous = FULL every
// commit waits for the disk, and the mail gateway writes its records before it answers: one
// commit for the writes that arrive while the previous commit runs costs one wait instead of one
// each (group commit, as databases do for their own log). Each caller's promise settles only once
// its write is committed. A batch that fails is tried again one write at a time, so that one bad
// write fails its own caller and no other.
//
// On a SQLite file the commits run in the store's writer thread (sqlite-writer.ts), so that the
// event loop goes on while SQLite waits for the disk; elsewhere through Kysely, in a transaction.
import type { CompiledQuery } from 'kysely';
import type { Store } from './database.ts';
import type { SqliteWriter, WriteStatement } from './sqlite-writer.ts';

/** A query as Kysely builds it (insertInto(...).values(...), updateTable(...)...), not run yet. */
export interface Compilable {
  compile(): CompiledQuery;
}

export interface GroupCommit {
  /** Runs the query in the next commit; resolves once it is committed. */
  run(query: Compilable): Promise<void>;
  /** Writes committed, and commits made (for tests and benchmarks). */
  stats(): { writes: number; commits: number };
}

interface Job {
  query: CompiledQuery;
  resolve: () => void;
  reject: (error: unknown) => void;
}

const statementOf = (query: CompiledQuery): WriteStatement => ({
  sql: query.sql,
  width: query.parameters.length,
  values: [...query.parameters],
});

export function createGroupCommit(store: Store): GroupCommit {
  let queue: Job[] = [];
  let flushing = false;
  const counts = { writes: 0, commits: 0 };
  const writer: SqliteWriter | undefined = store.writer?.();

  /** Commits the queries in one transaction. */
  async function commit(batch: readonly Job[]): Promise<void> {
    if (writer) {
      await writer.write(batch.map((job) => statementOf(job.query)));
      return;
    }
    if (batch.length === 1) {
      await store.db.executeQuery(batch[0]!.query);
      return;
    }
    await store.db.transaction().execute(async (trx) => {
      for (const job of batch) await trx.executeQuery(job.query);
    });
  }

  async function alone(job: Job): Promise<void> {
    try {
      await commit([job]);
      counts.writes++;
      counts.commits++;
      job.resolve();
    } catch (error) {
      job.reject(error);
    }
  }

  async function flush(): Promise<void> {
    flushing = true;
    try {
      while (queue.length > 0) {
        const batch = queue;
        queue = [];
        if (batch.length === 1) {
          await alone(batch[0]!);
          continue;
        }
        try {
          await commit(batch);
        } catch {
          // Rolled back whole: each write again on its own, so only the bad one fails.
          for (const job of batch) await alone(job);
          continue;
        }
        counts.writes += batch.length;
        counts.commits++;
        for (const job of batch) job.resolve();
      }
    } finally {
      flushing = false;
    }
  }

  return {
    run(query) {
      return new Promise<void>((resolve, reject) => {
        queue.push({ query: query.compile(), resolve, reject });
        // Writes that come while a commit runs wait for the next one, together.
        if (!flushing) setImmediate(() => void flush());
        flushing = true;
      });
    },
    stats: () => ({ ...counts }),
  };
}
