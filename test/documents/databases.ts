import Database from 'better-sqlite3';
import pg from 'pg';
import type { CompiledQuery, Dialect } from '../../src/documents/query/index.js';

/** One stored version of a document, as the projection writes it. */
export interface StoredVersion {
  tenant: string;
  module: string;
  entity: string;
  id: string;
  version: number;
  data: Record<string, unknown> | null;
  createdAt: string;
  updatedAt: string;
  fromPosition: number;
  toPosition: number | null;
  fromTime: string;
  toTime: string | null;
}

/** A database holding only the documents table, for the query compiler's tests. */
export interface QueryDatabase {
  dialect: Dialect;
  /** Replaces the table's contents. */
  load(versions: readonly StoredVersion[]): Promise<void>;
  all(query: CompiledQuery): Promise<Record<string, unknown>[]>;
  /** Runs trusted SQL (DDL, EXPLAIN) without parameters. */
  exec(text: string): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

const SQLITE_TABLE = `CREATE TABLE documents (
  tenant TEXT NOT NULL, module TEXT NOT NULL, entity TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL,
  data TEXT, deleted INTEGER NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
  from_position INTEGER NOT NULL, to_position INTEGER, from_time TEXT NOT NULL, to_time TEXT,
  PRIMARY KEY (tenant, module, entity, id, version))`;

const POSTGRES_TABLE = `CREATE TABLE documents (
  tenant text NOT NULL, module text NOT NULL, entity text NOT NULL, id text NOT NULL, version integer NOT NULL,
  data jsonb, deleted boolean NOT NULL, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL,
  from_position bigint NOT NULL, to_position bigint, from_time timestamptz NOT NULL, to_time timestamptz,
  PRIMARY KEY (tenant, module, entity, id, version))`;

const COLUMNS =
  'tenant, module, entity, id, version, data, deleted, created_at, updated_at, from_position, to_position, from_time, to_time';

function row(v: StoredVersion, dialect: Dialect): unknown[] {
  const deleted = v.data === null;
  return [
    v.tenant,
    v.module,
    v.entity,
    v.id,
    v.version,
    v.data === null ? null : JSON.stringify(v.data),
    dialect === 'sqlite' ? Number(deleted) : deleted,
    v.createdAt,
    v.updatedAt,
    v.fromPosition,
    v.toPosition,
    v.fromTime,
    v.toTime,
  ];
}

export function openSqlite(): QueryDatabase {
  const db = new Database(':memory:');
  db.exec(SQLITE_TABLE);
  const insert = db.prepare(`INSERT INTO documents (${COLUMNS}) VALUES (${Array(13).fill('?').join(', ')})`);
  const load = db.transaction((versions: readonly StoredVersion[]) => {
    db.exec('DELETE FROM documents');
    for (const version of versions) insert.run(...row(version, 'sqlite'));
  });
  return {
    dialect: 'sqlite',
    load: async (versions) => load(versions),
    all: async ({ sql, params }) => db.prepare(sql).all(...params) as Record<string, unknown>[],
    exec: async (text) => {
      const statement = db.prepare(text);
      if (statement.reader) return statement.all() as Record<string, unknown>[];
      statement.run();
      return [];
    },
    close: async () => void db.close(),
  };
}

export async function openPostgres(url: string): Promise<QueryDatabase> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(POSTGRES_TABLE);
  return {
    dialect: 'postgres',
    async load(versions) {
      await client.query('BEGIN');
      await client.query('DELETE FROM documents');
      for (let start = 0; start < versions.length; start += 1000) await insertBatch(client, versions.slice(start, start + 1000));
      await client.query('COMMIT');
    },
    all: async ({ sql, params }) => (await client.query(sql, params)).rows,
    exec: async (text) => (await client.query(text)).rows,
    close: () => client.end(),
  };
}

async function insertBatch(client: pg.Client, versions: readonly StoredVersion[]): Promise<void> {
  if (versions.length === 0) return;
  const tuples = versions.map((_, r) => `(${Array.from({ length: 13 }, (_, c) => `$${r * 13 + c + 1}`).join(', ')})`);
  await client.query(
    `INSERT INTO documents (${COLUMNS}) VALUES ${tuples.join(', ')}`,
    versions.flatMap((version) => row(version, 'postgres')),
  );
}
