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
  {
    version: 2,
    name: 'webhook replays',
    sql: `
      CREATE TABLE webhook_replays (
        tenant TEXT NOT NULL,
        webhook TEXT NOT NULL,
        id TEXT NOT NULL,
        from_position INTEGER NOT NULL,
        to_position INTEGER NOT NULL,
        progress INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'cancelled')),
        lease_owner TEXT,
        lease_until TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (tenant, id)
      );
      CREATE INDEX webhook_replays_webhook ON webhook_replays (tenant, webhook, id);
      CREATE INDEX webhook_replays_running ON webhook_replays (id) WHERE status = 'running';`,
  },
];

const TENANT_SETTING = "current_setting('backoffice.tenant', true)";

/** Each tenant sees its own rows ('*' reads and deletes every tenant's) and writes only its own. */
const tenantIsolation = (table: string) => `
      ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY;
      ALTER TABLE ${table} FORCE ROW LEVEL SECURITY;
      CREATE POLICY tenant_isolation ON ${table}
        USING (tenant = ${TENANT_SETTING} OR ${TENANT_SETTING} = '*')
        WITH CHECK (tenant = ${TENANT_SETTING});`;

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
      ${['webhook_secrets', 'webhook_deliveries'].map(tenantIsolation).join('\n')}`,
  },
  {
    version: 2,
    name: 'webhook replays',
    sql: `
      CREATE TABLE webhook_replays (
        tenant text NOT NULL,
        webhook text COLLATE "C" NOT NULL,
        id text COLLATE "C" NOT NULL,
        from_position bigint NOT NULL,
        to_position bigint NOT NULL,
        progress bigint NOT NULL,
        status text NOT NULL CHECK (status IN ('running', 'finished', 'cancelled')),
        lease_owner text,
        lease_until timestamptz,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (tenant, id)
      );
      CREATE INDEX webhook_replays_webhook ON webhook_replays (tenant, webhook, id);
      CREATE INDEX webhook_replays_running ON webhook_replays (id) WHERE status = 'running';
      ${tenantIsolation('webhook_replays')}`,
  },
];
