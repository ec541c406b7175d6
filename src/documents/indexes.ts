import type pg from 'pg';
import type { FieldType } from '../datamodel/types.js';
import { createIndexSql, indexExpression } from './query/index.js';
import { indexName } from './query/indexes.js';

/** Serialises the builds of declared indexes across connections and processes (next to MIGRATION_LOCK). */
const INDEX_BUILD_LOCK = 7_246_118_002;

type Queries = Pick<pg.PoolClient, 'query'>;

/**
 * Creates the shared index of a declared index on PostgreSQL without blocking writes, and returns once it
 * is valid. An index that is already valid (another tenant declared the field first) costs one catalog
 * read. Otherwise:
 *
 * - Builds run one at a time, under a session advisory lock taken with `pg_try_advisory_lock` and polled
 *   (holding no connection between polls): two concurrent builds on one table deadlock (each waits for the
 *   other's transaction to end), and a session blocked in `pg_advisory_lock` would be such a transaction.
 *   A waiter returns as soon as it sees the index valid.
 * - `CREATE INDEX CONCURRENTLY` cannot run in a transaction block: it is sent alone, autocommitted, on a
 *   pooled connection that never opened one.
 * - A concurrent build that fails (cancelled, a deadlock, the connection lost) leaves an INVALID index that
 *   `IF NOT EXISTS` would then skip forever: an invalid index that no session is building is dropped
 *   (concurrently too) and built again, and a build is retried once.
 *
 * On any error the builder's connection is discarded, which also releases the lock.
 */
export async function ensurePostgresIndex(pool: pg.Pool, field: string, type: FieldType, options: { pollMs?: number } = {}): Promise<void> {
  const name = indexName({ field, type }, 'postgres');
  const pollMs = options.pollMs ?? 50;
  for (;;) {
    if ((await indexState(pool, name)) === 'valid') return;
    const client = await pool.connect();
    let locked = false;
    try {
      locked = (await client.query('SELECT pg_try_advisory_lock($1) AS locked', [INDEX_BUILD_LOCK])).rows[0].locked === true;
      if (locked) {
        await build(client, name, createIndexSql({ field, type }, 'postgres'), pollMs);
        await collectStatistics(client, name, field, type);
        await client.query('SELECT pg_advisory_unlock($1)', [INDEX_BUILD_LOCK]);
      }
      client.release();
    } catch (error) {
      client.release(error instanceof Error ? error : new Error(String(error)));
      throw error;
    }
    if (locked) return;
    await sleep(pollMs);
  }
}

/**
 * A partial index gathers no statistics on its expression, so the planner would guess how selective a
 * filter is (and pick the wrong index). Extended statistics on the expression fix that; ANALYZE fills
 * them now, autovacuum keeps them fresh.
 */
async function collectStatistics(client: Queries, name: string, field: string, type: FieldType): Promise<void> {
  await client.query(`CREATE STATISTICS IF NOT EXISTS ${name}_s ON (${indexExpression(field, type, 'postgres')}) FROM documents`);
  await client.query('ANALYZE documents');
}

async function build(client: Queries, name: string, create: string, pollMs: number): Promise<void> {
  let state = await settledState(client, name, pollMs);
  for (let attempt = 1; state !== 'valid'; attempt++) {
    if (state === 'invalid') await client.query(`DROP INDEX CONCURRENTLY IF EXISTS ${name}`);
    let failure: unknown;
    try {
      await client.query(create);
    } catch (error) {
      failure = error;
    }
    state = await settledState(client, name, pollMs);
    if (state !== 'valid' && (attempt === 2 || state === 'missing'))
      throw failure ?? new Error(`Index ${name} is ${state} after its build`);
  }
}

type IndexState = 'valid' | 'invalid' | 'building' | 'missing';

async function indexState(db: Queries, name: string): Promise<IndexState> {
  const { rows } = await db.query(
    `SELECT i.indisvalid AS valid,
       EXISTS (SELECT 1 FROM pg_stat_progress_create_index p WHERE p.index_relid = i.indexrelid) AS building
     FROM pg_index i WHERE i.indexrelid = to_regclass($1)`,
    [name],
  );
  const row = rows[0];
  if (!row) return 'missing';
  return row.valid ? 'valid' : row.building ? 'building' : 'invalid';
}

/** The index's state once no session is building it any more (a build outside this function is waited for). */
async function settledState(db: Queries, name: string, pollMs: number): Promise<Exclude<IndexState, 'building'>> {
  for (;;) {
    const state = await indexState(db, name);
    if (state !== 'building') return state;
    await sleep(pollMs);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
