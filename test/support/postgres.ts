import { randomBytes } from 'node:crypto';
import { after } from 'node:test';
import pg from 'pg';

const ADMIN_URL = process.env.BACKOFFICE_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
/** Tests connect as a role without superuser rights, so that row-level security applies to them. */
const APP_ROLE = 'backoffice_test';

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function ensureAppRole(client: pg.Client): Promise<void> {
  try {
    await client.query(`CREATE ROLE ${APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS`);
  } catch (error) {
    if ((error as { code?: string }).code !== '42710' && (error as { code?: string }).code !== '23505') throw error;
  }
}

export interface TestDatabase {
  /** Connects as the application role (row-level security applies). */
  url: string;
  /** Connects as the administrator of the server (bypasses row-level security). */
  adminUrl: string;
  drop(): Promise<void>;
}

/** Creates an empty database of its own for one test file; it is dropped when the file's tests end. */
export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const name = `bo_${label.replace(/[^a-z0-9]/g, '_')}_${randomBytes(4).toString('hex')}`;
  await admin(async (client) => {
    await ensureAppRole(client);
    await client.query(`CREATE DATABASE ${name} OWNER ${APP_ROLE}`);
  });
  const withDatabase = (url: string, user?: string) => {
    const parsed = new URL(url);
    parsed.pathname = `/${name}`;
    if (user) parsed.username = user;
    return parsed.toString();
  };
  const database: TestDatabase = {
    url: withDatabase(ADMIN_URL, APP_ROLE),
    adminUrl: withDatabase(ADMIN_URL),
    drop: () => admin(async (client) => void (await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))),
  };
  return database;
}

/** A database per call, all dropped after the calling file's tests. */
export function testDatabases(label: string): () => Promise<TestDatabase> {
  const created: TestDatabase[] = [];
  after(async () => {
    await Promise.all(created.map((database) => database.drop()));
  });
  return async () => {
    const database = await createTestDatabase(label);
    created.push(database);
    return database;
  };
}
