import type Database from 'better-sqlite3';
import { applySqliteMigrations } from '../../eventstore/migration.js';
import { sqliteWebhookMigrations } from './migrations.js';
import type { DeliveryRecord, DeliveryStatus, WebhookStore } from './port.js';
import { type ReplayRow as Row, toReplay } from './replay-rows.js';

type DeliveryRow = {
  tenant: string;
  webhook: string;
  id: string;
  event_id: string;
  position: number | bigint;
  attempt: number;
  status: string;
  http_status: number | null;
  duration_ms: number | null;
  error: string | null;
  replay: number;
  at: string;
};

type ReplayRow = Row<string>;

/** A claim holds while the replay runs under the same owner (its lease is checked by whoever claims). */
const CLAIMED = "tenant = ? AND id = ? AND lease_owner = ? AND status = 'running'";

/** Applies the webhook store's pending migrations (recorded in `webhook_migrations`). */
export const migrateSqliteWebhooks = (db: Database.Database, upTo?: number): number[] =>
  applySqliteMigrations(db, { table: 'webhook_migrations', migrations: sqliteWebhookMigrations }, upTo);

/** The webhook store in the platform's SQLite database, on its own connection. */
export function sqliteWebhookStore(db: Database.Database): WebhookStore {
  migrateSqliteWebhooks(db);
  db.defaultSafeIntegers(false);
  const s = {
    insertSecret: db.prepare('INSERT INTO webhook_secrets (tenant, id, secret, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING'),
    putSecret: db.prepare(
      'INSERT INTO webhook_secrets (tenant, id, secret, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET secret = excluded.secret, updated_at = excluded.updated_at',
    ),
    secret: db.prepare('SELECT secret FROM webhook_secrets WHERE tenant = ? AND id = ?'),
    webhooks: db.prepare('SELECT tenant, id FROM webhook_secrets ORDER BY tenant, id'),
    deleteSecret: db.prepare('DELETE FROM webhook_secrets WHERE tenant = ? AND id = ?'),
    deleteDeliveries: db.prepare('DELETE FROM webhook_deliveries WHERE tenant = ? AND webhook = ?'),
    record: db.prepare(
      `INSERT INTO webhook_deliveries (tenant, webhook, id, event_id, position, attempt, status, http_status, duration_ms, error, replay, at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    ),
    deliveries: db.prepare('SELECT * FROM webhook_deliveries WHERE tenant = ? AND webhook = ? AND id < ? ORDER BY id DESC LIMIT ?'),
    prune: db.prepare('DELETE FROM webhook_deliveries WHERE at < ?'),
    dropSecrets: db.prepare('DELETE FROM webhook_secrets WHERE tenant = ?'),
    dropDeliveries: db.prepare('DELETE FROM webhook_deliveries WHERE tenant = ?'),
    deleteReplays: db.prepare('DELETE FROM webhook_replays WHERE tenant = ? AND webhook = ?'),
    dropReplays: db.prepare('DELETE FROM webhook_replays WHERE tenant = ?'),
    pruneReplays: db.prepare("DELETE FROM webhook_replays WHERE status <> 'running' AND updated_at < ?"),
    createReplay: db.prepare(
      `INSERT INTO webhook_replays (tenant, webhook, id, from_position, to_position, progress, status, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?)`,
    ),
    // One statement: SQLite runs it under its write lock, so two processes cannot claim the same replay.
    claimReplay: db.prepare(
      `UPDATE webhook_replays SET lease_owner = ?, lease_until = ?, updated_at = ?
       WHERE rowid = (SELECT rowid FROM webhook_replays WHERE status = 'running' AND (lease_until IS NULL OR lease_until <= ?) ORDER BY id LIMIT 1)
       RETURNING *`,
    ),
    renewReplay: db.prepare(`UPDATE webhook_replays SET progress = ?, lease_until = ?, updated_at = ? WHERE ${CLAIMED}`),
    finishReplay: db.prepare(
      `UPDATE webhook_replays SET status = 'finished', progress = to_position, lease_owner = NULL, lease_until = NULL, updated_at = ?
       WHERE ${CLAIMED}`,
    ),
    cancelReplays: db.prepare(
      `UPDATE webhook_replays SET status = 'cancelled', lease_owner = NULL, lease_until = NULL, updated_at = ?
       WHERE tenant = ? AND (? IS NULL OR webhook = ?) AND status = 'running'`,
    ),
    replays: db.prepare('SELECT * FROM webhook_replays WHERE tenant = ? AND webhook = ? ORDER BY id DESC LIMIT ?'),
  };
  const now = () => new Date().toISOString();
  const later = (ms: number) => new Date(Date.now() + ms).toISOString();
  const deleteWebhook = db.transaction((tenant: string, id: string) => {
    s.deleteSecret.run(tenant, id);
    s.deleteDeliveries.run(tenant, id);
    s.deleteReplays.run(tenant, id);
  });
  const deleteTenant = db.transaction((tenant: string) => {
    s.dropSecrets.run(tenant);
    s.dropDeliveries.run(tenant);
    s.dropReplays.run(tenant);
  });
  const prune = db.transaction((before: string) => s.prune.run(before).changes + s.pruneReplays.run(before).changes);

  return {
    async insertSecret(tenant, id, secret) {
      return s.insertSecret.run(tenant, id, secret, now()).changes === 1;
    },
    async putSecret(tenant, id, secret) {
      s.putSecret.run(tenant, id, secret, now());
    },
    async secret(tenant, id) {
      return (s.secret.get(tenant, id) as { secret: string } | undefined)?.secret;
    },
    async webhooks() {
      return s.webhooks.all() as { tenant: string; id: string }[];
    },
    async deleteWebhook(tenant, id) {
      deleteWebhook(tenant, id);
    },
    async record(d) {
      s.record.run(
        d.tenant,
        d.webhook,
        d.id,
        d.eventId,
        d.position,
        d.attempt,
        d.status,
        d.httpStatus,
        d.durationMs,
        d.error,
        d.replay ? 1 : 0,
        d.at.toISOString(),
      );
    },
    async deliveries(tenant, webhook, page) {
      // Every UUID sorts before '~'.
      const rows = s.deliveries.all(tenant, webhook, page.before ?? '~', page.limit) as DeliveryRow[];
      return rows.map(toDelivery);
    },
    async prune(before) {
      return prune(before.toISOString());
    },
    async deleteTenant(tenant) {
      deleteTenant(tenant);
    },
    async createReplay(r) {
      const at = now();
      s.createReplay.run(r.tenant, r.webhook, r.id, r.from, r.to, r.progress, at, at);
    },
    async claimReplay(owner, leaseMs) {
      const at = now();
      const row = s.claimReplay.get(owner, later(leaseMs), at, at) as ReplayRow | undefined;
      return row && replayOf(row);
    },
    async renewReplay(claim, progress, leaseMs) {
      return s.renewReplay.run(progress, later(leaseMs), now(), claim.tenant, claim.id, claim.owner).changes === 1;
    },
    async finishReplay(claim) {
      return s.finishReplay.run(now(), claim.tenant, claim.id, claim.owner).changes === 1;
    },
    async cancelReplays(tenant, webhook) {
      s.cancelReplays.run(now(), tenant, webhook ?? null, webhook ?? null);
    },
    async replays(tenant, webhook, limit) {
      return (s.replays.all(tenant, webhook, limit) as ReplayRow[]).map(replayOf);
    },
    async close() {
      db.close();
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
    replay: row.replay === 1,
    at: new Date(row.at),
  };
}

const replayOf = (row: ReplayRow) => toReplay(row, (at) => new Date(at));
