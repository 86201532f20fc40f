// Writes from many concurrent callers committed together. Under SQLite's synchronous = FULL every
// commit waits for the disk, and the mail gateway writes its records before it answers: one
// commit for the writes that arrive while the previous commit runs costs one wait instead of one
// each (group commit, as databases do for their own log). Each caller's promise settles only once
// its write is committed. A batch that fails is tried again one write at a time, so that one bad
// write fails its own caller and no other.
import type { Kysely, Transaction } from 'kysely';
import type { Store } from './database.ts';
import type { Database } from './schema.ts';

export type Write = (db: Kysely<Database> | Transaction<Database>) => Promise<unknown>;

export interface GroupCommit {
  /** Runs `write` in the next commit; resolves once it is committed. */
  run(write: Write): Promise<void>;
  /** Writes committed, and commits made (for tests and benchmarks). */
  stats(): { writes: number; commits: number };
}

interface Job {
  write: Write;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export function createGroupCommit(store: Store): GroupCommit {
  let queue: Job[] = [];
  let flushing = false;
  const counts = { writes: 0, commits: 0 };

  async function alone(job: Job): Promise<void> {
    try {
      await job.write(store.db);
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
          await store.db.transaction().execute(async (trx) => {
            for (const job of batch) await job.write(trx);
          });
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
    run(write) {
      return new Promise<void>((resolve, reject) => {
        queue.push({ write, resolve, reject });
        // Writes that come while a commit runs wait for the next one, together.
        if (!flushing) setImmediate(() => void flush());
        flushing = true;
      });
    },
    stats: () => ({ ...counts }),
  };
}
