import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { deleteNatsStreams, NATS_URL, natsTestRoot } from '../support/nats.js';
import { testConfig } from '../support/platform.js';
import { testDatabases } from '../support/postgres.js';
import { MAX_GROUPS, reportsContract, restartContract } from './contract.js';

const newDatabase = testDatabases('reports_nats');
const root = mkdtempSync(join(tmpdir(), 'bo-reports-nats-'));
const roots: string[] = [];
after(async () => {
  await Promise.all(roots.map(deleteNatsStreams));
  rmSync(root, { recursive: true, force: true });
});

/** Server mode: PostgreSQL and NATS, the relay publishing everything the reports read. */
const newConfig = async () => {
  const busRoot = natsTestRoot('reports');
  roots.push(busRoot);
  return testConfig({
    BACKOFFICE_DATA_DIR: root,
    BACKOFFICE_STORAGE: 'postgres',
    BACKOFFICE_DATABASE_URL: (await newDatabase()).url,
    BACKOFFICE_REPORT_MAX_GROUPS: String(MAX_GROUPS),
    BACKOFFICE_BUS: 'nats',
    BACKOFFICE_NATS_URL: NATS_URL,
    BACKOFFICE_BUS_ROOT: busRoot,
  });
};

reportsContract('PostgreSQL + NATS', newConfig);
restartContract('PostgreSQL + NATS', newConfig);
