import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { openWebhookStore } from '../../src/messaging/webhooks/index.js';
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
