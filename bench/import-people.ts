// CSV import of people: wall time, rows/s and peak memory for a first import and for the
// idempotent re-import, beside the floor cost in the same run: the same rows parsed and inserted
// with plain better-sqlite3 prepared statements in one transaction (and COPY through psql on
// PostgreSQL when psql is installed). Run: npx tsx bench/import-people.ts [--rows 100000] [--postgres]
import { execFileSync, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import SqliteDatabase from 'better-sqlite3';
import { parse } from 'csv-parse/sync';
import { createAuditLog } from '../src/audit/service.ts';
import { createDirectoryService } from '../src/directory/service.ts';
import { createPolicyHolder } from '../src/policy/holder.ts';
import { openStore, type Store } from '../src/store/database.ts';
import { migrate } from '../src/store/migrations/index.ts';
import { testPolicy } from '../test/factories.ts';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '100000' },
    postgres: { type: 'boolean', default: false },
    url: {
      type: 'string',
      default: process.env.TEST_DATABASE_URL ?? 'postgres://127.0.0.1:5432/test',
    },
  },
});
const ROWS = Number.parseInt(args.rows, 10);
const dir = mkdtempSync(path.join(tmpdir(), 'custos-bench-'));
const csvFile = path.join(dir, 'people.csv');

const GIVEN = [
  'Amelia',
  'Olivia',
  'Isla',
  'Ava',
  'Mia',
  'Oliver',
  'George',
  'Noah',
  'Arthur',
  'Harry',
  'Leo',
  'Muhammad',
  'Zoë',
  'Siobhán',
  'Chloé',
  'Rhys',
  'Aled',
  'Priya',
  'Wiktoria',
  'Kwame',
];
const FAMILY = [
  'Smith',
  'Jones',
  'Taylor',
  'Brown',
  'Williams',
  'Wilson',
  'Johnson',
  'Davies',
  'Patel',
  'Wright',
  "O'Brien",
  'Murphy',
  'Nowak',
  'Evans',
  'Thomas',
  'Roberts',
  'Khan',
  'Lewis',
  'Walker',
  'Hughes-Jones',
];
const KINDS = ['employee', 'employee', 'employee', 'agency', 'volunteer', 'governor', 'contractor'];
const GROUPS = [
  'Teaching staff',
  'Support staff',
  'Office',
  'Site',
  'Year 1',
  'Year 2',
  'Year 3',
  'Year 4',
  'Year 5',
  'Year 6',
  'Reception',
  'SEN',
  'Kitchen',
  'Governors',
];

async function generate(): Promise<void> {
  const out = createWriteStream(csvFile);
  out.write(
    'Staff ID,Email address,First name,Surname,Kind,Groups,Roles,Start date,Leave date,Status,Supervised use\n',
  );
  for (let i = 0; i < ROWS; i++) {
    const given = GIVEN[i % GIVEN.length]!;
    const family = FAMILY[Math.floor(i / GIVEN.length) % FAMILY.length]!;
    const kind = KINDS[i % KINDS.length]!;
    const groups = [GROUPS[i % GROUPS.length], GROUPS[(i * 7 + 3) % GROUPS.length]].join(';');
    const roles = kind === 'governor' ? 'governor' : i % 500 === 0 ? 'it_support;staff' : 'staff';
    const start = `${String((i % 28) + 1).padStart(2, '0')}/${String((i % 12) + 1).padStart(2, '0')}/${2000 + (i % 24)}`;
    const leave = i % 10 === 0 ? `${2025 + (i % 3)}-07-31` : '';
    const line = [
      `T${String(i).padStart(7, '0')}`,
      `${given}.${family}.${i}@trust.example`.toLowerCase().replace(/[^a-z0-9.@]/g, ''),
      given,
      family.includes("'") ? `"${family}"` : family,
      kind,
      groups,
      roles,
      start,
      leave,
      i % 10 === 0 ? 'left' : 'active',
      i % 50 === 0 ? 'yes' : 'no',
    ].join(',');
    if (!out.write(`${line}\n`)) await once(out, 'drain');
  }
  out.end();
  await finished(out);
}

const mib = (kb: number) => `${(kb / 1024).toFixed(0)} MiB`;
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const rate = (ms: number) => `${Math.round(ROWS / (ms / 1000)).toLocaleString('en-GB')} rows/s`;

interface Figures {
  first: number;
  again: number;
  peakKb: number;
}

async function ours(store: Store): Promise<Figures> {
  const audit = createAuditLog(store);
  const directory = createDirectoryService({
    store,
    audit,
    policy: createPolicyHolder(testPolicy()),
  });
  const actor = { id: null, label: 'bench' };
  let t = performance.now();
  const first = await directory.importPeople(readFileSync(csvFile), { actor });
  const firstMs = performance.now() - t;
  if (first.errors.length || first.created !== ROWS)
    throw new Error(`import failed: ${JSON.stringify(first.errors.slice(0, 3))}`);
  const peakKb = process.resourceUsage().maxRSS;
  t = performance.now();
  const again = await directory.importPeople(readFileSync(csvFile), { actor });
  const againMs = performance.now() - t;
  if (again.unchanged !== ROWS) throw new Error(`re-import changed rows: ${JSON.stringify(again)}`);
  return { first: firstMs, again: againMs, peakKb };
}

/** The floor: parse and insert the same rows with prepared statements in one transaction. */
function floorSqlite(file: string): number {
  const db = new SqliteDatabase(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  const t = performance.now();
  const records = parse(readFileSync(csvFile), { from_line: 2 }) as string[][];
  const insertPerson = db.prepare(
    'insert into people (id, staff_id, email, given_name, family_name, kind, status, start_date, leave_date, supervised_use, created_at, updated_at) values (?,?,?,?,?,?,?,?,?,?,?,?)',
  );
  const insertGroup = db.prepare(
    'insert into groups (id, name, description, created_at) values (?,?,?,?)',
  );
  const insertMember = db.prepare('insert into person_groups (person_id, group_id) values (?,?)');
  const insertRole = db.prepare('insert into person_roles (person_id, role) values (?,?)');
  const now = new Date().toISOString();
  db.transaction(() => {
    const groupIds = new Map<string, string>();
    for (const r of records) {
      const id = randomUUID();
      insertPerson.run(
        id,
        r[0],
        r[1],
        r[2],
        r[3],
        r[4],
        r[9],
        r[7],
        r[8] || null,
        r[10] === 'yes' ? 1 : 0,
        now,
        now,
      );
      for (const g of new Set(r[5]!.split(';'))) {
        let gid = groupIds.get(g);
        if (!gid) {
          gid = randomUUID();
          groupIds.set(g, gid);
          insertGroup.run(gid, g, '', now);
        }
        insertMember.run(id, gid);
      }
      for (const role of r[6]!.split(';')) insertRole.run(id, role);
    }
  })();
  const ms = performance.now() - t;
  db.close();
  return ms;
}

function report(label: string, f: Figures, peerLabel: string, peerMs: number | null) {
  console.log(`\n${label}`);
  console.log(`  Custos import      ${secs(f.first).padStart(9)}  ${rate(f.first)}`);
  console.log(
    `  Custos re-import   ${secs(f.again).padStart(9)}  ${rate(f.again)} (idempotent path: 0 written)`,
  );
  console.log(`  peak memory (RSS)  ${mib(f.peakKb)}`);
  if (peerMs === null) {
    console.log(`  ${peerLabel}: not run`);
    return;
  }
  console.log(`  ${peerLabel.padEnd(18)} ${secs(peerMs).padStart(9)}  ${rate(peerMs)}`);
  console.log(`  ratio import / floor      ${(f.first / peerMs).toFixed(1)}x`);
  console.log(`  ratio re-import / floor   ${(f.again / peerMs).toFixed(1)}x`);
}

async function main() {
  console.log(`Generating ${ROWS.toLocaleString('en-GB')} rows ...`);
  await generate();
  console.log(`${csvFile}: ${(statSync(csvFile).size / 1048576).toFixed(1)} MiB`);

  const sqliteFile = path.join(dir, 'custos.db');
  const store = await openStore({ sqlitePath: sqliteFile });
  await migrate(store);
  const figures = await ours(store);
  await store.destroy();

  const floorFile = path.join(dir, 'floor.db');
  const floorStore = await openStore({ sqlitePath: floorFile });
  await migrate(floorStore); // the same tables and indexes
  await floorStore.destroy();
  const floorMs = floorSqlite(floorFile);
  report('SQLite (synchronous=FULL, WAL)', figures, 'floor (prepared)', floorMs);
  console.log(
    '  (Custos also validates every row, matches existing people and writes an audit entry per person.)',
  );

  if (args.postgres) {
    const schema = `bench_${process.pid}`;
    const pgStore = await openStore({ url: args.url, sqlitePath: '', pgSchema: schema });
    try {
      await migrate(pgStore);
      const pgFigures = await ours(pgStore);
      let copyMs: number | null = null;
      const psql = spawnSync('psql', ['--version']);
      if (psql.status === 0) {
        const url = new URL(args.url);
        if (!url.username) url.username = userInfo().username;
        const t = performance.now();
        execFileSync('psql', [
          url.toString(),
          '-v',
          'ON_ERROR_STOP=1',
          '-q',
          '-c',
          `create table ${schema}.copy_floor (staff_id text, email text, given_name text, family_name text, kind text, groups text, roles text, start_date text, leave_date text, status text, supervised_use text)`,
          '-c',
          `\\copy ${schema}.copy_floor from '${csvFile}' with (format csv, header true)`,
        ]);
        copyMs = performance.now() - t;
      }
      report('PostgreSQL', pgFigures, 'floor (psql COPY)', copyMs);
    } finally {
      await pgStore.db.schema.dropSchema(schema).ifExists().cascade().execute();
      await pgStore.destroy();
    }
  }
  rmSync(dir, { recursive: true, force: true });
}

await main();
