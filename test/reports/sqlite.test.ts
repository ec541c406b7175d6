import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { testConfig } from '../support/platform.js';
import { MAX_GROUPS, reportsContract, restartContract } from './contract.js';

const root = mkdtempSync(join(tmpdir(), 'bo-reports-'));
after(() => rmSync(root, { recursive: true, force: true }));

const newConfig = async () =>
  testConfig({ BACKOFFICE_DATA_DIR: mkdtempSync(join(root, 'platform-')), BACKOFFICE_REPORT_MAX_GROUPS: String(MAX_GROUPS) });

reportsContract('SQLite', newConfig);
restartContract('SQLite', newConfig);
