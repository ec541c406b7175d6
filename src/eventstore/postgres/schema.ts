import type pg from 'pg';
import { applyPostgresMigrations } from '../migration.js';
import { postgresMigrations } from './migrations.js';

/** Applies the event store's pending migrations (src/eventstore/migration.ts). */
export const migratePostgres = (pool: pg.Pool, upTo?: number): Promise<number[]> =>
  applyPostgresMigrations(pool, { table: 'schema_migrations', migrations: postgresMigrations }, upTo);
