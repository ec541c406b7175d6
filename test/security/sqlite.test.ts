import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { startTestPlatform, testConfig } from '../support/platform.js';
import { securityContract } from './contract.js';

const root = mkdtempSync(join(tmpdir(), 'bo-security-'));
after(() => rmSync(root, { recursive: true, force: true }));

securityContract('SQLite with the software vault', async ({ publicUrl }) => {
  const dataDir = mkdtempSync(join(root, 'platform-'));
  return startTestPlatform(testConfig({ BACKOFFICE_DATA_DIR: dataDir, BACKOFFICE_PUBLIC_URL: publicUrl }));
});
