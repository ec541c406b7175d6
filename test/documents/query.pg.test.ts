import { after } from 'node:test';
import pg from 'pg';
import { testDatabases } from '../support/postgres.js';
import { openPostgres } from './databases.js';
import { queryContract } from './query-contract.js';

const newDatabase = testDatabases('query');
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups) await cleanup();
});

/**
 * A database whose default collation is ICU's root locale (where 'a' < 'B' < 'b' and punctuation is
 * ignored at first), so that results prove the compiler imposes byte order (COLLATE "C") itself.
 */
async function icuDatabase(): Promise<string> {
  const base = await newDatabase();
  const name = `${new URL(base.url).pathname.slice(1)}_icu`;
  const adminUrl = new URL(base.adminUrl);
  adminUrl.pathname = '/postgres';
  const admin = async (text: string) => {
    const client = new pg.Client({ connectionString: adminUrl.toString() });
    await client.connect();
    await client.query(text).finally(() => client.end());
  };
  await admin(
    `CREATE DATABASE ${name} OWNER backoffice_test TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C.UTF-8' LOCALE_PROVIDER icu ICU_LOCALE 'und'`,
  );
  cleanups.push(() => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  const url = new URL(base.url);
  url.pathname = `/${name}`;
  return url.toString();
}

queryContract('PostgreSQL (ICU default collation)', async () => openPostgres(await icuDatabase()));
