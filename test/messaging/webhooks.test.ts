import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { testConfig } from '../support/platform.js';
import { webhooksApiContract } from './webhooks-contract-api.js';
import { webhooksDeliveryContract } from './webhooks-contract-delivery.js';
import { webhooksReplayContract } from './webhooks-contract-replay.js';
import { startHarness } from './webhooks-harness.js';

const root = mkdtempSync(join(tmpdir(), 'bo-webhooks-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** SQLite storage and the in-process bus, each harness on files of its own. */
const start = async () => {
  const dir = mkdtempSync(join(root, 'platform-'));
  return startHarness(testConfig({ BACKOFFICE_DATA_DIR: dir }), { kind: 'inprocess', path: join(dir, 'bus.db') });
};

webhooksApiContract('SQLite, in-process bus', start);
webhooksDeliveryContract('SQLite, in-process bus', start);
webhooksReplayContract('SQLite, in-process bus', start);
