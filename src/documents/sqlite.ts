import type Database from 'better-sqlite3';
import type { DocumentKey, DocumentRecord, DocumentStore, DocumentVersion } from './port.js';
import { compileAggregateQuery, compileListQuery, createIndexSql, readAggregateRows, readListPage } from './query/index.js';

interface Row {
  id: string;
  version: number;
  from_position: number;
  data: string | null;
  deleted: number;
  created_at: string;
  updated_at: string;
}

const COLUMNS = 'id, version, from_position, data, deleted, created_at, updated_at';
const KEY = 'tenant = ? AND module = ? AND entity = ? AND id = ?';

/** Compiled queries repeat (same filter shapes, values as parameters): their statements are kept, most recent last. */
const STATEMENT_CACHE_SIZE = 500;

export function sqliteDocumentStore(db: Database.Database): DocumentStore {
  const statementCache = new Map<string, Database.Statement>();
  function prepared(sql: string): Database.Statement {
    const cached = statementCache.get(sql);
    if (cached) {
      statementCache.delete(sql);
      statementCache.set(sql, cached);
      return cached;
    }
    const statement = db.prepare(sql);
    statementCache.set(sql, statement);
    if (statementCache.size > STATEMENT_CACHE_SIZE) statementCache.delete(statementCache.keys().next().value as string);
    return statement;
  }

  const statements = {
    current: db.prepare(`SELECT ${COLUMNS} FROM documents WHERE ${KEY} AND to_position IS NULL`),
    atPosition: db.prepare(
      `SELECT ${COLUMNS} FROM documents WHERE ${KEY} AND from_position <= ? AND (to_position IS NULL OR to_position > ?)`,
    ),
    atTime: db.prepare(`SELECT ${COLUMNS} FROM documents WHERE ${KEY} AND from_time <= ? AND (to_time IS NULL OR to_time > ?)`),
    hasValues: db.prepare(
      `SELECT 1 FROM documents WHERE tenant = ? AND module = ? AND entity = ? AND to_position IS NULL AND NOT deleted
       AND json_type(data, ?) IS NOT NULL LIMIT 1`,
    ),
    deleteAll: db.prepare('DELETE FROM documents WHERE tenant = ? AND module = ? AND entity = ?'),
    insert: db.prepare(
      `INSERT INTO documents (tenant, module, entity, id, version, data, deleted, created_at, updated_at,
       from_position, to_position, from_time, to_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
  };

  const replace = db.transaction((scope: Omit<DocumentKey, 'id'>, versions: DocumentVersion[]) => {
    statements.deleteAll.run(scope.tenant, scope.module, scope.entity);
    for (const v of versions) {
      const at = v.fromTime.toISOString();
      statements.insert.run(
        scope.tenant,
        scope.module,
        scope.entity,
        v.id,
        v.version,
        v.data === null ? null : JSON.stringify(v.data),
        v.data === null ? 1 : 0,
        v.createdAt.toISOString(),
        at,
        v.fromPosition,
        v.toPosition,
        at,
        v.toTime?.toISOString() ?? null,
      );
    }
  });

  return {
    async get({ tenant, module, entity, id }, asOf) {
      const key = [tenant, module, entity, id];
      const row = (
        asOf === undefined
          ? statements.current.get(...key)
          : 'position' in asOf
            ? statements.atPosition.get(...key, asOf.position, asOf.position)
            : statements.atTime.get(...key, asOf.time.toISOString(), asOf.time.toISOString())
      ) as Row | undefined;
      return row && toRecord(row);
    },
    async list(spec) {
      const query = compileListQuery(spec, 'sqlite');
      return readListPage(prepared(query.sql).all(...(query.params as unknown[])) as Record<string, unknown>[], spec, 'sqlite');
    },
    async aggregate(spec) {
      const query = compileAggregateQuery(spec, 'sqlite');
      return readAggregateRows(prepared(query.sql).all(...(query.params as unknown[])) as Record<string, unknown>[], spec, 'sqlite');
    },
    async hasValues({ tenant, module, entity }, field) {
      return statements.hasValues.get(tenant, module, entity, `$.${field}`) !== undefined;
    },
    async replaceAll(scope, versions) {
      replace.immediate(scope, versions);
    },
    async ensureIndex(_scope, field, type) {
      // One index per field name and value kind, shared by every tenant and entity (IF NOT EXISTS).
      db.exec(createIndexSql({ field, type }, 'sqlite'));
    },
  };
}

function toRecord(row: Row): DocumentRecord {
  return {
    id: row.id,
    version: row.version,
    position: BigInt(row.from_position),
    data: row.data === null ? {} : JSON.parse(row.data),
    deleted: row.deleted === 1,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}
