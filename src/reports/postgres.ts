import type pg from 'pg';
import type { RecordData } from '../datamodel/index.js';
import { inTenant } from '../eventstore/postgres/tenant-transaction.js';
import { groupFromJson, groupText } from './groups.js';
import { overtaken, type ReportStore, type VersionId, type VersionRow, type VersionWrite } from './port.js';

const CURSOR = 'reports';
/** The count of committed batches: every commit checks and moves it (several processors stay exact). */
const GENERATION = 'reports.generation';
const KEY = 'tenant = $1 AND report = $2 AND version = $3';
const WHAT = 'report store';

type Row = {
  tenant: string;
  report: string;
  version: number;
  definition: VersionRow['stored'];
  status: string;
  reason: string | null;
  position: string;
  group_count: number;
};

/**
 * The report store on PostgreSQL (migration 10). Its tables have forced row-level security: reads
 * of the whole processor run as tenant `*`, and each version's writes under its own tenant, all in
 * the transaction of the batch. The pool is its own.
 */
export function postgresReportStore(pool: pg.Pool): ReportStore {
  const key = (id: VersionId) => [id.tenant, id.report, id.version];

  async function write(client: pg.PoolClient, w: VersionWrite): Promise<void> {
    const k = key(w.id);
    await client.query("SELECT set_config('backoffice.tenant', $1, true)", [w.id.tenant]);
    if (w.create) {
      await client.query(
        `INSERT INTO report_versions (tenant, report, version, definition, status, reason, position, group_count)
         VALUES ($1, $2, $3, $4, 'building', NULL, 0, 0) ON CONFLICT DO NOTHING`,
        [...k, JSON.stringify(w.create)],
      );
    }
    if (w.drop || w.clear) {
      await client.query(`DELETE FROM report_groups WHERE ${KEY}`, k);
      await client.query(`DELETE FROM report_members WHERE ${KEY}`, k);
    }
    if (w.drop) {
      await client.query(`DELETE FROM report_versions WHERE ${KEY}`, k);
      return;
    }
    await writeRows(client, 'report_members', 'record_id', { data: 'x.value' }, k, w.members, (_, data) => JSON.stringify(data), w.created);
    // A group goes as { s: state, v: its view's JSON text }.
    await writeRows(
      client,
      'report_groups',
      'group_key',
      { state: "x.value->'s'", view: "x.value->>'v'" },
      k,
      w.groups,
      (id, group) => `{"s":${groupText(group)},"v":${JSON.stringify(w.views?.get(id) ?? null)}}`,
    );
    if (w.state) {
      await client.query(`UPDATE report_versions SET status = $4, reason = $5, position = $6, group_count = $7 WHERE ${KEY}`, [
        ...k,
        w.state.status,
        w.state.reason,
        w.state.position.toString(),
        w.state.groupCount,
      ]);
    }
  }

  return {
    async cursor() {
      const { rows } = await pool.query<{ name: string; position: string }>(
        'SELECT name, position FROM report_cursor WHERE name IN ($1, $2)',
        [CURSOR, GENERATION],
      );
      const value = (name: string) => BigInt(rows.find((row) => row.name === name)?.position ?? 0);
      return { position: value(CURSOR), generation: value(GENERATION) };
    },
    async versions(filter) {
      return inTenant(pool, filter?.tenant ?? '*', WHAT, async (client) => {
        const { rows } = filter
          ? await client.query<Row>('SELECT * FROM report_versions WHERE tenant = $1 AND report = $2 ORDER BY version', [
              filter.tenant,
              filter.report,
            ])
          : await client.query<Row>('SELECT * FROM report_versions ORDER BY tenant, report, version');
        return rows.map(toVersion);
      });
    },
    async members(id, recordIds) {
      if (recordIds.length === 0) return new Map();
      return inTenant(pool, id.tenant, WHAT, async (client) => {
        const { rows } = await client.query<{ record_id: string; data: RecordData }>(
          `SELECT record_id, data FROM report_members WHERE ${KEY} AND record_id = ANY($4::text[])`,
          [...key(id), recordIds],
        );
        return new Map(rows.map((row) => [row.record_id, row.data]));
      });
    },
    async groups(id, keys) {
      if (keys?.length === 0) return new Map();
      return inTenant(pool, id.tenant, WHAT, async (client) => {
        const { rows } = keys
          ? await client.query<{ group_key: string; state: unknown }>(
              `SELECT group_key, state FROM report_groups WHERE ${KEY} AND group_key = ANY($4::text[])`,
              [...key(id), keys],
            )
          : await client.query<{ group_key: string; state: unknown }>(`SELECT group_key, state FROM report_groups WHERE ${KEY}`, key(id));
        return new Map(rows.map((row) => [row.group_key, groupFromJson(row.state)]));
      });
    },
    async views(id) {
      return inTenant(pool, id.tenant, WHAT, async (client) => {
        const { rows } = await client.query<{ group_key: string; view: string | null; state: unknown }>(
          `SELECT group_key, view, CASE WHEN view IS NULL THEN state END AS state FROM report_groups WHERE ${KEY}`,
          key(id),
        );
        return rows.map((row) =>
          row.view !== null ? { groupKey: row.group_key, view: row.view } : { groupKey: row.group_key, state: groupFromJson(row.state) },
        );
      });
    },
    async commit(writes, cursor) {
      const generation = cursor.generation + 1n;
      await inTenant(pool, '*', WHAT, async (client) => {
        const fenced = await client.query(
          `INSERT INTO report_cursor (name, position) VALUES ($1, $2)
           ON CONFLICT (name) DO UPDATE SET position = excluded.position WHERE report_cursor.position = $3`,
          [GENERATION, generation.toString(), cursor.generation.toString()],
        );
        if (fenced.rowCount === 0) throw overtaken();
        await client.query(
          'INSERT INTO report_cursor (name, position) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET position = excluded.position',
          [CURSOR, cursor.position.toString()],
        );
        for (const w of writes) await write(client, w);
      });
      return generation;
    },
    async close() {
      await pool.end();
    },
  };
}

/**
 * Deletes, inserts (the rows `created`: the store holds none of them) and upserts (the others) of one
 * table's rows, one statement each, the values sent as one JSON object by id: a plain insert costs
 * PostgreSQL much less than an upsert.
 */
async function writeRows<T>(
  client: pg.PoolClient,
  table: string,
  idColumn: string,
  /** Each value column and its expression over `x.value`, the row's JSON (`text`). */
  valueColumns: Record<string, string>,
  k: unknown[],
  rows: ReadonlyMap<string, T | null> | undefined,
  text: (id: string, value: T) => string,
  created: ReadonlySet<string> = new Set(),
): Promise<void> {
  if (!rows || rows.size === 0) return;
  const gone: string[] = [];
  const inserts: string[] = [];
  const upserts: string[] = [];
  for (const [id, value] of rows) {
    if (value === null) gone.push(id);
    else (created.has(id) ? inserts : upserts).push(`${JSON.stringify(id)}:${text(id, value)}`);
  }
  if (gone.length > 0) await client.query(`DELETE FROM ${table} WHERE ${KEY} AND ${idColumn} = ANY($4::text[])`, [...k, gone]);
  const columns = Object.keys(valueColumns);
  const insert = `INSERT INTO ${table} (tenant, report, version, ${idColumn}, ${columns.join(', ')})
    SELECT $1, $2, $3, x.key, ${Object.values(valueColumns).join(', ')} FROM jsonb_each($4::jsonb) AS x`;
  if (inserts.length > 0) await client.query(insert, [...k, `{${inserts.join(',')}}`]);
  if (upserts.length > 0) {
    const set = columns.map((column) => `${column} = excluded.${column}`).join(', ');
    await client.query(`${insert} ON CONFLICT (tenant, report, version, ${idColumn}) DO UPDATE SET ${set}`, [
      ...k,
      `{${upserts.join(',')}}`,
    ]);
  }
}

function toVersion(row: Row): VersionRow {
  return {
    tenant: row.tenant,
    report: row.report,
    version: row.version,
    stored: row.definition,
    status: row.status as VersionRow['status'],
    reason: row.reason,
    position: BigInt(row.position),
    groupCount: row.group_count,
  };
}
