import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createSqliteWriter } from './sqlite-writer.ts';

let dir: string;
let file: string;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'custos-writer-'));
  file = path.join(dir, 'w.db');
  const db = new SqliteDatabase(file);
  db.pragma('journal_mode = WAL');
  db.exec('create table t (k text primary key, v blob, n integer)');
  db.close();
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

const rows = () => {
  const db = new SqliteDatabase(file, { readonly: true });
  try {
    return db.prepare('select k, v, n from t order by k').all() as {
      k: string;
      v: Buffer | null;
      n: number | null;
    }[];
  } finally {
    db.close();
  }
};

it('MAIL-3, WEB-6: commits a batch of statements, rows of each bound in order, blobs as blobs', async () => {
  const writer = createSqliteWriter(file, { synchronous: 'FULL', foreignKeys: true });
  await writer.write([
    {
      sql: 'insert into t (k, v, n) values (?, ?, ?)',
      width: 3,
      values: ['a', Buffer.from([1, 2]), 1, 'b', null, 2],
    },
    { sql: "update t set n = 10 where k = 'a'", width: 0, values: [] },
  ]);
  expect(rows()).toEqual([
    { k: 'a', v: Buffer.from([1, 2]), n: 10 },
    { k: 'b', v: null, n: 2 },
  ]);
  await writer.close();
});

it('MAIL-3: a batch with a failing statement is rolled back whole and says why; the next batch still runs', async () => {
  const writer = createSqliteWriter(file, { synchronous: 'NORMAL', foreignKeys: false });
  await expect(
    writer.write([
      { sql: 'insert into t (k) values (?)', width: 1, values: ['x'] },
      { sql: 'insert into t (k) values (?)', width: 1, values: ['x'] },
    ]),
  ).rejects.toThrow(/UNIQUE constraint failed: t\.k/);
  expect(rows()).toEqual([]);
  await writer.write([{ sql: 'insert into t (k) values (?)', width: 1, values: ['y'] }]);
  expect(rows().map((r) => r.k)).toEqual(['y']);
  await writer.close();
  await expect(writer.write([{ sql: 'select 1', width: 0, values: [] }])).rejects.toThrow(/closed/);
});
