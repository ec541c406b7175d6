import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { openSqliteDatabase } from '../../src/eventstore/sqlite/store.js';
import { sqliteIdentityStore } from '../../src/identity/store/index.js';
import { identityStoreContract } from './store-contract.js';

const dir = mkdtempSync(join(tmpdir(), 'bo-identity-'));
after(() => rmSync(dir, { recursive: true, force: true }));

identityStoreContract('SQLite', async () => {
  const db = openSqliteDatabase({ path: join(dir, 'identity.db') });
  return { store: sqliteIdentityStore(db), close: async () => void db.close() };
});
