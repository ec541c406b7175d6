import type pg from 'pg';
import { ensurePostgresIndex } from './indexes.js';
import type { AsOf, DocumentKey, DocumentRecord, DocumentStore, DocumentVersion } from './port.js';
import { compileAggregateQuery, compileListQuery, readAggregateRows, readListPage } from './query/index.js';

interface Row {
  id: string;
  version: number;
  from_position: string;
  data: DocumentRecord['data'] | null;
  deleted: boolean;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = 'id, version, from_position, data, deleted, created_at, updated_at';
const KEY = 'tenant = $1 AND module = $2 AND entity = $3 AND id = $4';

function asOfCondition(asOf: AsOf | undefined): { sql: string; params: unknown[] } {
  if (asOf === undefined) return { sql: 'to_position IS NULL', params: [] };
  if ('position' in asOf)
    return { sql: 'from_position <= $5 AND (to_position IS NULL OR to_position > $5)', params: [asOf.position.toString()] };
  return { sql: 'from_time <= $5 AND (to_time IS NULL OR to_time > $5)', params: [asOf.time] };
}

/** Documents are read and written by the table's owner, which its row-level-security policy does not bind (decision 0003): every statement filters by tenant itself. */
export function postgresDocumentStore(pool: pg.Pool): DocumentStore {
  return {
    async get({ tenant, module, entity, id }, asOf) {
      const condition = asOfCondition(asOf);
      const { rows } = await pool.query<Row>(`SELECT ${COLUMNS} FROM documents WHERE ${KEY} AND ${condition.sql}`, [
        tenant,
        module,
        entity,
        id,
        ...condition.params,
      ]);
      return rows[0] && toRecord(rows[0]);
    },
    async list(spec) {
      const query = compileListQuery(spec, 'postgres');
      const { rows } = await pool.query(query.sql, query.params);
      return readListPage(rows, spec, 'postgres');
    },
    async aggregate(spec) {
      const query = compileAggregateQuery(spec, 'postgres');
      const { rows } = await pool.query(query.sql, query.params);
      return readAggregateRows(rows, spec, 'postgres');
    },
    async hasValues({ tenant, module, entity }, field) {
      const { rows } = await pool.query(
        `SELECT 1 FROM documents WHERE tenant = $1 AND module = $2 AND entity = $3 AND to_position IS NULL AND NOT deleted
         AND data ? $4 LIMIT 1`,
        [tenant, module, entity, field],
      );
      return rows.length > 0;
    },
    async ensureIndex(_scope, field, type) {
      await ensurePostgresIndex(pool, field, type);
    },
    async replaceAll(scope, versions) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await client.query('DELETE FROM documents WHERE tenant = $1 AND module = $2 AND entity = $3', [
          scope.tenant,
          scope.module,
          scope.entity,
        ]);
        for (let start = 0; start < versions.length; start += 500) await insertVersions(client, scope, versions.slice(start, start + 500));
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    },
  };
}

async function insertVersions(client: pg.PoolClient, scope: Omit<DocumentKey, 'id'>, versions: DocumentVersion[]): Promise<void> {
  await client.query(
    `INSERT INTO documents (tenant, module, entity, id, version, data, deleted, created_at, updated_at,
       from_position, to_position, from_time, to_time)
     SELECT $1, $2, $3, v->>'id', (v->>'version')::int, NULLIF(v->'data', 'null'::jsonb), jsonb_typeof(v->'data') = 'null', (v->>'createdAt')::timestamptz,
       (v->>'fromTime')::timestamptz, (v->>'fromPosition')::bigint, (v->>'toPosition')::bigint, (v->>'fromTime')::timestamptz,
       (v->>'toTime')::timestamptz
     FROM jsonb_array_elements($4::jsonb) AS v`,
    [
      scope.tenant,
      scope.module,
      scope.entity,
      JSON.stringify(versions, (_, value) => (typeof value === 'bigint' ? value.toString() : value)),
    ],
  );
}

function toRecord(row: Row): DocumentRecord {
  return {
    id: row.id,
    version: row.version,
    position: BigInt(row.from_position),
    data: row.data ?? {},
    deleted: row.deleted,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
