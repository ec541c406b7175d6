import type Database from 'better-sqlite3';
import type pg from 'pg';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** A versioned schema: its migrations and the table recording which ones are applied. */
export interface Schema {
  /** `schema_migrations` for the event store; each other store keeps its own, so that they evolve apart. */
  table: string;
  migrations: Migration[];
}

/** The migrations still to apply, in order; `upTo` stops early (used to test upgrades). */
export function pendingMigrations(all: Migration[], applied: number, upTo = Number.POSITIVE_INFINITY): Migration[] {
  return all.filter((migration) => migration.version > applied && migration.version <= upTo).sort((a, b) => a.version - b.version);
}

/** Applies the schema's pending migrations on SQLite in one immediate transaction; returns their versions. */
export function applySqliteMigrations(db: Database.Database, schema: Schema, upTo?: number): number[] {
  db.exec(`CREATE TABLE IF NOT EXISTS ${schema.table} (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`);
  const applyAll = db.transaction(() => {
    const row = db.prepare(`SELECT coalesce(max(version), 0) AS version FROM ${schema.table}`).get() as { version: number };
    const pending = pendingMigrations(schema.migrations, row.version, upTo);
    const record = db.prepare(`INSERT INTO ${schema.table} (version, name, applied_at) VALUES (?, ?, ?)`);
    for (const migration of pending) {
      db.exec(migration.sql);
      record.run(migration.version, migration.name, new Date().toISOString());
    }
    return pending.map((migration) => migration.version);
  });
  return applyAll.immediate();
}

/**
 * Applies the schema's pending migrations on PostgreSQL in one transaction, serialised across
 * processes by a transaction-level advisory lock on the table's name; returns their versions.
 */
export async function applyPostgresMigrations(pool: pg.Pool, schema: Schema, upTo?: number): Promise<number[]> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`backoffice:migrations:${schema.table}`]);
    await client.query(`CREATE TABLE IF NOT EXISTS ${schema.table} (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await client.query<{ version: number }>(`SELECT coalesce(max(version), 0)::int AS version FROM ${schema.table}`);
    const pending = pendingMigrations(schema.migrations, rows[0]?.version ?? 0, upTo);
    for (const migration of pending) {
      await client.query(migration.sql);
      await client.query(`INSERT INTO ${schema.table} (version, name) VALUES ($1, $2)`, [migration.version, migration.name]);
    }
    await client.query('COMMIT');
    return pending.map((migration) => migration.version);
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
