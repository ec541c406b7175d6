import type Database from 'better-sqlite3';
import type { JsonValue } from '../../kernel/index.js';
import { migrateSqliteRoutes } from './migrations.js';
import type { AddResult, ClaimedGroup, MemberInput, RegistryRow, RouteStore } from './port.js';

const CURSOR = 'routes';
const ROUTE = 'tenant = ? AND route = ?';

type GroupRow = { tenant: string; route: string; group_id: string; group_key: string; attempts: number };

function statements(db: Database.Database) {
  return {
    cursor: db.prepare('SELECT position FROM route_cursor WHERE name = ?'),
    moveCursor: db.prepare(
      'INSERT INTO route_cursor (name, position) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET position = max(position, excluded.position)',
    ),
    record: db.prepare(
      `INSERT INTO route_registry (tenant, route, version, document) VALUES (?, ?, ?, ?)
       ON CONFLICT (tenant, route) DO UPDATE SET version = excluded.version, document = excluded.document
       WHERE excluded.version > route_registry.version`,
    ),
    routes: db.prepare('SELECT tenant, route, version, document FROM route_registry WHERE document IS NOT NULL ORDER BY tenant, route'),
    putSecret: db.prepare('INSERT OR REPLACE INTO route_secrets (tenant, route, ref, target, secret) VALUES (?, ?, ?, ?, ?)'),
    secrets: db.prepare(`SELECT target, secret FROM route_secrets WHERE ${ROUTE} AND ref = ?`),
    pruneSecrets: db.prepare(`DELETE FROM route_secrets WHERE ${ROUTE} AND ref < ?`),
    member: db.prepare(`SELECT 1 FROM route_members WHERE ${ROUTE} AND member_id = ?`),
    openGroup: db.prepare(`SELECT group_id, count FROM route_groups WHERE ${ROUTE} AND group_key = ? AND open = 1`),
    createGroup: db.prepare(
      'INSERT INTO route_groups (tenant, route, group_id, group_key, open, count, due_at, claimed_until, attempts) VALUES (?, ?, ?, ?, 1, 0, ?, 0, 0)',
    ),
    addMember: db.prepare(
      'INSERT INTO route_members (tenant, route, member_id, group_id, seq, body, added_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    grow: db.prepare(`UPDATE route_groups SET count = ?, open = ?, due_at = coalesce(?, due_at) WHERE ${ROUTE} AND group_id = ?`),
    due: db.prepare(
      'SELECT tenant, route, group_id, group_key, attempts FROM route_groups WHERE due_at <= ? AND claimed_until <= ? ORDER BY due_at LIMIT ?',
    ),
    claim: db.prepare(`UPDATE route_groups SET open = 0, claimed_until = ? WHERE ${ROUTE} AND group_id = ?`),
    messages: db.prepare(`SELECT body FROM route_members WHERE ${ROUTE} AND group_id = ? ORDER BY seq`),
    release: db.prepare(`UPDATE route_groups SET claimed_until = ?, attempts = attempts + ? WHERE ${ROUTE} AND group_id = ?`),
    deleteGroup: db.prepare(`DELETE FROM route_groups WHERE ${ROUTE} AND group_id = ?`),
    finishMembers: db.prepare(`UPDATE route_members SET body = NULL, added_at = ? WHERE ${ROUTE} AND group_id = ?`),
    purge: db.prepare('DELETE FROM route_members WHERE body IS NULL AND added_at < ?'),
  };
}

/** The route store in the platform's SQLite database; the connection is its own. */
export function sqliteRouteStore(db: Database.Database): RouteStore {
  db.defaultSafeIntegers(false);
  migrateSqliteRoutes(db);
  const s = statements(db);

  const record = db.transaction((changes: readonly RegistryRow[], position: bigint) => {
    for (const c of changes) s.record.run(c.tenant, c.id, c.version, c.document === null ? null : JSON.stringify(c.document));
    s.moveCursor.run(CURSOR, position);
  });

  const add = db.transaction((m: MemberInput): AddResult => {
    if (s.member.get(m.tenant, m.route, m.memberId)) return 'duplicate';
    let group = s.openGroup.get(m.tenant, m.route, m.key) as { group_id: string; count: number } | undefined;
    if (!group) {
      s.createGroup.run(m.tenant, m.route, m.groupId, m.key, m.deadline);
      group = { group_id: m.groupId, count: 0 };
    }
    const count = group.count + 1;
    s.addMember.run(m.tenant, m.route, m.memberId, group.group_id, count, JSON.stringify(m.body), m.now);
    const complete = count >= m.limit;
    s.grow.run(count, complete ? 0 : 1, complete ? m.now : null, m.tenant, m.route, group.group_id);
    return complete ? 'completed' : 'added';
  });

  const claim = db.transaction((now: number, leaseUntil: number, limit: number): ClaimedGroup[] =>
    (s.due.all(now, now, limit) as GroupRow[]).map((row) => {
      s.claim.run(leaseUntil, row.tenant, row.route, row.group_id);
      const bodies = s.messages.all(row.tenant, row.route, row.group_id) as { body: string }[];
      return {
        tenant: row.tenant,
        route: row.route,
        groupId: row.group_id,
        key: row.group_key,
        failures: row.attempts,
        messages: bodies.map((b) => JSON.parse(b.body) as JsonValue),
      };
    }),
  );

  const finish = db.transaction((g: ClaimedGroup, now: number) => {
    s.deleteGroup.run(g.tenant, g.route, g.groupId);
    s.finishMembers.run(now, g.tenant, g.route, g.groupId);
  });

  const drop = (where: string, ...params: string[]) =>
    db.transaction(() => {
      for (const table of ['route_groups', 'route_members', 'route_secrets'])
        db.prepare(`DELETE FROM ${table} WHERE ${where}`).run(...params);
    })();

  return {
    async cursor() {
      return BigInt((s.cursor.get(CURSOR) as { position: number } | undefined)?.position ?? 0);
    },
    async record(changes, position) {
      record(changes, position);
    },
    async routes() {
      return (s.routes.all() as { tenant: string; route: string; version: number; document: string }[]).map((row) => ({
        tenant: row.tenant,
        id: row.route,
        version: row.version,
        document: JSON.parse(row.document),
      }));
    },
    async putSecrets(tenant, route, ref, secrets) {
      db.transaction(() => {
        for (const [target, secret] of secrets) s.putSecret.run(tenant, route, ref, target, secret);
      })();
    },
    async secrets(tenant, route, ref) {
      const rows = s.secrets.all(tenant, route, ref) as { target: number; secret: string }[];
      return new Map(rows.map((row) => [row.target, row.secret]));
    },
    async pruneSecrets(tenant, route, current) {
      s.pruneSecrets.run(tenant, route, current);
    },
    async addToGroup(input) {
      return add.immediate(input);
    },
    async claimDue(now, leaseUntil, limit) {
      return claim.immediate(now, leaseUntil, limit);
    },
    async release(group, retryAt, failed) {
      s.release.run(retryAt, failed ? 1 : 0, group.tenant, group.route, group.groupId);
    },
    async finish(group, now) {
      finish(group, now);
    },
    async purgeMembers(before) {
      return s.purge.run(before).changes;
    },
    async dropRoute(tenant, route) {
      drop(ROUTE, tenant, route);
    },
    async dropTenant(tenant) {
      drop('tenant = ?', tenant);
      db.prepare('DELETE FROM route_registry WHERE tenant = ?').run(tenant);
    },
    async close() {
      db.close();
    },
  };
}
