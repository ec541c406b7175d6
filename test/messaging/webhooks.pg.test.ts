import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { testConfig } from '../support/platform.js';
import { testDatabases } from '../support/postgres.js';
import { webhooksApiContract } from './webhooks-contract-api.js';
import { webhooksDeliveryContract } from './webhooks-contract-delivery.js';
import { webhooksReplayContract } from './webhooks-contract-replay.js';
import { startHarness } from './webhooks-harness.js';

const newDatabase = testDatabases('webhooks');
const root = mkdtempSync(join(tmpdir(), 'bo-webhooks-pg-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** PostgreSQL storage (a database per harness, row-level security on) and the in-process bus. */
const start = async () => {
  const dir = mkdtempSync(join(root, 'platform-'));
  const config = testConfig({
    BACKOFFICE_DATA_DIR: dir,
    BACKOFFICE_STORAGE: 'postgres',
    BACKOFFICE_DATABASE_URL: (await newDatabase()).url,
  });
  return startHarness(config, { kind: 'inprocess', path: join(dir, 'bus.db') });
};

webhooksApiContract('PostgreSQL, in-process bus', start);
webhooksDeliveryContract('PostgreSQL, in-process bus', start);
webhooksReplayContract('PostgreSQL, in-process bus', start);
