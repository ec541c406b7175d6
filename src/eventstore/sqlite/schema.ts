import type Database from 'better-sqlite3';
import { pendingMigrations } from '../migration.js';
import { sqliteMigrations } from './migrations.js';

export function migrateSqlite(db: Database.Database, upTo?: number): number[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`);
  const applyAll = db.transaction(() => {
    const row = db.prepare('SELECT coalesce(max(version), 0) AS version FROM schema_migrations').get() as { version: number };
    const pending = pendingMigrations(sqliteMigrations, row.version, upTo);
    for (const migration of pending) {
      db.exec(migration.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
        migration.version,
        migration.name,
        new Date().toISOString(),
      );
    }
    return pending.map((migration) => migration.version);
  });
  return applyAll.immediate();
}
