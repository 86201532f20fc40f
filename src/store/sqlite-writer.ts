// A SQLite connection in a thread of its own that runs batches of writes, each batch in one
// transaction. better-sqlite3 is synchronous: on the main connection a commit holds the event loop
// until SQLite is done, and with synchronous = FULL until the disk has the data. The web filter's
// activity records and the mail gateway's records of messages in flight are written here instead,
// so that the proxy, the DNS filter and the relay go on answering meanwhile.
//
// The thread runs the plain JavaScript below (`eval`), not a module file: it then starts the same
// way from the compiled build, from source under tsx and under the test runner, none of which
// would agree on how to load a TypeScript file in a new thread. It loads better-sqlite3 from the
// path the parent resolved, so the working folder does not matter.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** One statement, run once per row of `values` (`width` values a row; once when `width` is 0). */
export interface WriteStatement {
  sql: string;
  width: number;
  values: unknown[];
}

export interface SqliteWriterOptions {
  /** FULL: a batch is on the disk when its promise settles; NORMAL: it may lose the last second. */
  synchronous: 'FULL' | 'NORMAL';
  foreignKeys: boolean;
}

export interface SqliteWriter {
  /** Runs the statements in one transaction: all or none. Resolves once committed. */
  write(statements: WriteStatement[]): Promise<void>;
  /** Ends the thread once what is in flight is done. */
  close(): Promise<void>;
}

interface WriterSetup extends SqliteWriterOptions {
  /** Where better-sqlite3 is (require.resolve in the parent). */
  driver: string;
  file: string;
}

interface WriteRequest {
  seq: number;
  statements: WriteStatement[];
}

interface WriteReply {
  seq: number;
  error?: string;
}

/** The thread's code; `'close'` closes the connection and ends it. */
const WRITER_THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = ' + (workerData.synchronous === 'FULL' ? 'FULL' : 'NORMAL'));
db.pragma('foreign_keys = ' + (workerData.foreignKeys ? 'ON' : 'OFF'));
db.pragma('busy_timeout = 5000');
// Statements prepared on first use, by their SQL; dropped after a failure (a table may have been
// out of reach) and when there are many.
const prepared = new Map();
const statement = (sql) => {
  let found = prepared.get(sql);
  if (found === undefined) {
    if (prepared.size >= 100) prepared.clear();
    found = db.prepare(sql);
    prepared.set(sql, found);
  }
  return found;
};
// A Buffer arrives as a Uint8Array; better-sqlite3 binds a Buffer as a blob.
const bound = (v) => (v instanceof Uint8Array && !Buffer.isBuffer(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : v);
const write = db.transaction((statements) => {
  for (const s of statements) {
    const run = statement(s.sql);
    const values = s.values.map(bound);
    if (s.width === 0) run.run();
    // Spread: better-sqlite3 binds positional arguments faster than an array's elements.
    else for (let i = 0; i < values.length; i += s.width) run.run(...values.slice(i, i + s.width));
  }
});
parentPort.on('message', (message) => {
  if (message === 'close') {
    db.close();
    parentPort.close();
    return;
  }
  const reply = { seq: message.seq };
  try {
    write(message.statements);
  } catch (error) {
    prepared.clear();
    reply.error = error instanceof Error ? error.message : String(error);
  }
  parentPort.postMessage(reply);
});
`;

export function createSqliteWriter(file: string, options: SqliteWriterOptions): SqliteWriter {
  const setup: WriterSetup = {
    driver: createRequire(import.meta.url).resolve('better-sqlite3'),
    file,
    ...options,
  };
  const pending = new Map<number, { resolve(): void; reject(error: Error): void }>();
  let seq = 0;
  let worker: Worker | null = null;
  let closed: Promise<void> | null = null;

  /** The writer's thread, started again after it failed. */
  const thread = (): Worker => {
    if (worker) return worker;
    const started = new Worker(WRITER_THREAD_SOURCE, { eval: true, workerData: setup });
    started.on('message', (reply: WriteReply) => {
      const waiter = pending.get(reply.seq);
      pending.delete(reply.seq);
      if (pending.size === 0) started.unref();
      if (reply.error === undefined) waiter?.resolve();
      else waiter?.reject(new Error(reply.error));
    });
    const fail = (error: Error) => {
      if (worker === started) worker = null;
      for (const waiter of pending.values()) waiter.reject(error);
      pending.clear();
    };
    started.on('error', fail);
    started.on('exit', (code) => fail(new Error(`the SQLite writer stopped (exit code ${code})`)));
    started.unref();
    worker = started;
    return started;
  };

  return {
    write(statements) {
      if (statements.length === 0) return Promise.resolve();
      if (closed) return Promise.reject(new Error('the SQLite writer is closed'));
      return new Promise<void>((resolve, reject) => {
        const request: WriteRequest = { seq: ++seq, statements };
        pending.set(request.seq, { resolve, reject });
        // Keeps the process alive only while a write is in flight.
        const target = thread();
        target.ref();
        target.postMessage(request);
      });
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        if (!worker) return resolve();
        worker.ref();
        worker.once('exit', () => resolve());
        worker.postMessage('close');
      });
      return closed;
    },
  };
}
