import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { startTestPlatform, testConfig } from '../support/platform.js';
import { liveContract } from './contract.js';

const root = mkdtempSync(join(tmpdir(), 'bo-live-'));
after(() => rmSync(root, { recursive: true, force: true }));

liveContract('SQLite', async (overrides) => {
  const config = testConfig({ BACKOFFICE_DATA_DIR: mkdtempSync(join(root, 'platform-')) }, overrides);
  // Another process on the same file hears no notification: it finds the other's writes by polling.
  return { platform: await startTestPlatform(config), peer: () => startTestPlatform(config) };
});
