import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { createLogger } from '../../src/kernel/index.js';
import { loadConfig } from '../../src/platform/config.js';
import { createPlatform } from '../../src/platform/platform.js';
import { testDatabases } from '../support/postgres.js';
import { apiContract } from './contract.js';

const newDatabase = testDatabases('api');
const root = mkdtempSync(join(tmpdir(), 'bo-api-pg-'));
after(() => rmSync(root, { recursive: true, force: true }));

apiContract('PostgreSQL', async ({ bodyLimitBytes }) => {
  const { url } = await newDatabase();
  const config = loadConfig({ env: { BACKOFFICE_DATA_DIR: root } });
  // auth 'disabled' is refused by loadConfig off SQLite; the contract needs it on both backends.
  return createPlatform({ ...config, storage: 'postgres', databaseUrl: url, auth: 'disabled', bodyLimitBytes }, createLogger('silent'));
});
