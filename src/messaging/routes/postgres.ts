import type pg from 'pg';
import { inTenant } from '../../eventstore/postgres/tenant-transaction.js';
import { AppError, isAppError, type JsonValue } from '../../kernel/index.js';
import type { AddResult, ClaimedGroup, MemberInput, RegistryRow, RouteStore } from './port.js';

const CURSOR = 'routes';
const ROUTE = 'tenant = $1 AND route = $2';
const WHAT = 'route store';

type GroupRow = { tenant: string; route: string; group_id: string; group_key: string; attempts: number };

const asTenant = (client: pg.PoolClient, tenant: string) => client.query("SELECT set_config('backoffice.tenant', $1, true)", [tenant]);

/** Records a message in its open group (created on first use); the open group's row is locked by the upsert. */
async function add(client: pg.PoolClient, m: MemberInput): Promise<AddResult> {
  const seen = await client.query(`SELECT 1 FROM route_members WHERE ${ROUTE} AND member_id = $3`, [m.tenant, m.route, m.memberId]);
  if (seen.rowCount) return 'duplicate';
  const { rows } = await client.query<{ group_id: string; count: number }>(
    `INSERT INTO route_groups (tenant, route, group_id, group_key, open, count, due_at, claimed_until, attempts)
     VALUES ($1, $2, $3, $4, true, 0, $5, 0, 0)
     ON CONFLICT (tenant, route, group_key) WHERE open DO UPDATE SET count = route_groups.count
     RETURNING group_id, count`,
    [m.tenant, m.route, m.groupId, m.key, m.deadline],
  );
  const group = rows[0] as { group_id: string; count: number };
  const count = group.count + 1;
  const inserted = await client.query(
    `INSERT INTO route_members (tenant, route, member_id, group_id, seq, body, added_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT DO NOTHING`,
    [m.tenant, m.route, m.memberId, group.group_id, count, JSON.stringify(m.body), m.now],
  );
  // Recorded meanwhile by another delivery of the same message: roll the group's changes back.
  if (!inserted.rowCount) throw new AppError('already_exists', 'duplicate member');
  const complete = count >= m.limit;
  await client.query(`UPDATE route_groups SET count = $4, open = $5, due_at = coalesce($6, due_at) WHERE ${ROUTE} AND group_id = $3`, [
    m.tenant,
    m.route,
    group.group_id,
    count,
    !complete,
    complete ? m.now : null,
  ]);
  return complete ? 'completed' : 'added';
}

/** Due groups are locked (others skip them), closed and leased, each under its own tenant. */
async function claim(client: pg.PoolClient, now: number, leaseUntil: number, limit: number): Promise<ClaimedGroup[]> {
  const { rows } = await client.query<GroupRow>(
    `SELECT tenant, route, group_id, group_key, attempts FROM route_groups
     WHERE due_at <= $1 AND claimed_until <= $1 ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED`,
    [now, limit],
  );
  const claimed: ClaimedGroup[] = [];
  for (const row of rows) {
    await asTenant(client, row.tenant);
    const k = [row.tenant, row.route, row.group_id];
    await client.query(`UPDATE route_groups SET open = false, claimed_until = $4 WHERE ${ROUTE} AND group_id = $3`, [...k, leaseUntil]);
    const bodies = await client.query<{ body: JsonValue }>(
      `SELECT body FROM route_members WHERE ${ROUTE} AND group_id = $3 ORDER BY seq`,
      k,
    );
    const messages = bodies.rows.map((b) => b.body);
    claimed.push({ tenant: row.tenant, route: row.route, groupId: row.group_id, key: row.group_key, failures: row.attempts, messages });
  }
  return claimed;
}

async function record(client: pg.PoolClient, changes: readonly RegistryRow[], position: bigint): Promise<void> {
  for (const c of changes) {
    await asTenant(client, c.tenant);
    await client.query(
      `INSERT INTO route_registry (tenant, route, version, document) VALUES ($1, $2, $3, $4)
       ON CONFLICT (tenant, route) DO UPDATE SET version = excluded.version, document = excluded.document
       WHERE excluded.version > route_registry.version`,
      [c.tenant, c.id, c.version, c.document === null ? null : JSON.stringify(c.document)],
    );
  }
  await client.query(
    `INSERT INTO route_cursor (name, position) VALUES ($1, $2)
     ON CONFLICT (name) DO UPDATE SET position = greatest(route_cursor.position, excluded.position)`,
    [CURSOR, position.toString()],
  );
}

/** The route store on PostgreSQL; its tenant tables have forced row-level security. The pool is its own. */
export function postgresRouteStore(pool: pg.Pool): RouteStore {
  const inRoute = <T>(tenant: string, work: (client: pg.PoolClient) => Promise<T>) => inTenant(pool, tenant, WHAT, work);
  const drop = (tenant: string, where: string, params: string[]) =>
    inRoute(tenant, async (client) => {
      for (const table of ['route_groups', 'route_members', 'route_secrets'])
        await client.query(`DELETE FROM ${table} WHERE ${where}`, params);
    });

  return {
    async cursor() {
      const { rows } = await pool.query<{ position: string }>('SELECT position FROM route_cursor WHERE name = $1', [CURSOR]);
      return BigInt(rows[0]?.position ?? 0);
    },
    record: (changes, position) => inRoute('*', (client) => record(client, changes, position)),
    routes: () =>
      inRoute('*', async (client) => {
        const { rows } = await client.query<{ tenant: string; route: string; version: number; document: RegistryRow['document'] }>(
          'SELECT tenant, route, version, document FROM route_registry WHERE document IS NOT NULL ORDER BY tenant, route',
        );
        return rows.map((row) => ({ tenant: row.tenant, id: row.route, version: row.version, document: row.document }));
      }),
    putSecrets: (tenant, route, ref, secrets) =>
      inRoute(tenant, async (client) => {
        for (const [target, secret] of secrets)
          await client.query(
            `INSERT INTO route_secrets (tenant, route, ref, target, secret) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (tenant, route, ref, target) DO UPDATE SET secret = excluded.secret`,
            [tenant, route, ref, target, secret],
          );
      }),
    secrets: (tenant, route, ref) =>
      inRoute(tenant, async (client) => {
        const { rows } = await client.query<{ target: number; secret: string }>(
          `SELECT target, secret FROM route_secrets WHERE ${ROUTE} AND ref = $3`,
          [tenant, route, ref],
        );
        return new Map(rows.map((row) => [row.target, row.secret]));
      }),
    pruneSecrets: (tenant, route, current) =>
      inRoute(tenant, async (client) => {
        await client.query(`DELETE FROM route_secrets WHERE ${ROUTE} AND ref < $3`, [tenant, route, current]);
      }),
    addToGroup: (input) =>
      inRoute(input.tenant, (client) => add(client, input)).catch((error: unknown) => {
        if (isAppError(error, 'already_exists')) return 'duplicate' as const;
        throw error;
      }),
    claimDue: (now, leaseUntil, limit) => inRoute('*', (client) => claim(client, now, leaseUntil, limit)),
    release: (group, retryAt, failed) =>
      inRoute(group.tenant, async (client) => {
        await client.query(`UPDATE route_groups SET claimed_until = $4, attempts = attempts + $5 WHERE ${ROUTE} AND group_id = $3`, [
          group.tenant,
          group.route,
          group.groupId,
          retryAt,
          failed ? 1 : 0,
        ]);
      }),
    finish: (group, now) =>
      inRoute(group.tenant, async (client) => {
        const k = [group.tenant, group.route, group.groupId];
        await client.query(`DELETE FROM route_groups WHERE ${ROUTE} AND group_id = $3`, k);
        await client.query(`UPDATE route_members SET body = NULL, added_at = $4 WHERE ${ROUTE} AND group_id = $3`, [...k, now]);
      }),
    purgeMembers: (before) =>
      inRoute('*', async (client) => {
        const { rows } = await client.query<{ tenant: string }>(
          'SELECT DISTINCT tenant FROM route_members WHERE body IS NULL AND added_at < $1',
          [before],
        );
        let purged = 0;
        for (const { tenant } of rows) {
          await asTenant(client, tenant);
          purged +=
            (await client.query('DELETE FROM route_members WHERE tenant = $1 AND body IS NULL AND added_at < $2', [tenant, before]))
              .rowCount ?? 0;
        }
        return purged;
      }),
    dropRoute: (tenant, route) => drop(tenant, ROUTE, [tenant, route]),
    async dropTenant(tenant) {
      await drop(tenant, 'tenant = $1', [tenant]);
      await inRoute(tenant, (client) => client.query('DELETE FROM route_registry WHERE tenant = $1', [tenant]));
    },
    async close() {
      await pool.end();
    },
  };
}
