import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** A server role allowed to create databases; BACKOFFICE_BENCH_DATABASE_URL overrides it. */
export const ADMIN_URL =
  process.env.BACKOFFICE_BENCH_DATABASE_URL ?? process.env.BACKOFFICE_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * The store is measured as a role without superuser rights, as in production, so that the
 * row-level security policies apply (a superuser would skip them and look faster than it is).
 */
const APP_ROLE = 'backoffice_bench';

export interface BenchDatabase {
  /** Connects as the application role (row-level security applies). */
  url: string;
  drop(): Promise<void>;
}

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Whether the server answers; the PostgreSQL half of a module is skipped when it does not. */
export async function postgresReachable(): Promise<boolean> {
  try {
    await admin((client) => client.query('SELECT 1'));
    return true;
  } catch {
    return false;
  }
}

/** Creates an empty database owned by the application role; `drop` removes it again. */
export async function createBenchDatabase(label: string): Promise<BenchDatabase> {
  const name = `bench_${label}_${randomBytes(4).toString('hex')}`;
  await admin(async (client) => {
    try {
      await client.query(`CREATE ROLE ${APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS`);
    } catch (error) {
      // Already there (42710), or created concurrently by another run (23505).
      const code = (error as { code?: string }).code;
      if (code !== '42710' && code !== '23505') throw error;
    }
    await client.query(`CREATE DATABASE ${name} OWNER ${APP_ROLE}`);
  });
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  url.username = APP_ROLE;
  url.password = '';
  return {
    url: url.toString(),
    drop: () => admin(async (client) => void (await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))),
  };
}
