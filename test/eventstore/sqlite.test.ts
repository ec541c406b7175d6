import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { createSqliteEventStore } from '../../src/eventstore/sqlite/store.js';
import { eventStoreContract } from './contract.js';

const dir = mkdtempSync(join(tmpdir(), 'bo-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let count = 0;

eventStoreContract('SQLite', async (options = {}) => {
  const path = join(dir, `events-${++count}.db`);
  const open = () => createSqliteEventStore({ path, ...options });
  return { store: open(), reopen: async () => open() };
});
