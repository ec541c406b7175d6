import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { testConfig } from '../support/platform.js';
import { testDatabases } from '../support/postgres.js';
import { routesAggregateContract, routesProcessesContract } from './routes-contract-aggregate.js';
import { routesApiContract } from './routes-contract-api.js';
import { routesFlowContract } from './routes-contract-flow.js';
import { type HarnessOptions, startHarness } from './routes-harness.js';

const newDatabase = testDatabases('routes');
const root = mkdtempSync(join(tmpdir(), 'bo-routes-pg-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** PostgreSQL storage (a database per harness, row-level security on) and the in-process bus. */
const start = async (options?: HarnessOptions) => {
  const dir = mkdtempSync(join(root, 'platform-'));
  const config = testConfig({
    BACKOFFICE_DATA_DIR: dir,
    BACKOFFICE_STORAGE: 'postgres',
    BACKOFFICE_DATABASE_URL: (await newDatabase()).url,
  });
  return startHarness(config, { kind: 'inprocess', path: join(dir, 'bus.db') }, options);
};

routesApiContract('PostgreSQL, in-process bus', start);
routesFlowContract('PostgreSQL, in-process bus', start);
routesAggregateContract('PostgreSQL, in-process bus', start);
routesProcessesContract('PostgreSQL, in-process bus', start);
