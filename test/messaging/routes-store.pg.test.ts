import { openRouteStore } from '../../src/messaging/routes/index.js';
import { testDatabases } from '../support/postgres.js';
import { routeStoreContract } from './routes-store-contract.js';

const newDatabase = testDatabases('routes_store');

routeStoreContract('PostgreSQL', async () => {
  const { url } = await newDatabase();
  return { one: await openRouteStore({ kind: 'postgres', url }), two: await openRouteStore({ kind: 'postgres', url }) };
});
