import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type Database from 'better-sqlite3';
import { sqliteMigrations } from '../../src/eventstore/sqlite/migrations.js';
import { migrateSqlite } from '../../src/eventstore/sqlite/schema.js';
import { createSqliteEventStore, openSqliteDatabase } from '../../src/eventstore/sqlite/store.js';

/** Migrations are versioned: a database upgraded step by step must end up exactly like a fresh one. */
const dir = mkdtempSync(join(tmpdir(), 'bo-migrations-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let count = 0;
const newPath = () => join(dir, `db-${++count}.db`);

const LATEST = Math.max(...sqliteMigrations.map((migration) => migration.version));
const OLDER_VERSIONS = sqliteMigrations.map((migration) => migration.version).filter((version) => version < LATEST);

/** Everything that defines the schema, without what differs between two databases (page numbers, timestamps). */
function schemaOf(db: Database.Database) {
  const objects = db.prepare('SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name').all() as {
    sql: string | null;
  }[];
  const normalized = objects.map((object) => ({ ...object, sql: object.sql?.replace(/\s+/g, ' ').trim() ?? null }));
  const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).all() as { name: string }[];
  const columns = Object.fromEntries(tables.map(({ name }) => [name, db.pragma(`table_xinfo(${name})`)]));
  return { objects: normalized, columns };
}

const migrationsOf = (db: Database.Database) => db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all();

function dumpSchema(path: string) {
  const db = openSqliteDatabase({ path });
  try {
    return { schema: schemaOf(db), migrations: migrationsOf(db) };
  } finally {
    db.close();
  }
}

/** Events as a writer of the first schema version stored them (the events table is there from version 1). */
function writeLegacyEvents(db: Database.Database, n: number): string[] {
  const ids = Array.from({ length: n }, () => randomUUID());
  const insert = db.prepare(
    `INSERT INTO events (position, tenant, stream_id, stream_version, event_id, type, schema_version, data, metadata, recorded_at)
     VALUES (?, 'acme', 'legacy', ?, ?, 'LegacyHappened', 1, ?, ?, ?)`,
  );
  ids.forEach((id, i) => {
    const metadata = { tenant: 'acme', correlationId: `c-${i}`, causationId: null, actor: null };
    insert.run(i + 1, i + 1, id, JSON.stringify({ i }), JSON.stringify(metadata), new Date().toISOString());
  });
  return ids;
}

describe('SQLite schema migrations', () => {
  let fresh: ReturnType<typeof dumpSchema>;

  before(async () => {
    const path = newPath();
    await createSqliteEventStore({ path }).close();
    fresh = dumpSchema(path);
  });

  it('records every migration, in order, on a fresh database', () => {
    assert.ok(sqliteMigrations.length >= 2);
    assert.deepEqual(
      fresh.migrations,
      sqliteMigrations.map(({ version, name }) => ({ version, name })),
    );
    assert.ok(fresh.schema.objects.some((object) => (object as { name?: string }).name === 'events'));
  });

  for (const version of OLDER_VERSIONS) {
    it(`upgrades a database from version ${version} to exactly the fresh schema, keeping its events`, async () => {
      const path = newPath();
      const old = openSqliteDatabase({ path, migrateUpTo: version });
      assert.deepEqual(
        migrationsOf(old).map((row) => (row as { version: number }).version),
        sqliteMigrations.filter((m) => m.version <= version).map((m) => m.version),
      );
      const ids = writeLegacyEvents(old, 3);
      old.close();

      const store = createSqliteEventStore({ path });
      try {
        const events = await store.readStream('acme', 'legacy');
        assert.deepEqual(
          events.map((e) => [e.position, e.streamVersion, e.id, e.data]),
          ids.map((id, i) => [BigInt(i + 1), i + 1, id, { i }]),
        );
        const next = await store.append({
          tenant: 'acme',
          streamId: 'legacy',
          events: [{ type: 'Upgraded', data: {} }],
          expectedVersion: 3,
        });
        assert.equal(next.firstPosition, 4n, 'the log goes on after the legacy events');
      } finally {
        await store.close();
      }
      const upgraded = dumpSchema(path);
      assert.deepEqual(upgraded.schema, fresh.schema);
      assert.deepEqual(upgraded.migrations, fresh.migrations);
    });
  }

  it('applies nothing when it reopens an up-to-date database', async () => {
    const path = newPath();
    await createSqliteEventStore({ path }).close();
    const read = () => {
      const db = openSqliteDatabase({ path });
      try {
        return { rows: db.prepare('SELECT * FROM schema_migrations ORDER BY version').all(), again: migrateSqlite(db) };
      } finally {
        db.close();
      }
    };
    const first = read();
    await createSqliteEventStore({ path }).close();
    const second = read();
    assert.deepEqual(first.again, []);
    assert.deepEqual(second.again, []);
    assert.deepEqual(second.rows, first.rows, 'no migration was applied again (same applied_at)');
  });

  it('stops at the requested version', () => {
    const db = openSqliteDatabase({ path: newPath(), migrateUpTo: 1 });
    try {
      assert.deepEqual(migrationsOf(db), [{ version: 1, name: sqliteMigrations[0]?.name }]);
      const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'idempotency_keys'`).all();
      assert.deepEqual(tables, []);
      assert.deepEqual(
        migrateSqlite(db),
        sqliteMigrations.map((m) => m.version).filter((version) => version > 1),
      );
    } finally {
      db.close();
    }
  });
});
