import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { createLogger } from '../../src/kernel/index.js';
import { loadConfig } from '../../src/platform/config.js';
import { createPlatform } from '../../src/platform/platform.js';
import { apiContract } from './contract.js';

const root = mkdtempSync(join(tmpdir(), 'bo-api-'));
after(() => rmSync(root, { recursive: true, force: true }));

apiContract('SQLite', async ({ bodyLimitBytes }) => {
  const dataDir = mkdtempSync(join(root, 'platform-'));
  const config = loadConfig({ env: { BACKOFFICE_DATA_DIR: dataDir, BACKOFFICE_AUTH: 'disabled' } });
  return createPlatform({ ...config, bodyLimitBytes }, createLogger('silent'));
});
