import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { openRouteStore } from '../../src/messaging/routes/index.js';
import { routeStoreContract } from './routes-store-contract.js';

const root = mkdtempSync(join(tmpdir(), 'bo-route-store-'));
after(() => rmSync(root, { recursive: true, force: true }));

routeStoreContract('SQLite', async () => {
  const path = join(mkdtempSync(join(root, 'db-')), 'backoffice.db');
  return { one: await openRouteStore({ kind: 'sqlite', path }), two: await openRouteStore({ kind: 'sqlite', path }) };
});
