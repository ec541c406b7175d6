import pg from 'pg';
import { createPostgresEventStore } from '../../src/eventstore/postgres/store.js';
import { testDatabases } from '../support/postgres.js';
import { crashScenario } from './crash-scenario.js';

const newDatabase = testDatabases('crash');

/**
 * A killed client's server session finishes the statement it was running (and may commit it)
 * before it notices the dead connection; wait until no session but ours is left on the database.
 */
async function waitForOtherSessionsToEnd(adminUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const { rows } = await client.query<{ count: number }>(
        'SELECT count(*)::int AS count FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
      );
      if (rows[0]?.count === 0) return;
      if (Date.now() > deadline) throw new Error(`${rows[0]?.count} sessions of the killed writer are still open`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } finally {
    await client.end();
  }
}

crashScenario('PostgreSQL', async () => {
  const { url, adminUrl } = await newDatabase();
  return {
    backend: 'postgres',
    location: url,
    open: () => createPostgresEventStore({ connectionString: url }),
    settle: () => waitForOtherSessionsToEnd(adminUrl),
  };
});
