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
  {
    version: 3,
    name: 'documents projected inline with their version history',
    sql: `
      CREATE TABLE documents (
        tenant TEXT NOT NULL,
        module TEXT NOT NULL,
        entity TEXT NOT NULL,
        id TEXT NOT NULL,
        version INTEGER NOT NULL,
        data TEXT,
        deleted INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        from_position INTEGER NOT NULL,
        to_position INTEGER,
        from_time TEXT NOT NULL,
        to_time TEXT,
        PRIMARY KEY (tenant, module, entity, id, version)
      );
      CREATE UNIQUE INDEX documents_current ON documents (tenant, module, entity, id) WHERE to_position IS NULL;
      CREATE INDEX documents_as_of ON documents (tenant, module, entity, from_position);`,
  },
  {
    version: 4,
    name: 'sealed signing keys of the software key vault',
    sql: `
      CREATE TABLE vault_keys (
        tenant TEXT NOT NULL,
        kid TEXT NOT NULL,
        alg TEXT NOT NULL,
        public_jwk TEXT NOT NULL,
        format INTEGER NOT NULL,
        master_key_id TEXT NOT NULL,
        wrapped_key BLOB NOT NULL,
        iv BLOB NOT NULL,
        ciphertext BLOB NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (tenant, kid)
      ) WITHOUT ROWID;`,
  },
  {
    version: 5,
    name: 'identity store tables and tenant deletion',
    sql: `
      CREATE TABLE credentials (
        tenant TEXT NOT NULL,
        kind TEXT NOT NULL,
        subject TEXT NOT NULL,
        hash TEXT NOT NULL,
        change_required INTEGER NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (tenant, kind, subject)
      ) WITHOUT ROWID;
      CREATE TABLE refresh_tokens (
        hash TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        family TEXT NOT NULL,
        subject TEXT NOT NULL,
        roles TEXT NOT NULL,
        scope TEXT NOT NULL,
        issued_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        family_expires_at TEXT NOT NULL,
        used_at TEXT,
        revoked_at TEXT
      ) WITHOUT ROWID;
      CREATE INDEX refresh_tokens_by_family ON refresh_tokens (tenant, family);
      CREATE INDEX refresh_tokens_by_subject ON refresh_tokens (tenant, subject);
      CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens (family_expires_at);
      CREATE TABLE login_attempts (
        tenant TEXT NOT NULL,
        key TEXT NOT NULL,
        failures INTEGER NOT NULL,
        last_failure_at TEXT NOT NULL,
        locked_until TEXT,
        PRIMARY KEY (tenant, key)
      ) WITHOUT ROWID;
      CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant TEXT NOT NULL,
        at TEXT NOT NULL,
        action TEXT NOT NULL,
        actor TEXT NOT NULL,
        address TEXT,
        target TEXT,
        detail TEXT NOT NULL
      );
      CREATE INDEX audit_log_by_tenant ON audit_log (tenant, id);
      -- The highest position (and its time) of the events deleted with their tenant: new appends go
      -- beyond it, so that a deleted tenant's positions are never given again.
      CREATE TABLE log_floor (
        singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
        position INTEGER NOT NULL,
        recorded_at TEXT NOT NULL
      );`,
  },
  {
    version: 6,
    name: 'reports maintained from the log',
    sql: `
      CREATE TABLE report_versions (
        tenant TEXT NOT NULL,
        report TEXT NOT NULL,
        version INTEGER NOT NULL,
        definition TEXT NOT NULL,
        status TEXT NOT NULL,
        reason TEXT,
        position INTEGER NOT NULL,
        group_count INTEGER NOT NULL,
        PRIMARY KEY (tenant, report, version)
      ) WITHOUT ROWID;
      CREATE TABLE report_groups (
        tenant TEXT NOT NULL,
        report TEXT NOT NULL,
        version INTEGER NOT NULL,
        group_key TEXT NOT NULL,
        state TEXT NOT NULL,
        PRIMARY KEY (tenant, report, version, group_key)
      ) WITHOUT ROWID;
      CREATE TABLE report_members (
        tenant TEXT NOT NULL,
        report TEXT NOT NULL,
        version INTEGER NOT NULL,
        record_id TEXT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (tenant, report, version, record_id)
      ) WITHOUT ROWID;
      CREATE TABLE report_cursor (
        name TEXT PRIMARY KEY,
        position INTEGER NOT NULL
      );`,
  },
  {
    version: 7,
    name: 'report groups keep their view',
    // A group as reads show it, written with its state: a read of many groups then parses none.
    sql: 'ALTER TABLE report_groups ADD COLUMN view TEXT;',
  },
];
