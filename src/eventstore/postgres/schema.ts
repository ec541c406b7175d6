import type pg from 'pg';
import { pendingMigrations } from '../migration.js';
import { postgresMigrations } from './migrations.js';

const MIGRATION_LOCK = 7_246_118_001;

/** Applies pending migrations in one transaction, serialised across processes by an advisory lock. */
export async function migratePostgres(pool: pg.Pool, upTo?: number): Promise<number[]> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await client.query<{ version: number }>('SELECT coalesce(max(version), 0)::int AS version FROM schema_migrations');
    const pending = pendingMigrations(postgresMigrations, rows[0]?.version ?? 0, upTo);
    for (const migration of pending) {
      await client.query(migration.sql);
      await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [migration.version, migration.name]);
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
