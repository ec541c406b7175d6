import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { deleteNatsStreams, NATS_URL, natsTestRoot } from '../support/nats.js';
import { testConfig } from '../support/platform.js';
import { testDatabases } from '../support/postgres.js';
import { platformMessagingContract } from './platform-contract.js';

const root = mkdtempSync(join(tmpdir(), 'bo-platform-messaging-pg-'));
const databases = testDatabases('platform_messaging');
after(() => rmSync(root, { recursive: true, force: true }));

platformMessagingContract(
  'PostgreSQL + NATS',
  async () => {
    const { url } = await databases();
    return testConfig({
      BACKOFFICE_DATA_DIR: root,
      BACKOFFICE_STORAGE: 'postgres',
      BACKOFFICE_DATABASE_URL: url,
      BACKOFFICE_BUS: 'nats',
      BACKOFFICE_NATS_URL: NATS_URL,
      BACKOFFICE_BUS_ROOT: natsTestRoot('platform'),
    });
  },
  (config) => deleteNatsStreams(config.busRoot),
);
