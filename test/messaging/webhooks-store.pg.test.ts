import assert from 'node:assert/strict';
import { it } from 'node:test';
import pg from 'pg';
import { uuidv7 } from '../../src/kernel/index.js';
import { openWebhookStore } from '../../src/messaging/webhooks/index.js';
import { migratePostgresWebhooks } from '../../src/messaging/webhooks/postgres.js';
import { testDatabases } from '../support/postgres.js';
import { webhookStoreContract } from './webhooks-store-contract.js';

const newDatabase = testDatabases('webhook_store');

webhookStoreContract('PostgreSQL', async () => openWebhookStore({ kind: 'postgres', url: (await newDatabase()).url }));

it('keeps each tenant to its own rows (forced row-level security), and migrates once for several stores', async () => {
  const database = await newDatabase();
  const [first, second] = await Promise.all([
    openWebhookStore({ kind: 'postgres', url: database.url }),
    openWebhookStore({ kind: 'postgres', url: database.url }),
  ]);
  await first.putSecret('acme', 'h', 'acme-secret-0123456789');
  await second.putSecret('beta', 'h', 'beta-secret-0123456789');
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query("SELECT set_config('backoffice.tenant', 'acme', true)");
    const { rows } = await client.query<{ tenant: string }>('SELECT tenant FROM webhook_secrets');
    assert.deepEqual(rows, [{ tenant: 'acme' }]);
    await assert.rejects(client.query("INSERT INTO webhook_secrets VALUES ('beta', 'x', 's', now())"), /row-level security/);
    await client.query('ROLLBACK');
    const { rows: none } = await client.query('SELECT tenant FROM webhook_secrets');
    assert.deepEqual(none, []);
  } finally {
    await client.end();
    await first.close();
    await second.close();
  }
});

it('hands each replay to one of several stores claiming at once, and keeps replays to their tenant', async () => {
  const database = await newDatabase();
  const stores = await Promise.all(Array.from({ length: 3 }, () => openWebhookStore({ kind: 'postgres', url: database.url })));
  const client = new pg.Client({ connectionString: database.url });
  try {
    const ids = Array.from({ length: 12 }, () => uuidv7());
    for (const [i, id] of ids.entries())
      await stores[0]?.createReplay({ id, tenant: i % 2 ? 'acme' : 'beta', webhook: 'h', from: 1n, to: 9n, progress: 0n });
    const claims = await Promise.all(
      stores.flatMap((store, s) => Array.from({ length: 6 }, (_, n) => store.claimReplay(`owner-${s}-${n}`, 60_000))),
    );
    const claimed = claims.flatMap((replay) => (replay ? [replay.id] : []));
    assert.deepEqual([...claimed].sort(), [...ids].sort());
    await client.connect();
    await client.query('BEGIN');
    await client.query("SELECT set_config('backoffice.tenant', 'acme', true)");
    const { rows } = await client.query<{ tenant: string }>('SELECT DISTINCT tenant FROM webhook_replays');
    assert.deepEqual(rows, [{ tenant: 'acme' }]);
    await client.query('ROLLBACK');
  } finally {
    await client.end();
    for (const store of stores) await store.close();
  }
});

/** Columns, indexes and policies of the webhook tables, as the catalog describes them. */
async function schemaOf(url: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const columns = await client.query(
      `SELECT table_name, column_name, data_type, is_nullable, collation_name FROM information_schema.columns
       WHERE table_name LIKE 'webhook%' ORDER BY table_name, column_name`,
    );
    const indexes = await client.query("SELECT indexname, indexdef FROM pg_indexes WHERE tablename LIKE 'webhook%' ORDER BY indexname");
    const policies = await client.query(
      "SELECT tablename, policyname, qual, with_check FROM pg_policies WHERE tablename LIKE 'webhook%' ORDER BY tablename",
    );
    return { columns: columns.rows, indexes: indexes.rows, policies: policies.rows };
  } finally {
    await client.end();
  }
}

it('upgrades a store of the first version to the schema of a fresh one, keeping its rows', async () => {
  const [fresh, old] = [await newDatabase(), await newDatabase()];
  await (await openWebhookStore({ kind: 'postgres', url: fresh.url })).close();
  const pool = new pg.Pool({ connectionString: old.url });
  try {
    assert.deepEqual(await migratePostgresWebhooks(pool, 1), [1]);
    await pool.query(`BEGIN; SELECT set_config('backoffice.tenant', 'acme', true);
      INSERT INTO webhook_secrets VALUES ('acme', 'h', 'acme-secret-0123456789', now()); COMMIT`);
  } finally {
    await pool.end();
  }
  const store = await openWebhookStore({ kind: 'postgres', url: old.url });
  assert.equal(await store.secret('acme', 'h'), 'acme-secret-0123456789');
  await store.close();
  assert.deepEqual(await schemaOf(old.url), await schemaOf(fresh.url));
});
