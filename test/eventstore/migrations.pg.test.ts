import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { EventStore } from '../../src/eventstore/index.js';
import { postgresMigrations } from '../../src/eventstore/postgres/migrations.js';
import { migratePostgres } from '../../src/eventstore/postgres/schema.js';
import { createPostgresEventStore } from '../../src/eventstore/postgres/store.js';
import { testDatabases } from '../support/postgres.js';

/** Migrations are versioned: a database upgraded step by step must end up exactly like a fresh one. */
const newDatabase = testDatabases('migrations');

const VERSIONS = postgresMigrations.map((migration) => migration.version).sort((a, b) => a - b);
const LATEST = VERSIONS.at(-1) ?? 0;
const OLDER_VERSIONS = VERSIONS.filter((version) => version < LATEST);
const PUBLIC = `(SELECT oid FROM pg_namespace WHERE nspname = 'public')`;

/** Everything that defines the schema, without what differs between two databases (oids, timestamps). */
const SCHEMA_QUERIES = {
  columns: `SELECT table_name, column_name, ordinal_position, data_type, udt_name, is_nullable, column_default, collation_name
            FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, ordinal_position`,
  indexes: `SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY tablename, indexname`,
  constraints: `SELECT conrelid::regclass::text AS table_name, conname, contype, pg_get_constraintdef(oid) AS definition
                FROM pg_constraint WHERE connamespace = ${PUBLIC} ORDER BY 1, 2`,
  policies: `SELECT tablename, policyname, permissive, roles::text, cmd, qual, with_check
             FROM pg_policies WHERE schemaname = 'public' ORDER BY tablename, policyname`,
  functions: `SELECT p.proname, pg_get_function_identity_arguments(p.oid) AS args, pg_get_function_result(p.oid) AS result,
                     l.lanname, p.provolatile, p.prosecdef, p.proconfig::text, p.prosrc
              FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang WHERE p.pronamespace = ${PUBLIC} ORDER BY 1, 2`,
  relations: `SELECT relname, relkind, relpersistence, relrowsecurity, relforcerowsecurity
              FROM pg_class WHERE relnamespace = ${PUBLIC} ORDER BY relname`,
  triggers: `SELECT tgrelid::regclass::text AS table_name, tgname, pg_get_triggerdef(t.oid) AS definition
             FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal AND c.relnamespace = ${PUBLIC} ORDER BY 1, 2`,
};

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

const dumpSchema = (url: string) =>
  withClient(url, async (client) => {
    const schema: Record<string, unknown[]> = {};
    for (const [name, sql] of Object.entries(SCHEMA_QUERIES)) schema[name] = (await client.query(sql)).rows;
    const migrations = (await client.query('SELECT version, name FROM schema_migrations ORDER BY version')).rows;
    return { schema, migrations };
  });

const appliedMigrations = (url: string) =>
  withClient(url, async (client) => (await client.query('SELECT version, name, applied_at FROM schema_migrations ORDER BY version')).rows);

async function openStore(url: string, migrateUpTo?: number): Promise<EventStore> {
  return createPostgresEventStore({ connectionString: url, ...(migrateUpTo === undefined ? {} : { migrateUpTo }) });
}

/** Events as a writer of an older schema stored them: plain rows (the append function only exists from version 2). */
const writeLegacyEvents = (url: string, n: number) =>
  withClient(url, async (client) => {
    const ids = Array.from({ length: n }, () => randomUUID());
    await client.query('BEGIN');
    await client.query(`SELECT set_config('backoffice.tenant', 'acme', true)`);
    for (const [i, id] of ids.entries()) {
      const metadata = { tenant: 'acme', correlationId: `c-${i}`, causationId: null, actor: null };
      await client.query(
        `INSERT INTO events (position, tenant, stream_id, stream_version, event_id, type, schema_version, data, metadata, recorded_at)
         VALUES ($1, 'acme', 'legacy', $2, $3, 'LegacyHappened', 1, $4, $5, now())`,
        [i + 1, i + 1, id, { i }, metadata],
      );
    }
    await client.query('UPDATE log_head SET position = $1', [n]);
    await client.query('COMMIT');
    return ids;
  });

describe('PostgreSQL schema migrations', () => {
  const pools: pg.Pool[] = [];
  let fresh: Awaited<ReturnType<typeof dumpSchema>>;

  before(async () => {
    const { url } = await newDatabase();
    await (await openStore(url)).close();
    fresh = await dumpSchema(url);
  });

  after(async () => {
    for (const pool of pools) await pool.end();
  });

  it('records every migration, in order, on a fresh database', () => {
    assert.ok(VERSIONS.length >= 3);
    assert.deepEqual(
      fresh.migrations,
      postgresMigrations.map(({ version, name }) => ({ version, name })),
    );
    assert.ok(fresh.schema.functions?.some((fn) => (fn as { proname: string }).proname === 'append_events'));
    assert.ok(fresh.schema.policies?.length, 'the dump sees the policies');
  });

  for (const version of OLDER_VERSIONS) {
    it(`upgrades a database from version ${version} to exactly the fresh schema, keeping its events`, async () => {
      const { url } = await newDatabase();
      await (await openStore(url, version)).close();
      assert.deepEqual(
        (await appliedMigrations(url)).map((row) => row.version),
        VERSIONS.filter((v) => v <= version),
      );
      const ids = await writeLegacyEvents(url, 3);

      const store = await openStore(url);
      try {
        const events = await store.readStream('acme', 'legacy');
        assert.deepEqual(
          events.map((e) => [e.position, e.streamVersion, e.id, e.data, e.metadata.correlationId]),
          ids.map((id, i) => [BigInt(i + 1), i + 1, id, { i }, `c-${i}`]),
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
      const upgraded = await dumpSchema(url);
      assert.deepEqual(upgraded.schema, fresh.schema);
      assert.deepEqual(upgraded.migrations, fresh.migrations);
    });
  }

  it('applies nothing when it reopens an up-to-date database', async () => {
    const { url } = await newDatabase();
    await (await openStore(url)).close();
    const before = await appliedMigrations(url);
    await (await openStore(url)).close();
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    pools.push(pool);
    assert.deepEqual(await migratePostgres(pool), []);
    assert.deepEqual(await appliedMigrations(url), before, 'no migration was applied again (same applied_at)');
  });

  it('migrates a fresh database once when several processes open it at the same time', async () => {
    const { url } = await newDatabase();
    const racers = Array.from({ length: 4 }, () => new pg.Pool({ connectionString: url, max: 1 }));
    pools.push(...racers);
    const applied = await Promise.all(racers.map((pool) => migratePostgres(pool)));
    assert.deepEqual(
      applied.filter((versions) => versions.length > 0),
      [VERSIONS],
      'exactly one of them applied the migrations, all of them',
    );
    const rows = await appliedMigrations(url);
    assert.deepEqual(
      rows.map((row) => row.version),
      VERSIONS,
    );
    assert.equal(new Set(rows.map((row) => row.applied_at.getTime())).size, 1, 'applied in one transaction');
  });

  it('opens several stores on one fresh database at the same time, all of them working', async () => {
    const { url } = await newDatabase();
    const stores = await Promise.all(Array.from({ length: 4 }, () => openStore(url)));
    try {
      const results = await Promise.all(
        stores.map((store, i) => store.append({ tenant: 'acme', streamId: `s-${i}`, events: [{ type: 'Opened', data: { i } }] })),
      );
      assert.deepEqual(results.map((result) => result.firstPosition).sort(), [1n, 2n, 3n, 4n]);
      assert.deepEqual(await dumpSchema(url), fresh);
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
  });
});
