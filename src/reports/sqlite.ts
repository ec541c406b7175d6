import type Database from 'better-sqlite3';
import type { RecordData } from '../datamodel/index.js';
import { type Cursor, overtaken, type ReportStore, type VersionId, type VersionRow, type VersionWrite } from './port.js';
import type { GroupState } from './reducer.js';

const CURSOR = 'reports';
/** The count of committed batches: every commit checks and moves it (several processors stay exact). */
const GENERATION = 'reports.generation';
const KEY = 'tenant = ? AND report = ? AND version = ?';

type Row = {
  tenant: string;
  report: string;
  version: number;
  definition: string;
  status: string;
  reason: string | null;
  position: number | bigint;
  group_count: number;
};

/** The report store in the platform's SQLite database (migration 6); the connection is its own. */
export function sqliteReportStore(db: Database.Database): ReportStore {
  db.defaultSafeIntegers(false);
  const s = {
    cursor: db.prepare('SELECT name, position FROM report_cursor WHERE name IN (?, ?)'),
    saveCursor: db.prepare(
      'INSERT INTO report_cursor (name, position) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET position = excluded.position',
    ),
    fence: db.prepare(
      'INSERT INTO report_cursor (name, position) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET position = excluded.position WHERE report_cursor.position = ?',
    ),
    allVersions: db.prepare('SELECT * FROM report_versions ORDER BY tenant, report, version'),
    versions: db.prepare('SELECT * FROM report_versions WHERE tenant = ? AND report = ? ORDER BY version'),
    member: db.prepare(`SELECT data FROM report_members WHERE ${KEY} AND record_id = ?`),
    group: db.prepare(`SELECT state FROM report_groups WHERE ${KEY} AND group_key = ?`),
    allGroups: db.prepare(`SELECT group_key, state FROM report_groups WHERE ${KEY}`),
    create: db.prepare(
      "INSERT INTO report_versions (tenant, report, version, definition, status, reason, position, group_count) VALUES (?, ?, ?, ?, 'building', NULL, 0, 0) ON CONFLICT DO NOTHING",
    ),
    state: db.prepare(`UPDATE report_versions SET status = ?, reason = ?, position = ?, group_count = ? WHERE ${KEY}`),
    dropVersion: db.prepare(`DELETE FROM report_versions WHERE ${KEY}`),
    dropGroups: db.prepare(`DELETE FROM report_groups WHERE ${KEY}`),
    dropMembers: db.prepare(`DELETE FROM report_members WHERE ${KEY}`),
    putMember: db.prepare(
      'INSERT INTO report_members (tenant, report, version, record_id, data) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET data = excluded.data',
    ),
    deleteMember: db.prepare(`DELETE FROM report_members WHERE ${KEY} AND record_id = ?`),
    putGroup: db.prepare(
      'INSERT INTO report_groups (tenant, report, version, group_key, state) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET state = excluded.state',
    ),
    deleteGroup: db.prepare(`DELETE FROM report_groups WHERE ${KEY} AND group_key = ?`),
  };
  const key = (id: VersionId) => [id.tenant, id.report, id.version] as const;

  function write(w: VersionWrite): void {
    const k = key(w.id);
    if (w.create) s.create.run(...k, JSON.stringify(w.create));
    if (w.drop || w.clear) {
      s.dropGroups.run(...k);
      s.dropMembers.run(...k);
    }
    if (w.drop) {
      s.dropVersion.run(...k);
      return;
    }
    for (const [id, data] of w.members ?? []) {
      if (data === null) s.deleteMember.run(...k, id);
      else s.putMember.run(...k, id, JSON.stringify(data));
    }
    for (const [group, state] of w.groups ?? []) {
      if (state === null) s.deleteGroup.run(...k, group);
      else s.putGroup.run(...k, group, JSON.stringify(state));
    }
    if (w.state) s.state.run(w.state.status, w.state.reason, w.state.position, w.state.groupCount, ...k);
  }

  const commit = db.transaction((writes: readonly VersionWrite[], cursor: Cursor): bigint => {
    const generation = cursor.generation + 1n;
    if (s.fence.run(GENERATION, generation, cursor.generation).changes === 0) throw overtaken();
    s.saveCursor.run(CURSOR, cursor.position);
    for (const w of writes) write(w);
    return generation;
  });

  return {
    async cursor() {
      const rows = s.cursor.all(CURSOR, GENERATION) as { name: string; position: number }[];
      const value = (name: string) => BigInt(rows.find((row) => row.name === name)?.position ?? 0);
      return { position: value(CURSOR), generation: value(GENERATION) };
    },
    async versions(filter) {
      const rows = (filter ? s.versions.all(filter.tenant, filter.report) : s.allVersions.all()) as Row[];
      return rows.map(toVersion);
    },
    async members(id, recordIds) {
      const found = new Map<string, RecordData>();
      for (const recordId of recordIds) {
        const row = s.member.get(...key(id), recordId) as { data: string } | undefined;
        if (row) found.set(recordId, JSON.parse(row.data) as RecordData);
      }
      return found;
    },
    async groups(id, keys) {
      const found = new Map<string, GroupState>();
      if (keys === undefined) {
        for (const row of s.allGroups.all(...key(id)) as { group_key: string; state: string }[])
          found.set(row.group_key, JSON.parse(row.state) as GroupState);
        return found;
      }
      for (const group of keys) {
        const row = s.group.get(...key(id), group) as { state: string } | undefined;
        if (row) found.set(group, JSON.parse(row.state) as GroupState);
      }
      return found;
    },
    async commit(writes, cursor) {
      return commit(writes, cursor);
    },
    async close() {
      db.close();
    },
  };
}

function toVersion(row: Row): VersionRow {
  return {
    tenant: row.tenant,
    report: row.report,
    version: row.version,
    stored: JSON.parse(row.definition),
    status: row.status as VersionRow['status'],
    reason: row.reason,
    position: BigInt(row.position),
    groupCount: row.group_count,
  };
}
