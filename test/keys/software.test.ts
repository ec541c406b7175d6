import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { after, it } from 'node:test';
import type Database from 'better-sqlite3';
import { openSqliteDatabase } from '../../src/eventstore/sqlite/store.js';
import { createSoftwareVault, type KeyVault, sqliteKeyRecords } from '../../src/keys/index.js';
import { keyVaultContract } from './contract.js';
import { softwareVaultCases } from './software-cases.js';

const dir = mkdtempSync(join(tmpdir(), 'bo-keys-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let count = 0;

/** A vault that owns its database connection, so that closing it closes the file. */
function vaultOn(path: string, masterKey: Buffer): KeyVault {
  const db = openSqliteDatabase({ path });
  try {
    let released = false;
    const vault = createSoftwareVault({ masterKey, records: sqliteKeyRecords(db) });
    return {
      ...vault,
      async close() {
        await vault.close();
        if (!released) db.close();
        released = true;
      },
    };
  } catch (error) {
    db.close();
    throw error;
  }
}

const contractPath = join(dir, 'contract.db');
const contractKey = Buffer.alloc(32, 7);
keyVaultContract('software (SQLite records)', async () => vaultOn(contractPath, contractKey));

softwareVaultCases('SQLite', async () => {
  const path = join(dir, `at-rest-${++count}.db`);
  const db: Database.Database = openSqliteDatabase({ path });
  return {
    close: async () => {
      db.close();
    },
    open: async (masterKey) => vaultOn(path, masterKey),
    records: sqliteKeyRecords(db),
    async storedBytes() {
      db.pragma('wal_checkpoint(PASSIVE)');
      return Buffer.concat([path, `${path}-wal`].filter((file) => existsSync(file)).map((file) => readFileSync(file)));
    },
  };
});

it('never loads pkcs11js (nor the PKCS#11 adapter) for the software vault', () => {
  const loaded = Object.keys(createRequire(import.meta.url).cache).filter((path) => path.includes(`${sep}pkcs11js${sep}`));
  assert.deepEqual(loaded, []);
});
