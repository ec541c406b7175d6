import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import type Database from 'better-sqlite3';
import { openSqliteDatabase } from '../../src/eventstore/sqlite/store.js';
import { openWebhookStore } from '../../src/messaging/webhooks/index.js';
import { migrateSqliteWebhooks } from '../../src/messaging/webhooks/sqlite.js';
import { webhookStoreContract } from './webhooks-store-contract.js';

const root = mkdtempSync(join(tmpdir(), 'bo-webhook-store-'));
after(() => rmSync(root, { recursive: true, force: true }));
const path = join(root, 'backoffice.db');

webhookStoreContract('SQLite', () => openWebhookStore({ kind: 'sqlite', path }));

it('opens an already migrated SQLite database again, keeping its rows', async () => {
  const file = join(root, 'again.db');
  const first = await openWebhookStore({ kind: 'sqlite', path: file });
  await first.putSecret('acme', 'h', 'a-secret-0123456789abc');
  await first.close();
  const second = await openWebhookStore({ kind: 'sqlite', path: file });
  assert.equal(await second.secret('acme', 'h'), 'a-secret-0123456789abc');
  await second.close();
});

const schemaOf = (db: Database.Database) =>
  db.prepare("SELECT type, name, sql FROM sqlite_master WHERE name LIKE 'webhook%' ORDER BY name").all();

it('upgrades a store of the first version to the schema of a fresh one, keeping its rows', async () => {
  const fresh = openSqliteDatabase({ path: join(root, 'fresh.db') });
  migrateSqliteWebhooks(fresh);
  const file = join(root, 'upgraded.db');
  const old = openSqliteDatabase({ path: file });
  assert.deepEqual(migrateSqliteWebhooks(old, 1), [1]);
  old.prepare("INSERT INTO webhook_secrets VALUES ('acme', 'h', 'a-secret-0123456789abc', '2024-01-01T00:00:00.000Z')").run();
  old.close();
  const store = await openWebhookStore({ kind: 'sqlite', path: file });
  assert.equal(await store.secret('acme', 'h'), 'a-secret-0123456789abc');
  await store.close();
  const upgraded = openSqliteDatabase({ path: file });
  assert.deepEqual(schemaOf(upgraded), schemaOf(fresh));
  upgraded.close();
  fresh.close();
});
