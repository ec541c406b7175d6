import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { deleteNatsStreams, NATS_URL, natsTestRoot } from '../support/nats.js';
import { testConfig } from '../support/platform.js';
import { routesAggregateContract, routesProcessesContract } from './routes-contract-aggregate.js';
import { routesFlowContract } from './routes-contract-flow.js';
import { type HarnessOptions, startHarness } from './routes-harness.js';

const root = mkdtempSync(join(tmpdir(), 'bo-routes-nats-'));
/** Every harness of this file gets a subject root (and so JetStream streams) of its own, deleted at the end. */
const roots: string[] = [];
after(async () => {
  for (const busRoot of roots) await deleteNatsStreams(busRoot);
  rmSync(root, { recursive: true, force: true });
});

const start = async (options?: HarnessOptions) => {
  const busRoot = natsTestRoot('routes');
  roots.push(busRoot);
  return startHarness(
    testConfig({ BACKOFFICE_DATA_DIR: mkdtempSync(join(root, 'platform-')) }),
    {
      kind: 'nats',
      url: NATS_URL,
      root: busRoot,
    },
    options,
  );
};

routesFlowContract('SQLite, NATS', start);
routesAggregateContract('SQLite, NATS', start);
routesProcessesContract('SQLite, NATS', start);
