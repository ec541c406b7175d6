import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { deleteNatsStreams, NATS_URL, natsTestRoot } from '../support/nats.js';
import { testConfig } from '../support/platform.js';
import { webhooksApiContract } from './webhooks-contract-api.js';
import { webhooksDeliveryContract } from './webhooks-contract-delivery.js';
import { webhooksReplayContract } from './webhooks-contract-replay.js';
import { startHarness } from './webhooks-harness.js';

const root = mkdtempSync(join(tmpdir(), 'bo-webhooks-nats-'));
/** Every harness of this file gets a subject root (and so JetStream streams) of its own, deleted at the end. */
const roots: string[] = [];
after(async () => {
  for (const busRoot of roots) await deleteNatsStreams(busRoot);
  rmSync(root, { recursive: true, force: true });
});

const start = async () => {
  const busRoot = natsTestRoot('webhooks');
  roots.push(busRoot);
  return startHarness(testConfig({ BACKOFFICE_DATA_DIR: mkdtempSync(join(root, 'platform-')) }), {
    kind: 'nats',
    url: NATS_URL,
    root: busRoot,
  });
};

webhooksApiContract('SQLite, NATS', start);
webhooksDeliveryContract('SQLite, NATS', start);
webhooksReplayContract('SQLite, NATS', start);
