import type pg from 'pg';
import { AppError, isAppError } from '../../kernel/index.js';

/**
 * Runs work in a transaction whose row-level-security tenant is `tenant` ('*' reads every tenant).
 * The setting is local to the transaction: the pooled connection goes back with whatever tenant it
 * had before. Errors that are not AppErrors become `unavailable`, naming the store (`what`).
 */
export async function inTenant<T>(pool: pg.Pool, tenant: string, what: string, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw new AppError('unavailable', `The ${what} is unavailable`, {}, error);
  }
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    await client.query("SELECT set_config('backoffice.tenant', $1, true)", [tenant]);
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch((rollbackError: Error) => {
      broken = rollbackError;
    });
    if (isAppError(error)) throw error;
    throw new AppError('unavailable', `The ${what} is unavailable`, {}, error);
  } finally {
    client.release(broken);
  }
}
