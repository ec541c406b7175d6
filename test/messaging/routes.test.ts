import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { testConfig } from '../support/platform.js';
import { routesAggregateContract, routesProcessesContract } from './routes-contract-aggregate.js';
import { routesApiContract } from './routes-contract-api.js';
import { routesFlowContract } from './routes-contract-flow.js';
import { type HarnessOptions, startHarness } from './routes-harness.js';

const root = mkdtempSync(join(tmpdir(), 'bo-routes-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** SQLite storage and the in-process bus, each harness on files of its own. */
const start = async (options?: HarnessOptions) => {
  const dir = mkdtempSync(join(root, 'platform-'));
  return startHarness(testConfig({ BACKOFFICE_DATA_DIR: dir }), { kind: 'inprocess', path: join(dir, 'bus.db') }, options);
};

routesApiContract('SQLite, in-process bus', start);
routesFlowContract('SQLite, in-process bus', start);
routesAggregateContract('SQLite, in-process bus', start);
routesProcessesContract('SQLite, in-process bus', start);
