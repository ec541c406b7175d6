import type pg from 'pg';
import { applyPostgresMigrations } from '../../eventstore/migration.js';
import { inTenant } from '../../eventstore/postgres/tenant-transaction.js';
import { postgresWebhookMigrations } from './migrations.js';
import type { DeliveryRecord, DeliveryStatus, ReplayClaim, ReplayRecord, WebhookStore } from './port.js';
import { type ReplayRow as Row, toReplay } from './replay-rows.js';

const WHAT = 'webhook store';

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

type ReplayRow = Row<Date>;

/** Leases are timed on the database's clock, which every process shares. */
const LEASE_UNTIL = "now() + $4::float8 * interval '1 millisecond'";
/** A claim holds while the replay runs under the same owner (its lease is checked by whoever claims). */
const CLAIMED = "tenant = $1 AND id = $2 AND lease_owner = $3 AND status = 'running'";

/** Locks the oldest running replay nobody holds (others skip it), then leases it under its own tenant. */
async function claimReplay(client: pg.PoolClient, owner: string, leaseMs: number): Promise<ReplayRecord | undefined> {
  const { rows } = await client.query<{ tenant: string; id: string }>(
    `SELECT tenant, id FROM webhook_replays WHERE status = 'running' AND (lease_until IS NULL OR lease_until <= now())
     ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED`,
  );
  const found = rows[0];
  if (!found) return undefined;
  await client.query("SELECT set_config('backoffice.tenant', $1, true)", [found.tenant]);
  const claimed = await client.query<ReplayRow>(
    `UPDATE webhook_replays SET lease_owner = $3, lease_until = ${LEASE_UNTIL}, updated_at = now() WHERE tenant = $1 AND id = $2 RETURNING *`,
    [found.tenant, found.id, owner, leaseMs],
  );
  return claimed.rows.map(replayOf)[0];
}

const claimParams = (claim: ReplayClaim) => [claim.tenant, claim.id, claim.owner];

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
        await client.query('DELETE FROM webhook_replays WHERE tenant = $1 AND webhook = $2', [tenant, id]);
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
      run('*', async (client) => {
        const attempts = await client.query('DELETE FROM webhook_deliveries WHERE at < $1', [before]);
        const replays = await client.query("DELETE FROM webhook_replays WHERE status <> 'running' AND updated_at < $1", [before]);
        return (attempts.rowCount ?? 0) + (replays.rowCount ?? 0);
      }),
    async deleteTenant(tenant) {
      await run(tenant, async (client) => {
        await client.query('DELETE FROM webhook_secrets WHERE tenant = $1', [tenant]);
        await client.query('DELETE FROM webhook_deliveries WHERE tenant = $1', [tenant]);
        await client.query('DELETE FROM webhook_replays WHERE tenant = $1', [tenant]);
      });
    },
    async createReplay(r) {
      await run(r.tenant, (client) =>
        client.query(
          `INSERT INTO webhook_replays (tenant, webhook, id, from_position, to_position, progress, status, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, 'running', now(), now())`,
          [r.tenant, r.webhook, r.id, r.from.toString(), r.to.toString(), r.progress.toString()],
        ),
      );
    },
    claimReplay: (owner, leaseMs) => run('*', (client) => claimReplay(client, owner, leaseMs)),
    renewReplay: (claim, progress, leaseMs) =>
      run(claim.tenant, async (client) => {
        const renewed = await client.query(
          `UPDATE webhook_replays SET lease_until = ${LEASE_UNTIL}, progress = $5, updated_at = now() WHERE ${CLAIMED}`,
          [...claimParams(claim), leaseMs, progress.toString()],
        );
        return renewed.rowCount === 1;
      }),
    finishReplay: (claim) =>
      run(claim.tenant, async (client) => {
        const finished = await client.query(
          `UPDATE webhook_replays SET status = 'finished', progress = to_position, lease_owner = NULL, lease_until = NULL, updated_at = now()
           WHERE ${CLAIMED}`,
          claimParams(claim),
        );
        return finished.rowCount === 1;
      }),
    async cancelReplays(tenant, webhook) {
      await run(tenant, (client) =>
        client.query(
          `UPDATE webhook_replays SET status = 'cancelled', lease_owner = NULL, lease_until = NULL, updated_at = now()
           WHERE tenant = $1 AND ($2::text IS NULL OR webhook = $2) AND status = 'running'`,
          [tenant, webhook ?? null],
        ),
      );
    },
    replays: (tenant, webhook, limit) =>
      run(tenant, async (client) => {
        const { rows } = await client.query<ReplayRow>(
          'SELECT * FROM webhook_replays WHERE tenant = $1 AND webhook = $2 ORDER BY id DESC LIMIT $3',
          [tenant, webhook, limit],
        );
        return rows.map(replayOf);
      }),
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

const replayOf = (row: ReplayRow) => toReplay(row, (at) => at);
