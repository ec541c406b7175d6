import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { EventStore } from '../../src/eventstore/index.js';
import { createPostgresEventStore } from '../../src/eventstore/postgres/store.js';
import { type TestDatabase, testDatabases } from '../support/postgres.js';
import { rawAppend } from './torture.js';

/**
 * Row-level security is defence in depth: the store already filters by tenant, and a query that
 * forgets to must still see nothing of another tenant. The tests connect as the application role.
 */
const newDatabase = testDatabases('row_security');

const TABLES = ['events', 'idempotency_keys'] as const;
/** Queried with JSON operators that forced row security would keep away from indexes (docs/decisions/0003). */
const UNFORCED = new Set(['documents']);
const NOT_ALLOWED = { code: '42501' };

const insertEvent = (tenant: string) =>
  `INSERT INTO events (position, tenant, stream_id, stream_version, event_id, type, schema_version, data, metadata, recorded_at)
   VALUES (1000000, '${tenant}', 'intruder', 1, gen_random_uuid(), 'Intruded', 1, '{}', '{}', now())`;
const insertKey = (tenant: string) =>
  `INSERT INTO idempotency_keys (tenant, key, fingerprint, result, created_at) VALUES ('${tenant}', 'intruder', 'f', '{}', now())`;

describe('row-level security on PostgreSQL', () => {
  let database: TestDatabase;
  let store: EventStore;
  let admin: pg.Client;
  const clients: pg.Client[] = [];

  /** A new connection as the application role, with no tenant set. */
  async function appClient(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    clients.push(client);
    return client;
  }

  const setTenant = (client: pg.Client, tenant: string) => client.query(`SELECT set_config('backoffice.tenant', $1, false)`, [tenant]);

  /** Rows per tenant as `client` sees them. */
  async function rowsByTenant(client: pg.Client, table: (typeof TABLES)[number]): Promise<Record<string, number>> {
    const { rows } = await client.query<{ tenant: string; n: number }>(
      `SELECT tenant, count(*)::int AS n FROM ${table} GROUP BY tenant ORDER BY tenant`,
    );
    return Object.fromEntries(rows.map((row) => [row.tenant, row.n]));
  }

  before(async () => {
    database = await newDatabase();
    store = await createPostgresEventStore({ connectionString: database.url });
    const events = (n: number) => Array.from({ length: n }, (_, i) => ({ type: 'Happened', data: { i } }));
    await store.append({ tenant: 'alpha', streamId: 'a-1', events: events(2), idempotencyKey: 'alpha-1' });
    await store.append({ tenant: 'alpha', streamId: 'a-2', events: events(1), idempotencyKey: 'alpha-2' });
    await store.append({ tenant: 'beta', streamId: 'b-1', events: events(2), idempotencyKey: 'beta-1' });
    admin = new pg.Client({ connectionString: database.adminUrl });
    await admin.connect();
  });

  after(async () => {
    for (const client of clients) await client.end();
    await admin?.end();
    await store?.close();
  });

  it('connects the application as a role that is neither superuser nor exempt from row security', async () => {
    const client = await appClient();
    const { rows } = await client.query('SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user');
    assert.deepEqual(rows, [{ rolsuper: false, rolbypassrls: false }]);
  });

  it('guards every table with a tenant column by a tenant_isolation policy, forced on its owner except for documents', async () => {
    const { rows } = await admin.query(
      `SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, pg_get_userbyid(c.relowner) AS owner,
              EXISTS (SELECT 1 FROM pg_policies p
                      WHERE p.schemaname = 'public' AND p.tablename = c.relname AND p.policyname = 'tenant_isolation') AS policy
       FROM information_schema.columns col
       JOIN pg_class c ON c.relname = col.table_name AND c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
       WHERE col.table_schema = 'public' AND col.column_name = 'tenant' ORDER BY c.relname`,
    );
    assert.ok(rows.length >= TABLES.length);
    const owner = new URL(database.url).username;
    for (const row of rows) {
      const forced = !UNFORCED.has(row.relname);
      assert.deepEqual(row, { relname: row.relname, relrowsecurity: true, relforcerowsecurity: forced, owner, policy: true });
    }
  });

  it('lets the superuser administrator see every tenant without a setting (it bypasses row security)', async () => {
    const { rows } = await admin.query('SELECT rolsuper FROM pg_roles WHERE rolname = current_user');
    assert.deepEqual(rows, [{ rolsuper: true }]);
    assert.deepEqual(await rowsByTenant(admin, 'events'), { alpha: 3, beta: 2 });
    assert.deepEqual(await rowsByTenant(admin, 'idempotency_keys'), { alpha: 2, beta: 1 });
  });

  it('shows the application role no row at all while no tenant is set', async () => {
    const client = await appClient();
    const { rows } = await client.query(`SELECT current_setting('backoffice.tenant', true) AS tenant`);
    assert.equal(rows[0]?.tenant, null);
    for (const table of TABLES) assert.deepEqual(await rowsByTenant(client, table), {}, table);
  });

  it('shows only the rows of the tenant that is set', async () => {
    const client = await appClient();
    await setTenant(client, 'alpha');
    assert.deepEqual(await rowsByTenant(client, 'events'), { alpha: 3 });
    assert.deepEqual(await rowsByTenant(client, 'idempotency_keys'), { alpha: 2 });
    const beta = await client.query(`SELECT * FROM events WHERE tenant = 'beta'`);
    assert.equal(beta.rowCount, 0, 'asking for another tenant by name does not help');
    await setTenant(client, 'beta');
    assert.deepEqual(await rowsByTenant(client, 'events'), { beta: 2 });
  });

  it("rejects inserting another tenant's row with a row-security violation", async () => {
    const client = await appClient();
    await setTenant(client, 'alpha');
    await assert.rejects(client.query(insertEvent('beta')), NOT_ALLOWED);
    await assert.rejects(client.query(insertKey('beta')), NOT_ALLOWED);
    await assert.rejects(client.query(`UPDATE events SET tenant = 'beta' WHERE tenant = 'alpha'`), NOT_ALLOWED);
    await client.query('BEGIN');
    await client.query(insertEvent('alpha'));
    await client.query(insertKey('alpha'));
    await client.query('ROLLBACK');
    assert.deepEqual(await rowsByTenant(admin, 'events'), { alpha: 3, beta: 2 }, 'nothing was written');
  });

  it("neither changes nor deletes another tenant's rows, which it cannot see", async () => {
    const client = await appClient();
    await setTenant(client, 'alpha');
    assert.equal((await client.query(`UPDATE events SET type = 'Tampered' WHERE tenant = 'beta'`)).rowCount, 0);
    assert.equal((await client.query(`DELETE FROM events WHERE tenant = 'beta'`)).rowCount, 0);
    assert.equal((await client.query(`DELETE FROM idempotency_keys WHERE tenant = 'beta'`)).rowCount, 0);
    const { rows } = await admin.query(`SELECT type FROM events WHERE tenant = 'beta'`);
    assert.deepEqual(rows, [{ type: 'Happened' }, { type: 'Happened' }]);
    assert.deepEqual(await rowsByTenant(admin, 'idempotency_keys'), { alpha: 2, beta: 1 });
  });

  it("reads every tenant with '*' but writes for none", async () => {
    const client = await appClient();
    await setTenant(client, '*');
    assert.deepEqual(await rowsByTenant(client, 'events'), { alpha: 3, beta: 2 });
    assert.deepEqual(await rowsByTenant(client, 'idempotency_keys'), { alpha: 2, beta: 1 });
    await assert.rejects(client.query(insertEvent('alpha')), NOT_ALLOWED);
    await assert.rejects(client.query(insertKey('beta')), NOT_ALLOWED);
  });

  it('keeps the tenant an append or a read sets to its own statement, not to the pooled connection', async () => {
    const client = await appClient();
    const [outcome] = await rawAppend(client, [{ tenant: 'alpha', streamId: 'a-3', count: 1 }]);
    assert.ok(outcome, 'the append function writes under the row-security policy');
    for (const table of TABLES) assert.deepEqual(await rowsByTenant(client, table), {}, `${table} after an append`);
    const alphaOnly = await client.query<{ tenant: string }>('SELECT DISTINCT tenant FROM read_log($1, 0, 100)', ['alpha']);
    assert.deepEqual(alphaOnly.rows, [{ tenant: 'alpha' }]);
    await client.query('SELECT * FROM read_log(NULL, 0, 100)');
    for (const table of TABLES) assert.deepEqual(await rowsByTenant(client, table), {}, `${table} after reading the whole log`);
  });

  it("restores the caller's tenant after a log function inside its transaction", async () => {
    const client = await appClient();
    await client.query('BEGIN');
    await client.query("SELECT set_config('backoffice.tenant', 'alpha', true)");
    await client.query('SELECT * FROM read_log(NULL, 0, 100)');
    const { rows } = await client.query('SELECT DISTINCT tenant FROM events ORDER BY 1');
    await client.query('ROLLBACK');
    assert.deepEqual(rows, [{ tenant: 'alpha' }]);
  });
});
