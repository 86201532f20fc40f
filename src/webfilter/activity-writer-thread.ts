// The SQLite activity writer's thread (activity.repository.ts): its own connection, the two
// prepared inserts it is given, and one transaction per message. The proxy's and DNS filter's
// event loop then never waits for SQLite, and batches can be large: the (person_id, at) indexes
// cost far less a row when a transaction holds many rows of each person.
//
// The thread runs the plain JavaScript below (`eval`), not a module file: it then starts the same
// way from the compiled build, from source under tsx and under the test runner, none of which
// would agree on how to load a TypeScript file in a new thread. It loads better-sqlite3 from the
// path the parent resolved, so the working folder does not matter.

export interface WriterSetup {
  /** Where better-sqlite3 is (require.resolve in the parent). */
  driver: string;
  file: string;
  /** The insert for each kind of row, by kind: 0 activity, 1 visits. */
  statements: [string, string];
  /** Values a row, for each kind. */
  widths: [number, number];
}

/** A batch: the values of its rows one after another, in the statement's column order. */
export interface WriteRequest {
  seq: number;
  kind: 0 | 1;
  values: unknown[];
}

export interface WriteReply {
  seq: number;
  error?: string;
}

/** The thread's code; `'close'` closes the connection and ends it. */
export const WRITER_THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.pragma('busy_timeout = 5000');
// Prepared on first use, and again after a failure (the table may have been out of reach).
let prepared = null;
const write = db.transaction((kind, values) => {
  prepared ??= workerData.statements.map((text) => db.prepare(text));
  const statement = prepared[kind];
  const width = workerData.widths[kind];
  // Spread: better-sqlite3 binds positional arguments faster than an array's elements.
  for (let i = 0; i < values.length; i += width) statement.run(...values.slice(i, i + width));
});
parentPort.on('message', (message) => {
  if (message === 'close') {
    db.close();
    parentPort.close();
    return;
  }
  const reply = { seq: message.seq };
  try {
    write(message.kind, message.values);
  } catch (error) {
    prepared = null;
    reply.error = error instanceof Error ? error.message : String(error);
  }
  parentPort.postMessage(reply);
});
`;
