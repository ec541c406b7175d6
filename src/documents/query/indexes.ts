import type { FieldType } from '../../datamodel/types.js';
import { TENANT_ID } from '../../kernel/index.js';
import { DOCUMENTS_TABLE } from './base.js';
import { DIALECTS } from './dialects.js';
import { ID_FIELD, isOrdered, resolveField } from './fields.js';
import { stringLiteral } from './sql.js';
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

export interface IndexTarget {
  /** Index name; must be a plain identifier. */
  name: string;
  tenant: string;
  module: string;
  entity: string;
  field: string;
  type: FieldType;
}

/**
 * `CREATE INDEX IF NOT EXISTS` for one field of one entity, over its current versions only (partial index).
 * Columns: tenant, module, entity (constant within the index, but they let SQLite's planner see that an
 * index scan returns rows in sort order), the field's expression with missing values first (so that
 * ascending sorts, and descending ones scanned backwards, read it in order), then id (the tiebreak).
 * PostgreSQL proves the partial-index predicate because it plans the compiler's statements with their
 * parameter values (unnamed statements, the `pg` default); SQLite does the same for bound parameters.
 */
export function createIndexSql(target: IndexTarget, dialect: Dialect): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/i.test(target.name)) throw new TypeError(`Invalid index name ${target.name}`);
  if (!TENANT_ID.test(target.tenant)) throw new TypeError(`Invalid tenant ${target.tenant}`);
  const expression = indexExpression(target.field, target.type, dialect);
  const d = DIALECTS[dialect];
  const scope = `tenant = ${stringLiteral(target.tenant)} AND module = ${stringLiteral(target.module)} AND entity = ${stringLiteral(target.entity)}`;
  const columns = `tenant, module, entity, (${expression})${d.indexNullsFirst}, ${d.value(ID_FIELD)}`;
  return `CREATE INDEX IF NOT EXISTS ${target.name} ON ${DOCUMENTS_TABLE} (${columns}) WHERE ${scope} AND to_position IS NULL`;
}
