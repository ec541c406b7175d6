import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { AppError, assertStreamId, assertTenantId } from '../../kernel/index.js';
import { createGroupCommitter, type GroupOutcome } from '../group-commit.js';
import type { AppendResult, DocumentMigration, EventStore, LoggedEvent, LogReadOptions, StreamReadOptions } from '../port.js';
import { APPEND_LIMITS, type PreparedAppend, type PreparedDocument, prepareAppend, versionConflict, versionMatches } from '../prepare.js';
import {
  DATA_COLUMNS,
  type EventRow,
  readAfter,
  readFromVersion,
  readLimit,
  type StoredResult,
  toAppendResult,
  toLoggedEvent,
  toRecordedEvent,
} from '../rows.js';
import { migrateSqlite } from './schema.js';
import { securely } from './secure-delete.js';

export interface SqliteEventStoreOptions {
  /** A file path, or ':memory:'. */
  path: string;
  /** FULL (default) makes every acknowledged append survive power loss; NORMAL survives process crashes only. */
  synchronous?: 'FULL' | 'NORMAL';
  idempotencyTtlMs?: number;
  /** For schema upgrade tests: stop migrating at this version. */
  migrateUpTo?: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** How long a writer waits for another process's write transaction before failing. */
const BUSY_TIMEOUT_MS = 30_000;

/**
 * Switching a new file to WAL does not wait on the busy timeout: when two processes open the same
 * fresh file at once, one gets SQLITE_BUSY at once. Retry for a while instead.
 */
function switchToWal(db: Database.Database): void {
  for (let attempt = 0; ; attempt++) {
    try {
      db.pragma('journal_mode = WAL');
      return;
    } catch (error) {
      if ((error as { code?: string }).code !== 'SQLITE_BUSY' || attempt >= 500) throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
  }
}

export function openSqliteDatabase(options: SqliteEventStoreOptions): Database.Database {
  if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
  const db = new Database(options.path);
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  switchToWal(db);
  db.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`);
  db.pragma('foreign_keys = ON');
  migrateSqlite(db, options.migrateUpTo);
  return db;
}

/** Opens the database file and returns an event store that owns it (closing the store closes the file). */
export function createSqliteEventStore(options: SqliteEventStoreOptions): EventStore {
  return sqliteEventStore(openSqliteDatabase(options), options);
}

export function sqliteEventStore(db: Database.Database, options: Omit<SqliteEventStoreOptions, 'path'> = {}): EventStore {
  const ttlMs = options.idempotencyTtlMs ?? DAY_MS;
  const statements = prepareStatements(db);
  const appended = new EventEmitter().setMaxListeners(0);

  function appendOne(append: PreparedAppend, head: number, recordedAt: string): AppendResult {
    const current = (statements.streamVersion.get(append.tenant, append.streamId) as { version: number }).version;
    if (!versionMatches(append.expected, current)) throw versionConflict(append.tenant, append.streamId, append.expected, current);
    for (const event of append.events) {
      if (event.clientId && statements.eventIdTaken.get(append.tenant, event.id)) {
        throw new AppError('already_exists', `Event ${event.id} already exists`, { eventId: event.id });
      }
    }
    append.events.forEach((event, index) => {
      statements.insertEvent.run(
        head + index + 1,
        append.tenant,
        append.streamId,
        current + index + 1,
        event.id,
        event.type,
        event.schemaVersion,
        event.dataJson,
        append.metadataJson,
        recordedAt,
      );
    });
    const stored: StoredResult = {
      streamId: append.streamId,
      streamVersion: current + append.events.length,
      firstPosition: String(head + 1),
      lastPosition: String(head + append.events.length),
      eventIds: append.events.map((event) => event.id),
      recordedAt,
    };
    if (append.document !== null) projectDocument(append.tenant, append.document, stored);
    for (const migration of append.migrations) migrateDocuments(append.tenant, migration);
    if (append.idempotencyKey !== null) {
      statements.rememberKey.run(append.tenant, append.idempotencyKey, append.fingerprint, JSON.stringify(stored), Date.now());
    }
    return toAppendResult(stored, false);
  }

  function projectDocument(tenant: string, document: PreparedDocument, stored: StoredResult): void {
    const { module, entity, id, dataJson } = document;
    const position = Number(stored.lastPosition);
    const previous = statements.closeDocument.get(position, stored.recordedAt, tenant, module, entity, id) as
      | { created_at: string }
      | undefined;
    const deleted = dataJson === 'null';
    statements.insertDocument.run(
      tenant,
      module,
      entity,
      id,
      stored.streamVersion,
      deleted ? null : dataJson,
      deleted ? 1 : 0,
      previous?.created_at ?? stored.recordedAt,
      stored.recordedAt,
      position,
      stored.recordedAt,
    );
  }

  function migrateDocuments(tenant: string, migration: DocumentMigration): void {
    const scope = [tenant, migration.module, migration.entity];
    if ('rename' in migration) {
      const from = `$.${migration.rename.from}`;
      statements.renameField.run(from, `$.${migration.rename.to}`, from, ...scope, from);
    } else statements.dropField.run(`$.${migration.drop}`, ...scope, `$.${migration.drop}`);
  }

  function replayIdempotent(append: PreparedAppend): AppendResult | undefined {
    if (append.idempotencyKey === null) return undefined;
    const row = statements.findKey.get(append.tenant, append.idempotencyKey, Date.now() - ttlMs) as
      | { fingerprint: string; result: string }
      | undefined;
    if (!row) return undefined;
    if (row.fingerprint !== append.fingerprint) {
      throw new AppError('idempotency_key_reused', 'The idempotency key was used for a different append', {
        idempotencyKey: append.idempotencyKey,
      });
    }
    return toAppendResult(JSON.parse(row.result) as StoredResult, true);
  }

  /** Recorded times follow positions: never earlier than the last event's, whatever the clock does. */
  function commitTime(): string {
    const now = new Date().toISOString();
    const last = (statements.lastRecordedAt.get() as { recorded_at: string }).recorded_at;
    // biome-ignore lint/complexity/useMathMinMax: ISO 8601 strings, compared as text
    return last > now ? last : now;
  }

  /** The head is kept (log_floor) before the tenant's events go, so that their positions are never given again. */
  const deleteTenant = db.transaction((tenant: string) => {
    statements.raiseFloor.run();
    for (const statement of [statements.deleteEvents, statements.deleteDocuments, statements.deleteKeys]) statement.run(tenant);
  });

  const writeGroup = db.transaction((batch: PreparedAppend[]): GroupOutcome<AppendResult>[] => {
    let head = (statements.head.get() as { head: number }).head;
    const recordedAt = commitTime();
    return batch.map((append) => {
      try {
        const result = replayIdempotent(append) ?? appendOne(append, head, recordedAt);
        if (!result.duplicate) head = Number(result.lastPosition);
        return { ok: true, value: result };
      } catch (error) {
        if (error instanceof AppError) return { ok: false, error };
        throw error;
      }
    });
  });

  const committer = createGroupCommitter<AppendResult>(async (batch) => {
    const outcomes = writeGroup.immediate(batch);
    const head = (statements.head.get() as { head: number }).head;
    appended.emit('appended', BigInt(head));
    return outcomes;
  }, APPEND_LIMITS.maxEventsPerAppend);

  const readRows = (rows: unknown[]) =>
    (rows as EventRow<string, string>[]).map((row) =>
      toRecordedEvent(
        row,
        (text) => JSON.parse(text),
        (text) => new Date(text),
      ),
    );

  return {
    backend: 'sqlite',
    append: async (request) => committer.submit(prepareAppend(request)),
    async readStream(tenant, streamId, { fromVersion = 1, limit }: StreamReadOptions = {}) {
      assertTenantId(tenant);
      assertStreamId(streamId);
      return readRows(statements.readStream.all(tenant, streamId, readFromVersion(fromVersion), readLimit(limit)));
    },
    async readTenant(tenant, { after = 0n, limit }: LogReadOptions = {}) {
      assertTenantId(tenant);
      return readRows(statements.readTenant.all(tenant, readAfter(after), readLimit(limit)));
    },
    async readAll({ after = 0n, limit }: LogReadOptions = {}) {
      return readRows(statements.readAll.all(readAfter(after), readLimit(limit)));
    },
    async readAllData({ after = 0n, limit }: LogReadOptions = {}) {
      const rows = statements.readAllData.all(readAfter(after), readLimit(limit)) as EventRow<string, string>[];
      return rows.map((row): LoggedEvent => toLoggedEvent(row, (text) => JSON.parse(text)));
    },
    async headPosition() {
      return BigInt((statements.head.get() as { head: number }).head);
    },
    async purgeIdempotencyKeys() {
      return statements.purgeKeys.run(Date.now() - ttlMs).changes;
    },
    async deleteTenant(tenant) {
      assertTenantId(tenant);
      securely(db, () => deleteTenant.immediate(tenant));
    },
    async findIdempotent(tenant, key) {
      const row = statements.findKey.get(tenant, key, Date.now() - ttlMs) as { result: string; fingerprint: string } | undefined;
      if (!row) return undefined;
      const stored = JSON.parse(row.result) as StoredResult;
      return { streamId: stored.streamId, fingerprint: row.fingerprint, result: toAppendResult(stored, true) };
    },
    checkpoints: {
      async load(name) {
        const row = statements.loadCheckpoint.get(name) as { position: number } | undefined;
        return BigInt(row?.position ?? 0);
      },
      async save(name, position) {
        statements.saveCheckpoint.run(name, position, new Date().toISOString());
      },
    },
    onAppended(listener) {
      appended.on('appended', listener);
      return () => appended.off('appended', listener);
    },
    async ping() {
      db.prepare('SELECT 1').get();
    },
    async close() {
      while (!committer.idle) await new Promise((resolve) => setTimeout(resolve, 1));
      appended.removeAllListeners();
      if (db.open) db.close();
    },
  };
}

const COLUMNS = 'position, tenant, stream_id, stream_version, event_id, type, schema_version, data, metadata, recorded_at';

function prepareStatements(db: Database.Database) {
  return {
    head: db.prepare('SELECT max(coalesce((SELECT max(position) FROM events), 0), coalesce((SELECT position FROM log_floor), 0)) AS head'),
    streamVersion: db.prepare('SELECT coalesce(max(stream_version), 0) AS version FROM events WHERE tenant = ? AND stream_id = ?'),
    eventIdTaken: db.prepare('SELECT 1 FROM events WHERE tenant = ? AND event_id = ?'),
    insertEvent: db.prepare(`INSERT INTO events (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    findKey: db.prepare('SELECT fingerprint, result FROM idempotency_keys WHERE tenant = ? AND key = ? AND created_at > ?'),
    rememberKey: db.prepare(
      `INSERT INTO idempotency_keys (tenant, key, fingerprint, result, created_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (tenant, key) DO UPDATE SET fingerprint = excluded.fingerprint, result = excluded.result, created_at = excluded.created_at`,
    ),
    readStream: db.prepare(
      `SELECT ${COLUMNS} FROM events WHERE tenant = ? AND stream_id = ? AND stream_version >= ? ORDER BY stream_version LIMIT ?`,
    ),
    readTenant: db.prepare(`SELECT ${COLUMNS} FROM events WHERE tenant = ? AND position > ? ORDER BY position LIMIT ?`),
    readAll: db.prepare(`SELECT ${COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?`),
    readAllData: db.prepare(`SELECT ${DATA_COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?`),
    renameField: db.prepare(
      `UPDATE documents SET data = json_set(json_remove(data, ?), ?, json(data -> ?))
       WHERE tenant = ? AND module = ? AND entity = ? AND json_type(data, ?) IS NOT NULL`,
    ),
    dropField: db.prepare(
      'UPDATE documents SET data = json_remove(data, ?) WHERE tenant = ? AND module = ? AND entity = ? AND json_type(data, ?) IS NOT NULL',
    ),
    purgeKeys: db.prepare('DELETE FROM idempotency_keys WHERE created_at < ?'),
    lastRecordedAt: db.prepare(
      `SELECT max(coalesce((SELECT recorded_at FROM events ORDER BY position DESC LIMIT 1), ''),
                  coalesce((SELECT recorded_at FROM log_floor), '')) AS recorded_at`,
    ),
    raiseFloor: db.prepare(
      `INSERT INTO log_floor (singleton, position, recorded_at)
       SELECT 1, position, recorded_at FROM events WHERE true ORDER BY position DESC LIMIT 1
       ON CONFLICT (singleton) DO UPDATE SET position = excluded.position, recorded_at = excluded.recorded_at
       WHERE excluded.position > log_floor.position`,
    ),
    deleteEvents: db.prepare('DELETE FROM events WHERE tenant = ?'),
    deleteDocuments: db.prepare('DELETE FROM documents WHERE tenant = ?'),
    deleteKeys: db.prepare('DELETE FROM idempotency_keys WHERE tenant = ?'),
    closeDocument: db.prepare(
      `UPDATE documents SET to_position = ?, to_time = ?
       WHERE tenant = ? AND module = ? AND entity = ? AND id = ? AND to_position IS NULL RETURNING created_at`,
    ),
    insertDocument: db.prepare(
      `INSERT INTO documents (tenant, module, entity, id, version, data, deleted, created_at, updated_at, from_position, from_time)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    loadCheckpoint: db.prepare('SELECT position FROM checkpoints WHERE name = ?'),
    saveCheckpoint: db.prepare(
      `INSERT INTO checkpoints (name, position, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at`,
    ),
  };
}
