import { createPostgresEventStore } from '../../src/eventstore/postgres/store.js';
import { testDatabases } from '../support/postgres.js';
import { eventStoreContract } from './contract.js';

const newDatabase = testDatabases('contract');

eventStoreContract('PostgreSQL', async (options = {}) => {
  const { url } = await newDatabase();
  const open = () => createPostgresEventStore({ connectionString: url, ...options });
  return { store: await open(), reopen: open };
});
