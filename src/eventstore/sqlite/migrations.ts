import type { Migration } from '../migration.js';

/** Versioned schema of the SQLite event store. Never edit a released migration: add one. */
export const sqliteMigrations: Migration[] = [
  {
    version: 1,
    name: 'events and checkpoints',
    sql: `
      CREATE TABLE events (
        position INTEGER PRIMARY KEY,
        tenant TEXT NOT NULL,
        stream_id TEXT NOT NULL,
        stream_version INTEGER NOT NULL,
        event_id TEXT NOT NULL,
        type TEXT NOT NULL,
        schema_version INTEGER NOT NULL,
        data TEXT NOT NULL,
        metadata TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        UNIQUE (tenant, stream_id, stream_version),
        UNIQUE (tenant, event_id)
      );
      CREATE INDEX events_by_tenant ON events (tenant, position);
      CREATE TABLE checkpoints (
        name TEXT PRIMARY KEY,
        position INTEGER NOT NULL,
        updated_at TEXT NOT NULL
      );`,
  },
  {
    version: 2,
    name: 'idempotency keys',
    sql: `
      CREATE TABLE idempotency_keys (
        tenant TEXT NOT NULL,
        key TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        result TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (tenant, key)
      ) WITHOUT ROWID;
      CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);`,
  },
];
