// Benchmark: the activity recorder (src/webfilter/activity.ts) on its own, as the DNS filter and
// the proxy drive it, against a real SQLite file: CPU per record() call, CPU spent writing, and
// all of it per decision. Beside it, in the same run, the peer: the same decisions written one row
// each, with random UUIDs, 500 to a transaction on a connection of its own (what the recorder did
// before decision 005, and the floor cost of one row per decision).
//
// Run it (about a minute):
//   npx tsx bench/activity.ts
//   npx tsx bench/activity.ts --events 1000000 --hosts 5000 --clients 300 --minutes 10 --paths 1
//   npx tsx bench/activity.ts --no-peer
//   npx tsx bench/activity.ts --events 300000 --hosts 200000 --skew 1   (mostly distinct names)
//
// Decisions: --events spread evenly over --minutes of simulated time (the recorder's clock follows
// them), from --clients people (each with a device and an address) to --hosts names chosen with a
// skew (a few names take most of the lookups, as in real traffic), one name in ten blocked under
// the same categories and clauses, A and AAAA alternating (DNS) or, with --paths N above 1, one of
// N paths per host (proxy). The loop runs in chunks of 10,000 decisions and lets timers run between
// chunks, so windows close and are written as in service; while half the recorder's bound waits it
// lets the writer catch up, so that nothing is dropped (it says so if anything was). Times are CPU
// time of all the process's threads, the writer's included, not wall time (the machine may be
// busy); the cost of building each event is measured alone and subtracted.

import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import SqliteDatabase from 'better-sqlite3';
import { sql } from 'kysely';
import { openStore, type Store } from '../src/store/database.ts';
import { migrate } from '../src/store/migrations/index.ts';
import { ACTIVITY_COLUMNS } from '../src/webfilter/activity.repository.ts';
import { type ActivityEvent, createActivityRecorder } from '../src/webfilter/activity.ts';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    hosts: { type: 'string', default: '5000' },
    clients: { type: 'string', default: '300' },
    minutes: { type: 'string', default: '10' },
    paths: { type: 'string', default: '1' },
    // How names are chosen: index = hosts * random() ** skew; 1 is uniform (every name as likely,
    // as the DNS benchmark's blocked half), 3 (the default) gives a few names most lookups.
    skew: { type: 'string', default: '3' },
    'no-peer': { type: 'boolean', default: false },
  },
});
const EVENTS = Number(args.events);
const HOSTS = Number(args.hosts);
const CLIENTS = Number(args.clients);
const SPAN_MS = Number(args.minutes) * 60_000;
const PATHS = Number(args.paths);
const SKEW = Number(args.skew);
const CHUNK = 10_000;
/** Rows waiting in the recorder at which it writes early, and the driver waits for that. */
const BACKLOG = 50_000;
const START = Date.UTC(2026, 2, 2, 9, 0, 0);

const hosts = Array.from({ length: HOSTS }, (_, i) => `site-${i}.example.org`);
const paths = Array.from({ length: PATHS }, (_, i) => `/page/${i}?ref=bench`);
const clients = Array.from({ length: CLIENTS }, (_, i) => ({
  personId: randomUUID(),
  deviceId: randomUUID(),
  clientIp: `10.0.${i >> 8}.${i & 255}`,
}));
// The compiled policy hands out the same frozen arrays for every decision of a kind.
const BLOCKED_CATEGORIES = Object.freeze(['social_networks']);
const BLOCKED_CLAUSES = Object.freeze(['SYS-5']);
const NONE = Object.freeze([] as string[]);

// A fixed pseudo-random sequence, so that runs and the peer see the same decisions.
// (mulberry32: a full 2^32 period, in 32-bit integer arithmetic that stays exact.)
let seed = 42;
const random = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
};

function eventAt(i: number, t: number): ActivityEvent {
  const h = Math.floor(HOSTS * random() ** SKEW);
  const c = clients[Math.floor(CLIENTS * random())]!;
  const blocked = h % 10 === 0;
  const proxy = PATHS > 1;
  return {
    at: new Date(t),
    source: proxy ? 'proxy' : 'dns',
    personId: c.personId,
    deviceId: c.deviceId,
    clientIp: c.clientIp,
    method: proxy ? 'GET' : i % 2 === 0 ? 'A' : 'AAAA',
    host: hosts[h]!,
    path: proxy ? paths[Math.floor(PATHS * random())]! : null,
    categories: blocked ? BLOCKED_CATEGORIES : NONE,
    decision: blocked ? 'block' : 'allow',
    reason: blocked ? 'category' : 'none',
    clauseIds: blocked ? BLOCKED_CLAUSES : NONE,
    status: proxy ? (blocked ? 403 : 200) : null,
    bytes: 120,
    durationMs: 0.4,
  };
}

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const pause = () => new Promise((resolve) => setTimeout(resolve, 15));
const timeAt = (i: number) => START + (i * SPAN_MS) / EVENTS;

/**
 * Feeds every decision to `record` in chunks; answers the CPU of the record() calls alone. After
 * each chunk it waits while `backlog()` says more rows wait than the recorder would hold in
 * service: simulated time runs hundreds of times faster than real time, and without the wait the
 * writer (bounded by real time) would fall behind and rows would be dropped, not written.
 */
async function drive(
  record: (e: ActivityEvent) => void,
  onTime: (t: number) => void,
  backlog: () => number = () => 0,
) {
  seed = 42;
  let recordMs = 0;
  for (let i = 0; i < EVENTS; ) {
    const end = Math.min(EVENTS, i + CHUNK);
    const c = cpuMs();
    for (; i < end; i++) {
      onTime(timeAt(i));
      record(eventAt(i, timeAt(i)));
    }
    recordMs += cpuMs() - c;
    await pause();
    while (backlog() >= BACKLOG) await pause();
  }
  return recordMs;
}

async function freshStore(dir: string, name: string): Promise<Store> {
  const store = await openStore({ sqlitePath: join(dir, name) });
  await migrate(store);
  return store;
}

const count = async (store: Store, table: 'web_activity' | 'web_visits') =>
  Number(
    (await sql<{ n: number }>`select count(*) as n from ${sql.table(table)}`.execute(store.db))
      .rows[0]?.n,
  );

const dir = mkdtempSync(join(tmpdir(), 'custos-bench-activity-'));

// The cost of building the events, measured alone.
seed = 42;
let sink = 0;
const e0 = cpuMs();
for (let i = 0; i < EVENTS; i++) sink += eventAt(i, timeAt(i)).host.length;
const eventMs = cpuMs() - e0;

// --- the recorder --------------------------------------------------------------------------
const store = await freshStore(dir, 'custos.db');
let simNow = START;
const recorder = createActivityRecorder(store, { flushMs: 10, clock: () => new Date(simNow) });
const r0 = cpuMs();
const recordMs = await drive(
  (e) => recorder.record(e),
  (t) => {
    simNow = t;
  },
  () => recorder.stats().queued,
);
simNow = START + SPAN_MS;
await recorder.flush();
const recorderMs = cpuMs() - r0 - eventMs;
await recorder.stop();
const custos = {
  nsPerRecord: Math.round(((recordMs - eventMs) * 1e6) / EVENTS),
  cpuMsWriting: Math.round(recorderMs - (recordMs - eventMs)),
  nsPerDecisionAllIn: Math.round((recorderMs * 1e6) / EVENTS),
  rows: await count(store, 'web_activity'),
  visits: await count(store, 'web_visits'),
  stats: recorder.stats(),
};
await store.destroy();

// --- the peer: one row per decision ----------------------------------------------------------
let peer: Record<string, number> | null = null;
if (!args['no-peer']) {
  const peerStore = await freshStore(dir, 'peer.db');
  await peerStore.destroy();
  const db = new SqliteDatabase(join(dir, 'peer.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  // The row as it was before records were aggregated: no hits, no last_at.
  const columns = ACTIVITY_COLUMNS.filter((c) => c !== 'hits' && c !== 'last_at');
  const insert = db.prepare(
    `insert into web_activity (${columns.join(', ')}) values (${columns.map(() => '?').join(', ')})`,
  );
  const writeAll = db.transaction((events: ActivityEvent[]) => {
    for (const e of events) {
      insert.run(
        randomUUID(),
        e.at.toISOString(),
        e.source,
        e.personId,
        e.deviceId,
        e.clientIp,
        e.method ?? null,
        e.host,
        e.path ?? null,
        JSON.stringify(e.categories),
        e.decision,
        e.reason,
        JSON.stringify(e.clauseIds),
        e.status ?? null,
        Math.round(e.bytes),
        Math.round(e.durationMs),
        null,
      );
    }
  });
  let queue: ActivityEvent[] = [];
  const p0 = cpuMs();
  // Here record() writes a batch whenever 500 wait: only the all-in figure compares.
  await drive(
    (e) => {
      queue.push(e);
      if (queue.length >= 500) {
        writeAll(queue);
        queue = [];
      }
    },
    () => {},
  );
  writeAll(queue);
  const peerMs = cpuMs() - p0 - eventMs;
  const rows = (db.prepare('select count(*) as n from web_activity').get() as { n: number }).n;
  db.close();
  peer = { nsPerDecisionAllIn: Math.round((peerMs * 1e6) / EVENTS), rows };
}
rmSync(dir, { recursive: true, force: true });
if (custos.stats.dropped > 0) {
  console.error(
    `${custos.stats.dropped} decisions were dropped, not written: the figures leave their writing out`,
  );
}

console.log(
  JSON.stringify(
    {
      decisions: EVENTS,
      hosts: HOSTS,
      clients: CLIENTS,
      minutes: SPAN_MS / 60_000,
      paths: PATHS,
      custos,
      peer,
      ratio: peer
        ? Number((peer.nsPerDecisionAllIn! / custos.nsPerDecisionAllIn).toFixed(1))
        : null,
      sink: sink > 0,
    },
    null,
    2,
  ),
);
