// Opens the store: SQLite (better-sqlite3, WAL) by default, PostgreSQL when a URL is given.
// Everything above this file sees one Kysely<Database> and never asks which engine it is,
// except through src/store/columns.ts and the migrations.
import { mkdirSync } from 'node:fs';
import { userInfo } from 'node:os';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.ts';
import { createSqliteWriter, type SqliteWriter } from './sqlite-writer.ts';

export type DialectName = 'sqlite' | 'postgres';

export interface Store {
  db: Kysely<Database>;
  dialect: DialectName;
  /** Human-readable place, password hidden: "sqlite:./data/custos.db" or "postgres://host/db". */
  describe: string;
  /** The SQLite database file, for writers that keep a connection of their own. */
  sqliteFile?: string | undefined;
  /**
   * On a SQLite file: writes run in a thread of their own, on a connection as durable as the
   * store's (synchronous = FULL), so that the event loop never waits for the disk. Made on first
   * use; closed with the store. Undefined elsewhere.
   */
  writer?: (() => SqliteWriter) | undefined;
  /** The PostgreSQL schema in use when one was asked for (tests); undefined means the default. */
  schema?: string | undefined;
  ping(): Promise<void>;
  destroy(): Promise<void>;
}

export interface StoreOptions {
  url?: string | undefined;
  sqlitePath: string;
  /** Schema to use on PostgreSQL (tests use one per run); created when missing. */
  pgSchema?: string;
}

export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    u.password = '';
    u.username = '';
    return u.toString();
  } catch {
    return 'postgres (unparseable URL)';
  }
}

export async function openStore(options: StoreOptions): Promise<Store> {
  if (options.url) return openPostgres(options.url, options.pgSchema);
  return openSqlite(options.sqlitePath);
}

function openSqlite(file: string): Store {
  if (file !== ':memory:') mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const database = new SqliteDatabase(file);
  database.pragma('journal_mode = WAL');
  // FULL: a committed transaction survives power loss, which the mail gateway's "250 only
  // after durable storage" promise relies on.
  database.pragma('synchronous = FULL');
  database.pragma('foreign_keys = ON');
  database.pragma('busy_timeout = 5000');
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({ database: withStatementCache(database) }),
  });
  let writer: SqliteWriter | null = null;
  return {
    db,
    dialect: 'sqlite',
    describe: `sqlite:${file}`,
    sqliteFile: file === ':memory:' ? undefined : file,
    writer:
      file === ':memory:'
        ? undefined
        : () => {
            writer ??= createSqliteWriter(file, { synchronous: 'FULL', foreignKeys: true });
            return writer;
          },
    async ping() {
      await sql`select 1`.execute(db);
    },
    async destroy() {
      await writer?.close();
      await db.destroy();
    },
  };
}

/** Statements kept prepared, by their SQL; past this many, the oldest goes. */
const STATEMENT_CACHE_SIZE = 500;

/**
 * The connection as Kysely sees it, with each statement prepared once: Kysely prepares every
 * query it runs, and preparing costs more than running most of ours. The queries Kysely builds
 * for the same call are the same text with different parameters, so they are found again here.
 * Kysely runs one query at a time on the connection, so a statement is never in use twice.
 */
export function withStatementCache(database: SqliteDatabase.Database) {
  const statements = new Map<string, SqliteDatabase.Statement>();
  return {
    prepare(sqlText: string): SqliteDatabase.Statement {
      let statement = statements.get(sqlText);
      if (statement === undefined) {
        statement = database.prepare(sqlText);
        if (statements.size >= STATEMENT_CACHE_SIZE) {
          statements.delete(statements.keys().next().value!);
        }
        statements.set(sqlText, statement);
      }
      return statement;
    },
    close(): void {
      statements.clear();
      database.close();
    },
  };
}

async function openPostgres(url: string, schema?: string): Promise<Store> {
  // int8 (bigint, count(*)) as JS numbers: our counts stay far below 2^53.
  pg.types.setTypeParser(20, (value) => Number.parseInt(value, 10));
  // A URL without a user name (postgres://127.0.0.1:5432/test) means the local account's name,
  // as psql does.
  const parsed = new URL(url);
  if (!parsed.username) parsed.username = userInfo().username;
  if (schema && !/^[a-z_][a-z0-9_]*$/.test(schema))
    throw new Error(`Invalid schema name ${schema}`);
  const pool = new pg.Pool({
    connectionString: parsed.toString(),
    max: 10,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  if (schema) await pool.query(`create schema if not exists ${schema}`);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    dialect: 'postgres',
    describe: describeUrl(url),
    schema,
    async ping() {
      await sql`select 1`.execute(db);
    },
    async destroy() {
      await db.destroy();
    },
  };
}
