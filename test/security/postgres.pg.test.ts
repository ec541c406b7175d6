import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { startTestPlatform, testConfig } from '../support/platform.js';
import { testDatabases } from '../support/postgres.js';
import { securityContract } from './contract.js';

const newDatabase = testDatabases('security');
const root = mkdtempSync(join(tmpdir(), 'bo-security-pg-'));
after(() => rmSync(root, { recursive: true, force: true }));

securityContract('PostgreSQL with the software vault', async ({ publicUrl }) => {
  const { url } = await newDatabase();
  return startTestPlatform(
    testConfig({
      BACKOFFICE_DATA_DIR: root,
      BACKOFFICE_STORAGE: 'postgres',
      BACKOFFICE_DATABASE_URL: url,
      BACKOFFICE_PUBLIC_URL: publicUrl,
    }),
  );
});
