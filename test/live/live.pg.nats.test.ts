import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { deleteNatsStreams, NATS_URL, natsTestRoot } from '../support/nats.js';
import { startTestPlatform, testConfig } from '../support/platform.js';
import { testDatabases } from '../support/postgres.js';
import { liveContract } from './contract.js';

const newDatabase = testDatabases('live_nats');
const root = mkdtempSync(join(tmpdir(), 'bo-live-nats-'));
const roots: string[] = [];
after(async () => {
  await Promise.all(roots.map(deleteNatsStreams));
  rmSync(root, { recursive: true, force: true });
});

/** Server mode: each platform and its peer share a database and a bus root; the tail also wakes on the broker. */
liveContract('PostgreSQL + NATS', async (overrides) => {
  const { url } = await newDatabase();
  const busRoot = natsTestRoot('live');
  roots.push(busRoot);
  const config = testConfig(
    {
      BACKOFFICE_DATA_DIR: root,
      BACKOFFICE_STORAGE: 'postgres',
      BACKOFFICE_DATABASE_URL: url,
      BACKOFFICE_BUS: 'nats',
      BACKOFFICE_NATS_URL: NATS_URL,
      BACKOFFICE_BUS_ROOT: busRoot,
    },
    overrides,
  );
  return { platform: await startTestPlatform(config), peer: () => startTestPlatform(config) };
});
