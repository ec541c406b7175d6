import pg from 'pg';
import { openPostgresPool } from '../../src/eventstore/postgres/store.js';
import { createSoftwareVault, type KeyVault, postgresKeyRecords } from '../../src/keys/index.js';
import { testDatabases } from '../support/postgres.js';
import { keyVaultContract } from './contract.js';
import { softwareVaultCases } from './software-cases.js';

const newDatabase = testDatabases('keys');

/** A vault that owns its pool, so that closing it ends the pool (as the application role: row security applies). */
async function vaultOn(url: string, masterKey: Buffer): Promise<KeyVault> {
  const pool = await openPostgresPool({ connectionString: url, poolSize: 4 });
  try {
    let released = false;
    const vault = createSoftwareVault({ masterKey, records: postgresKeyRecords(pool) });
    return {
      ...vault,
      async close() {
        await vault.close();
        if (!released) await pool.end();
        released = true;
      },
    };
  } catch (error) {
    await pool.end();
    throw error;
  }
}

const contractKey = Buffer.alloc(32, 7);
let contractDatabase: ReturnType<typeof newDatabase> | undefined;
keyVaultContract('software (PostgreSQL records)', async () => {
  contractDatabase ??= newDatabase();
  return vaultOn((await contractDatabase).url, contractKey);
});

softwareVaultCases('PostgreSQL', async () => {
  const database = await newDatabase();
  const pool = await openPostgresPool({ connectionString: database.url, poolSize: 2 });
  const admin = new pg.Client({ connectionString: database.adminUrl });
  await admin.connect();
  return {
    async close() {
      await admin.end();
      await pool.end();
    },
    open: (masterKey) => vaultOn(database.url, masterKey),
    records: postgresKeyRecords(pool),
    async storedBytes() {
      const { rows } = await admin.query<Record<string, unknown>>('SELECT * FROM vault_keys');
      const values = rows.flatMap((row) => Object.values(row));
      return Buffer.concat(values.map((value) => (Buffer.isBuffer(value) ? value : Buffer.from(JSON.stringify(value)))));
    },
  };
});
