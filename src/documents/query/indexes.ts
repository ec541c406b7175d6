import { createHash } from 'node:crypto';
import type { FieldType } from '../../datamodel/types.js';
import { DOCUMENTS_TABLE } from './base.js';
import { DIALECTS } from './dialects.js';
import { ID_FIELD, isOrdered, resolveField } from './fields.js';
import type { Dialect } from './types.js';

/**
 * The exact SQL expression the compiler filters, sorts and groups a field by, for expression indexes.
 * Defined for number, integer, boolean, text-like types (string, text, enum, date, datetime, reference)
 * and `id`; throws a TypeError for json and array fields.
 */
export function indexExpression(field: string, type: FieldType | 'id', dialect: Dialect): string {
  const resolved = type === 'id' ? ID_FIELD : resolveField(field, { [field]: { type } });
  if (!resolved || resolved.name !== field || !isOrdered(resolved)) throw new TypeError(`No index expression for ${field} (${type})`);
  return DIALECTS[dialect].value(resolved);
}

/** A field, of a type, that filters and sorts should find indexed. */
export interface IndexTarget {
  field: string;
  type: FieldType;
}

/**
 * The name of the one index that serves a field of a type for every tenant, module and entity: a hash
 * of the field name and its expression (stable across releases and processes, within 63 characters).
 * Types with the same expression share it (number and integer; string, text, enum, date, datetime and
 * reference on PostgreSQL; every type of a field on SQLite, where the expression is `json_extract`).
 */
export function indexName(target: IndexTarget, dialect: Dialect): string {
  const expression = indexExpression(target.field, target.type, dialect);
  return `doc_shared_${createHash('sha256').update(`${target.field}\0${expression}`).digest('hex').slice(0, 24)}`;
}

/**
 * `CREATE INDEX … IF NOT EXISTS` of the index shared by every entity that declares an index on a field
 * of this name and value kind, over the current versions of all documents (`WHERE to_position IS NULL`),
 * so that the number of indexes a write maintains does not grow with tenants and entities.
 * Columns: tenant, module, entity (a query's equality prefix, so that an index scan returns one entity's
 * rows in sort order), the field's expression with missing values first (so that ascending sorts, and
 * descending ones scanned backwards, read it in order), then id (the tiebreak).
 * On PostgreSQL the statement is `CREATE INDEX CONCURRENTLY`, which never blocks writes; it must run
 * outside a transaction block (an autocommitted statement), and a failed build leaves an INVALID index
 * behind that the caller drops and builds again (see `ensurePostgresIndex` in ../indexes.ts).
 */
export function createIndexSql(target: IndexTarget, dialect: Dialect): string {
  const expression = indexExpression(target.field, target.type, dialect);
  const d = DIALECTS[dialect];
  const columns = `tenant, module, entity, (${expression})${d.indexNullsFirst}, ${d.value(ID_FIELD)}`;
  const create = dialect === 'postgres' ? 'CREATE INDEX CONCURRENTLY IF NOT EXISTS' : 'CREATE INDEX IF NOT EXISTS';
  return `${create} ${indexName(target, dialect)} ON ${DOCUMENTS_TABLE} (${columns}) WHERE to_position IS NULL`;
}
