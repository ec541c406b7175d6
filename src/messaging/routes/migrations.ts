import type Database from 'better-sqlite3';
import type pg from 'pg';
import { applyPostgresMigrations, applySqliteMigrations, type Migration } from '../../eventstore/migration.js';

/**
 * The route store's own versioned schema, recorded in `route_migrations` (apart from the event
 * store's `schema_migrations`, so that the two evolve independently). Never edit a released migration.
 */
export const sqliteRouteMigrations: Migration[] = [
  {
    version: 1,
    name: 'route registry, secrets and aggregation groups',
    sql: `
      CREATE TABLE route_registry (
        tenant TEXT NOT NULL,
        route TEXT NOT NULL,
        version INTEGER NOT NULL,
        document TEXT,
        PRIMARY KEY (tenant, route)
      ) WITHOUT ROWID;
      CREATE TABLE route_cursor (
        name TEXT PRIMARY KEY,
        position INTEGER NOT NULL
      );
      CREATE TABLE route_secrets (
        tenant TEXT NOT NULL,
        route TEXT NOT NULL,
        ref TEXT NOT NULL,
        target INTEGER NOT NULL,
        secret TEXT NOT NULL,
        PRIMARY KEY (tenant, route, ref, target)
      ) WITHOUT ROWID;
      CREATE TABLE route_groups (
        tenant TEXT NOT NULL,
        route TEXT NOT NULL,
        group_id TEXT NOT NULL,
        group_key TEXT NOT NULL,
        open INTEGER NOT NULL,
        count INTEGER NOT NULL,
        due_at INTEGER,
        claimed_until INTEGER NOT NULL,
        attempts INTEGER NOT NULL,
        PRIMARY KEY (tenant, route, group_id)
      ) WITHOUT ROWID;
      CREATE UNIQUE INDEX route_groups_open ON route_groups (tenant, route, group_key) WHERE open = 1;
      CREATE INDEX route_groups_due ON route_groups (due_at) WHERE due_at IS NOT NULL;
      CREATE TABLE route_members (
        tenant TEXT NOT NULL,
        route TEXT NOT NULL,
        member_id TEXT NOT NULL,
        group_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        body TEXT,
        added_at INTEGER NOT NULL,
        PRIMARY KEY (tenant, route, member_id)
      ) WITHOUT ROWID;
      CREATE INDEX route_members_by_group ON route_members (tenant, route, group_id, seq);
      CREATE INDEX route_members_finished ON route_members (added_at) WHERE body IS NULL;`,
  },
];

const TENANT_SETTING = "current_setting('backoffice.tenant', true)";
const TENANT_TABLES = ['route_registry', 'route_secrets', 'route_groups', 'route_members'];

/** The same schema on PostgreSQL, its tenant tables under forced row-level security (docs/decisions/0003). */
export const postgresRouteMigrations: Migration[] = [
  {
    version: 1,
    name: 'route registry, secrets and aggregation groups',
    sql: `
      CREATE TABLE route_registry (
        tenant text NOT NULL,
        route text NOT NULL,
        version integer NOT NULL,
        document jsonb,
        PRIMARY KEY (tenant, route)
      );
      CREATE TABLE route_cursor (
        name text PRIMARY KEY,
        position bigint NOT NULL
      );
      CREATE TABLE route_secrets (
        tenant text NOT NULL,
        route text NOT NULL,
        ref text COLLATE "C" NOT NULL,
        target integer NOT NULL,
        secret text NOT NULL,
        PRIMARY KEY (tenant, route, ref, target)
      );
      CREATE TABLE route_groups (
        tenant text NOT NULL,
        route text NOT NULL,
        group_id text NOT NULL,
        group_key text COLLATE "C" NOT NULL,
        open boolean NOT NULL,
        count integer NOT NULL,
        due_at bigint,
        claimed_until bigint NOT NULL,
        attempts integer NOT NULL,
        PRIMARY KEY (tenant, route, group_id)
      );
      CREATE UNIQUE INDEX route_groups_open ON route_groups (tenant, route, group_key) WHERE open;
      CREATE INDEX route_groups_due ON route_groups (due_at) WHERE due_at IS NOT NULL;
      CREATE TABLE route_members (
        tenant text NOT NULL,
        route text NOT NULL,
        member_id text COLLATE "C" NOT NULL,
        group_id text NOT NULL,
        seq integer NOT NULL,
        body jsonb,
        added_at bigint NOT NULL,
        PRIMARY KEY (tenant, route, member_id)
      );
      CREATE INDEX route_members_by_group ON route_members (tenant, route, group_id, seq);
      CREATE INDEX route_members_finished ON route_members (added_at) WHERE body IS NULL;
      ${TENANT_TABLES.map(
        (table) => `
      ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY;
      ALTER TABLE ${table} FORCE ROW LEVEL SECURITY;
      CREATE POLICY tenant_isolation ON ${table}
        USING (tenant = ${TENANT_SETTING} OR ${TENANT_SETTING} = '*')
        WITH CHECK (tenant = ${TENANT_SETTING});`,
      ).join('\n')}`,
  },
];

/** Applies the route store's pending migrations (recorded in `route_migrations`). */
export const migrateSqliteRoutes = (db: Database.Database, upTo?: number): number[] =>
  applySqliteMigrations(db, { table: 'route_migrations', migrations: sqliteRouteMigrations }, upTo);

/** Applies the route store's pending migrations (recorded in `route_migrations`). */
export const migratePostgresRoutes = (pool: pg.Pool, upTo?: number): Promise<number[]> =>
  applyPostgresMigrations(pool, { table: 'route_migrations', migrations: postgresRouteMigrations }, upTo);
