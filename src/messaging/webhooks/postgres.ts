import type pg from 'pg';
import { applyPostgresMigrations } from '../../eventstore/migration.js';
import { inTenant } from '../../eventstore/postgres/tenant-transaction.js';
import { postgresWebhookMigrations } from './migrations.js';
import type { DeliveryRecord, DeliveryStatus, WebhookStore } from './port.js';

const WHAT = 'webhook store';
/** Serialises the webhook store's migrations across processes (the event store has its own lock). */

type DeliveryRow = {
  tenant: string;
  webhook: string;
  id: string;
  event_id: string;
  position: string;
  attempt: number;
  status: string;
  http_status: number | null;
  duration_ms: number | null;
  error: string | null;
  replay: boolean;
  at: Date;
};

/** Applies the webhook store's pending migrations (recorded in `webhook_migrations`). */
export const migratePostgresWebhooks = (pool: pg.Pool, upTo?: number): Promise<number[]> =>
  applyPostgresMigrations(pool, { table: 'webhook_migrations', migrations: postgresWebhookMigrations }, upTo);

/**
 * The webhook store on PostgreSQL. Its tables have forced row-level security: each call runs in a
 * transaction under its tenant, or under `*` for the reads and prunes across tenants. The pool is its own.
 */
export async function postgresWebhookStore(pool: pg.Pool): Promise<WebhookStore> {
  await migratePostgresWebhooks(pool);
  const run = <T>(tenant: string, work: (client: pg.PoolClient) => Promise<T>) => inTenant(pool, tenant, WHAT, work);
  const upsert = (conflict: string) =>
    `INSERT INTO webhook_secrets (tenant, id, secret, updated_at) VALUES ($1, $2, $3, now()) ON CONFLICT (tenant, id) ${conflict}`;

  return {
    insertSecret: (tenant, id, secret) =>
      run(tenant, async (client) => (await client.query(upsert('DO NOTHING'), [tenant, id, secret])).rowCount === 1),
    async putSecret(tenant, id, secret) {
      await run(tenant, (client) =>
        client.query(upsert('DO UPDATE SET secret = excluded.secret, updated_at = excluded.updated_at'), [tenant, id, secret]),
      );
    },
    secret: (tenant, id) =>
      run(tenant, async (client) => {
        const { rows } = await client.query<{ secret: string }>('SELECT secret FROM webhook_secrets WHERE tenant = $1 AND id = $2', [
          tenant,
          id,
        ]);
        return rows[0]?.secret;
      }),
    webhooks: () =>
      run(
        '*',
        async (client) => (await client.query<{ tenant: string; id: string }>('SELECT tenant, id FROM webhook_secrets ORDER BY 1, 2')).rows,
      ),
    async deleteWebhook(tenant, id) {
      await run(tenant, async (client) => {
        await client.query('DELETE FROM webhook_secrets WHERE tenant = $1 AND id = $2', [tenant, id]);
        await client.query('DELETE FROM webhook_deliveries WHERE tenant = $1 AND webhook = $2', [tenant, id]);
      });
    },
    async record(d) {
      await run(d.tenant, async (client) => {
        // A log row lost to a crash in the next few hundred ms is acceptable; waiting for the WAL flush on every delivery is not.
        await client.query("SELECT set_config('synchronous_commit', 'off', true)");
        await client.query(
          `INSERT INTO webhook_deliveries (tenant, webhook, id, event_id, position, attempt, status, http_status, duration_ms, error, replay, at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING`,
          [
            d.tenant,
            d.webhook,
            d.id,
            d.eventId,
            d.position.toString(),
            d.attempt,
            d.status,
            d.httpStatus,
            d.durationMs,
            d.error,
            d.replay,
            d.at,
          ],
        );
      });
    },
    deliveries: (tenant, webhook, page) =>
      run(tenant, async (client) => {
        const { rows } = await client.query<DeliveryRow>(
          `SELECT * FROM webhook_deliveries WHERE tenant = $1 AND webhook = $2 AND ($3::text IS NULL OR id < $3) ORDER BY id DESC LIMIT $4`,
          [tenant, webhook, page.before ?? null, page.limit],
        );
        return rows.map(toDelivery);
      }),
    prune: (before) =>
      run('*', async (client) => (await client.query('DELETE FROM webhook_deliveries WHERE at < $1', [before])).rowCount ?? 0),
    async deleteTenant(tenant) {
      await run(tenant, async (client) => {
        await client.query('DELETE FROM webhook_secrets WHERE tenant = $1', [tenant]);
        await client.query('DELETE FROM webhook_deliveries WHERE tenant = $1', [tenant]);
      });
    },
    async close() {
      await pool.end();
    },
  };
}

function toDelivery(row: DeliveryRow): DeliveryRecord {
  return {
    id: row.id,
    tenant: row.tenant,
    webhook: row.webhook,
    eventId: row.event_id,
    position: BigInt(row.position),
    attempt: row.attempt,
    status: row.status as DeliveryStatus,
    httpStatus: row.http_status,
    durationMs: row.duration_ms,
    error: row.error,
    replay: row.replay,
    at: row.at,
  };
}
