import assert from 'node:assert/strict';
import { it } from 'node:test';
import pg from 'pg';
import { openWebhookStore } from '../../src/messaging/webhooks/index.js';
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
