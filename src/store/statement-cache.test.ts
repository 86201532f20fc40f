import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { expect, it, vi } from 'vitest';
import { withStatementCache } from './database.ts';

function kyselyOver(database: SqliteDatabase.Database) {
  return new Kysely<Record<string, Record<string, unknown>>>({
    dialect: new SqliteDialect({ database: withStatementCache(database) }),
  });
}

it('prepares each query once and runs it again with new parameters', async () => {
  const database = new SqliteDatabase(':memory:');
  const prepare = vi.spyOn(database, 'prepare');
  const db = kyselyOver(database);
  await sql`create table t (id integer primary key, name text)`.execute(db);
  for (let i = 0; i < 50; i++)
    await db
      .insertInto('t')
      .values({ id: i, name: `n${i}` })
      .execute();
  const names = [];
  for (let i = 0; i < 50; i += 10) {
    const row = await db.selectFrom('t').select('name').where('id', '=', i).executeTakeFirst();
    names.push(row?.name);
  }
  expect(names).toEqual(['n0', 'n10', 'n20', 'n30', 'n40']);
  // create, one insert and one select: three statements, however many times they ran.
  expect(prepare).toHaveBeenCalledTimes(3);
  await db.destroy();
});

it('sees a column added after the query was first prepared, and keeps working past its bound', async () => {
  const db = kyselyOver(new SqliteDatabase(':memory:'));
  await sql`create table t (id integer primary key)`.execute(db);
  await db.insertInto('t').values({ id: 1 }).execute();
  expect(await db.selectFrom('t').selectAll().execute()).toEqual([{ id: 1 }]);
  await sql`alter table t add column note text default 'x'`.execute(db);
  expect(await db.selectFrom('t').selectAll().execute()).toEqual([{ id: 1, note: 'x' }]);
  // Far more distinct queries than the cache holds: every answer still right.
  for (let i = 0; i < 1200; i++) {
    const row = await sql<{ v: number }>`select ${sql.lit(i)} as v`.execute(db);
    expect(row.rows[0]!.v).toBe(i);
  }
  await db.destroy();
});
