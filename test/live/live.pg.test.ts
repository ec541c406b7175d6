import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { startTestPlatform, testConfig } from '../support/platform.js';
import { testDatabases } from '../support/postgres.js';
import { liveContract } from './contract.js';

const newDatabase = testDatabases('live');
const root = mkdtempSync(join(tmpdir(), 'bo-live-pg-'));
after(() => rmSync(root, { recursive: true, force: true }));

liveContract('PostgreSQL', async (overrides) => {
  const { url } = await newDatabase();
  // Both processes of one database share its data directory, hence the vault's master key file.
  const config = testConfig({ BACKOFFICE_DATA_DIR: root, BACKOFFICE_STORAGE: 'postgres', BACKOFFICE_DATABASE_URL: url }, overrides);
  return { platform: await startTestPlatform(config), peer: () => startTestPlatform(config) };
});
