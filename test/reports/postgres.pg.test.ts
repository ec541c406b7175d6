import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { testConfig } from '../support/platform.js';
import { testDatabases } from '../support/postgres.js';
import { MAX_GROUPS, reportsContract, restartContract } from './contract.js';

const newDatabase = testDatabases('reports');
const root = mkdtempSync(join(tmpdir(), 'bo-reports-pg-'));
after(() => rmSync(root, { recursive: true, force: true }));

const newConfig = async () =>
  testConfig({
    BACKOFFICE_DATA_DIR: root,
    BACKOFFICE_STORAGE: 'postgres',
    BACKOFFICE_DATABASE_URL: (await newDatabase()).url,
    BACKOFFICE_REPORT_MAX_GROUPS: String(MAX_GROUPS),
  });

reportsContract('PostgreSQL', newConfig);
restartContract('PostgreSQL', newConfig);
