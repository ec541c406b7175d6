import type Database from 'better-sqlite3';
import { applySqliteMigrations } from '../migration.js';
import { sqliteMigrations } from './migrations.js';

/** Applies the event store's pending migrations (src/eventstore/migration.ts). */
export const migrateSqlite = (db: Database.Database, upTo?: number): number[] =>
  applySqliteMigrations(db, { table: 'schema_migrations', migrations: sqliteMigrations }, upTo);
