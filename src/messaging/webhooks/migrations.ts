import type { Migration } from '../../eventstore/migration.js';

/**
 * The webhook store's own schema, versioned apart from the event store's (table
 * `webhook_migrations`), in the platform's database. Never edit a released migration: add one.
 */
export const sqliteWebhookMigrations: Migration[] = [
  {
    version: 1,
    name: 'webhook secrets and deliveries',
    sql: `
      CREATE TABLE webhook_secrets (
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        secret TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (tenant, id)
      );
      CREATE TABLE webhook_deliveries (
        tenant TEXT NOT NULL,
        webhook TEXT NOT NULL,
        id TEXT NOT NULL,
        event_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        attempt INTEGER NOT NULL,
        status TEXT NOT NULL,
        http_status INTEGER,
        duration_ms INTEGER,
        error TEXT,
        replay INTEGER NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (tenant, webhook, id)
      );
      CREATE INDEX webhook_deliveries_at ON webhook_deliveries (at);`,
  },
];

const TENANT_SETTING = "current_setting('backoffice.tenant', true)";

export const postgresWebhookMigrations: Migration[] = [
  {
    version: 1,
    name: 'webhook secrets and deliveries',
    sql: `
      CREATE TABLE webhook_secrets (
        tenant text NOT NULL,
        id text COLLATE "C" NOT NULL,
        secret text NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (tenant, id)
      );
      CREATE TABLE webhook_deliveries (
        tenant text NOT NULL,
        webhook text COLLATE "C" NOT NULL,
        id text COLLATE "C" NOT NULL,
        event_id text NOT NULL,
        position bigint NOT NULL,
        attempt integer NOT NULL,
        status text NOT NULL,
        http_status integer,
        duration_ms integer,
        error text,
        replay boolean NOT NULL,
        at timestamptz NOT NULL,
        PRIMARY KEY (tenant, webhook, id)
      );
      CREATE INDEX webhook_deliveries_at ON webhook_deliveries (at);
      ${['webhook_secrets', 'webhook_deliveries']
        .map(
          (table) => `
      ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY;
      ALTER TABLE ${table} FORCE ROW LEVEL SECURITY;
      CREATE POLICY tenant_isolation ON ${table}
        USING (tenant = ${TENANT_SETTING} OR ${TENANT_SETTING} = '*')
        WITH CHECK (tenant = ${TENANT_SETTING});`,
        )
        .join('\n')}`,
  },
];
