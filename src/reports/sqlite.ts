import type Database from 'better-sqlite3';
import type { RecordData } from '../datamodel/index.js';
import { type GroupState, groupFromJson, groupText } from './groups.js';
import { type Cursor, overtaken, type ReportStore, type VersionId, type VersionRow, type VersionWrite } from './port.js';

const CURSOR = 'reports';
/** The count of committed batches: every commit checks and moves it (several processors stay exact). */
const GENERATION = 'reports.generation';
const KEY = 'tenant = ? AND report = ? AND version = ?';
/** Rows per multi-row upsert; the rest of a batch goes one row per statement. */
const CHUNK = 64;
const IDS = 'IN (SELECT value FROM json_each(?))';

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
  // Member rows are rewritten all over their table: a page cache larger than the default 2 MB keeps them in memory.
  db.pragma('cache_size = -65536');
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
    members: db.prepare(`SELECT record_id, data FROM report_members WHERE ${KEY} AND record_id ${IDS}`),
    groups: db.prepare(`SELECT group_key, state FROM report_groups WHERE ${KEY} AND group_key ${IDS}`),
    allGroups: db.prepare(`SELECT group_key, state FROM report_groups WHERE ${KEY}`),
    views: db.prepare(`SELECT group_key, view, CASE WHEN view IS NULL THEN state END AS state FROM report_groups WHERE ${KEY}`),
    create: db.prepare(
      "INSERT INTO report_versions (tenant, report, version, definition, status, reason, position, group_count) VALUES (?, ?, ?, ?, 'building', NULL, 0, 0) ON CONFLICT DO NOTHING",
    ),
    state: db.prepare(`UPDATE report_versions SET status = ?, reason = ?, position = ?, group_count = ? WHERE ${KEY}`),
    dropVersion: db.prepare(`DELETE FROM report_versions WHERE ${KEY}`),
    dropGroups: db.prepare(`DELETE FROM report_groups WHERE ${KEY}`),
    dropMembers: db.prepare(`DELETE FROM report_members WHERE ${KEY}`),
    deleteMembers: db.prepare(`DELETE FROM report_members WHERE ${KEY} AND record_id ${IDS}`),
    deleteGroups: db.prepare(`DELETE FROM report_groups WHERE ${KEY} AND group_key ${IDS}`),
  };
  /** Upserts of 1 and of CHUNK rows into a table keyed by the version and one column. */
  const upserts = (table: string, column: string, values: string[]) => {
    const row = `(${Array(4 + values.length)
      .fill('?')
      .join(', ')})`;
    const statements = [1, CHUNK].map((rows) =>
      db.prepare(
        `INSERT INTO ${table} (tenant, report, version, ${column}, ${values.join(', ')}) VALUES ${Array(rows).fill(row).join(', ')}
         ON CONFLICT DO UPDATE SET ${values.map((value) => `${value} = excluded.${value}`).join(', ')}`,
      ),
    ) as [Database.Statement, Database.Statement];
    return { statements, width: 4 + values.length };
  };
  const put = {
    members: upserts('report_members', 'record_id', ['data']),
    groups: upserts('report_groups', 'group_key', ['state', 'view']),
  };
  const key = (id: VersionId) => [id.tenant, id.report, id.version] as const;

  /** Deletes (null) in one statement, upserts CHUNK rows per statement (`texts`: the row's value columns). */
  function writeRows<T>(
    k: readonly unknown[],
    rows: ReadonlyMap<string, T | null> | undefined,
    remove: Database.Statement,
    { statements: [one, chunk], width }: ReturnType<typeof upserts>,
    texts: (id: string, value: T) => unknown[],
  ): void {
    if (!rows || rows.size === 0) return;
    const gone: string[] = [];
    let values: unknown[] = [];
    for (const [id, value] of rows) {
      if (value === null) gone.push(id);
      else values.push(k[0], k[1], k[2], id, ...texts(id, value));
      if (values.length === CHUNK * width) {
        chunk.run(values);
        values = [];
      }
    }
    for (let i = 0; i < values.length; i += width) one.run(values.slice(i, i + width));
    if (gone.length > 0) remove.run(...k, JSON.stringify(gone));
  }

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
    writeRows(k, w.members, s.deleteMembers, put.members, (_, data) => [JSON.stringify(data)]);
    writeRows(k, w.groups, s.deleteGroups, put.groups, (id, group) => [groupText(group), w.views?.get(id) ?? null]);
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
      if (recordIds.length === 0) return found;
      for (const row of s.members.all(...key(id), JSON.stringify(recordIds)) as { record_id: string; data: string }[])
        found.set(row.record_id, JSON.parse(row.data) as RecordData);
      return found;
    },
    async groups(id, keys) {
      const found = new Map<string, GroupState>();
      if (keys?.length === 0) return found;
      const rows = (keys === undefined ? s.allGroups.all(...key(id)) : s.groups.all(...key(id), JSON.stringify(keys))) as {
        group_key: string;
        state: string;
      }[];
      for (const row of rows) found.set(row.group_key, groupFromJson(JSON.parse(row.state)));
      return found;
    },
    async views(id) {
      const rows = s.views.all(...key(id)) as { group_key: string; view: string | null; state: string | null }[];
      return rows.map((row) =>
        row.view !== null
          ? { groupKey: row.group_key, view: row.view }
          : { groupKey: row.group_key, state: groupFromJson(JSON.parse(row.state ?? '{}')) },
      );
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
