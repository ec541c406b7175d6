import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { openPostgresPool } from '../../src/eventstore/postgres/store.js';
import { type IdentityStore, postgresIdentityStore } from '../../src/identity/store/index.js';
import { type TestDatabase, testDatabases } from '../support/postgres.js';
import { identityStoreContract } from './store-contract.js';
import { newTenant, newToken } from './store-fixtures.js';

/** As the application role, so that row-level security applies; opening the pool migrates the database. */
const newDatabase = testDatabases('identity');

let contractDatabase: Promise<TestDatabase> | undefined;
identityStoreContract('PostgreSQL', async () => {
  contractDatabase ??= newDatabase();
  const pool = await openPostgresPool({ connectionString: (await contractDatabase).url, poolSize: 8 });
  return { store: postgresIdentityStore(pool), close: () => pool.end() };
});

const TABLES = ['credentials', 'refresh_tokens', 'login_attempts', 'audit_log'] as const;

describe('row-level security on the identity store tables', () => {
  let database: TestDatabase;
  let pool: pg.Pool;
  let store: IdentityStore;
  let client: pg.Client;
  const [alpha, beta] = [newTenant(), newTenant()];

  before(async () => {
    database = await newDatabase();
    pool = await openPostgresPool({ connectionString: database.url, poolSize: 2 });
    store = postgresIdentityStore(pool);
    const at = new Date();
    await store.credentials.put({ tenant: alpha, kind: 'user', subject: 'alice', hash: 'h', changeRequired: false, updatedAt: at });
    await store.sessions.create(newToken(alpha));
    await store.attempts.recordFailure(alpha, 'user:alice', at, () => 0);
    await store.audit.append(alpha, { action: 'login', actor: `${alpha}/alice`, address: null, target: 'alice', detail: {} });
    client = new pg.Client({ connectionString: database.url });
    await client.connect();
  });

  after(async () => {
    await client?.end();
    await pool?.end();
  });

  /** Rows of `tenant` in each table, as a query run under `setting` sees them. */
  async function visible(setting: string, tenant: string): Promise<Record<string, number>> {
    await client.query('BEGIN');
    try {
      await client.query(`SELECT set_config('backoffice.tenant', $1, true)`, [setting]);
      const counts: Record<string, number> = {};
      for (const table of TABLES) {
        const { rows } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE tenant = $1`, [tenant]);
        counts[table] = rows[0]?.n ?? 0;
      }
      return counts;
    } finally {
      await client.query('ROLLBACK');
    }
  }

  const each = (n: number) => Object.fromEntries(TABLES.map((table) => [table, n]));

  it("hides a tenant's rows from a query run under another tenant's setting", async () => {
    assert.deepEqual(await visible(alpha, alpha), each(1));
    assert.deepEqual(await visible(beta, alpha), each(0));
  });

  it("neither changes nor deletes another tenant's rows, and writes none for it", async () => {
    await client.query('BEGIN');
    try {
      await client.query(`SELECT set_config('backoffice.tenant', $1, true)`, [beta]);
      for (const table of TABLES) {
        assert.equal((await client.query(`DELETE FROM ${table} WHERE tenant = $1`, [alpha])).rowCount, 0, table);
      }
      assert.equal((await client.query(`UPDATE refresh_tokens SET revoked_at = now() WHERE tenant = $1`, [alpha])).rowCount, 0);
      await assert.rejects(
        client.query(`INSERT INTO login_attempts (tenant, key, failures, last_failure_at) VALUES ($1, 'user:x', 1, now())`, [alpha]),
        { code: '42501' },
      );
    } finally {
      await client.query('ROLLBACK');
    }
    assert.deepEqual(await visible(alpha, alpha), each(1));
  });
});
