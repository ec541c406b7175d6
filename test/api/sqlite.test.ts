import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { startTestPlatform, testConfig } from '../support/platform.js';
import { apiContract } from './contract.js';

const root = mkdtempSync(join(tmpdir(), 'bo-api-'));
after(() => rmSync(root, { recursive: true, force: true }));

apiContract('SQLite', async ({ bodyLimitBytes }) => {
  const dataDir = mkdtempSync(join(root, 'platform-'));
  return startTestPlatform(testConfig({ BACKOFFICE_DATA_DIR: dataDir }, { bodyLimitBytes }));
});
