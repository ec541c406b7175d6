import { type CheckedAsOf, checkAsOf, DOCUMENTS_TABLE, whereSql } from './base.js';
import { checkCursor, encodeCursor } from './cursor.js';
import { DIALECTS, type DialectSyntax } from './dialects.js';
import { type FilterNode, readFilter } from './filter.js';
import { validate } from './problems.js';
import { resolveSelect } from './select.js';
import { keysetSql, orderBySql, type ResolvedKey, resolveSort, withTiebreak } from './sort.js';
import { and, join, param, raw, render, type Sql, sql } from './sql.js';
import type { CompiledQuery, Dialect, DocumentRow, ListPage, ListQuerySpec, Scalar } from './types.js';

/** The largest page a list query returns. */
export const MAX_LIMIT = 1000;

interface ListPlan {
  filter: FilterNode;
  keys: ResolvedKey[];
  select: string[] | undefined;
  asOf: CheckedAsOf | undefined;
}

/**
 * A page of documents: filtered, sorted (tiebreak on id), after the cursor, `limit + 1` rows so that
 * readListPage can tell whether there is a next page. Validates the whole spec first and throws
 * validation_failed listing every problem.
 */
export function compileListQuery(spec: ListQuerySpec, dialect: Dialect): CompiledQuery {
  const d = DIALECTS[dialect];
  const plan = planList(spec);
  const order = withTiebreak(plan.keys);
  const conditions = [whereSql(spec, plan.filter, plan.asOf, d)];
  if (spec.after) conditions.push(keysetSql(order, [...spec.after.values, spec.after.id], d));
  const statement = sql`SELECT ${columns(plan, d)} FROM ${raw(DOCUMENTS_TABLE)} WHERE ${and(conditions)} ORDER BY ${orderBySql(order, d)} LIMIT ${param(spec.limit + 1)}`;
  return render(statement, dialect);
}

function planList(spec: ListQuerySpec): ListPlan {
  return validate('Invalid query', (problems) => {
    const filter = readFilter(spec.filter, spec.fields, problems);
    const keys = resolveSort(spec.sort ?? [], spec.fields, problems);
    if (!Number.isInteger(spec.limit) || spec.limit < 1 || spec.limit > MAX_LIMIT) {
      problems.add('/limit', `must be an integer from 1 to ${MAX_LIMIT}`);
    }
    if (spec.after) checkCursor(spec.after, spec.sort ?? [], spec.fields, problems);
    const select = spec.select && resolveSelect(spec.select, spec.fields, problems);
    return { filter, keys, select, asOf: checkAsOf(spec.asOf, problems) };
  });
}

function columns(plan: ListPlan, d: DialectSyntax): Sql {
  const data = plan.select ? d.project(plan.select) : raw('data');
  return join(
    [
      raw('id, version'),
      sql`${data} AS data`,
      raw(`${d.isoTime('created_at')} AS created_at, ${d.isoTime('updated_at')} AS updated_at`),
      raw('CAST(from_position AS TEXT) AS position'),
      ...plan.keys.map((key, i) => raw(`${d.json(key.field)} AS k${i}`)),
    ],
    ', ',
  );
}

/** A row of a list query as a document, identical from both databases. */
export function decodeDocumentRow(row: Record<string, unknown>, dialect: Dialect): DocumentRow {
  const d = DIALECTS[dialect];
  return {
    id: String(row.id),
    version: Number(row.version),
    data: d.decodeJson(row.data) as Record<string, unknown>,
    createdAt: String(row.created_at),
    updatedAt: String(row.updated_at),
    position: String(row.position),
  };
}

/** The rows of compileListQuery(spec) as a page: at most `limit` items, and a cursor when more follow. */
export function readListPage(rows: readonly Record<string, unknown>[], spec: ListQuerySpec, dialect: Dialect): ListPage {
  const items = rows.slice(0, spec.limit);
  const last = items.at(-1);
  const sort = spec.sort ?? [];
  const values = (row: Record<string, unknown>) =>
    sort.map((_, i) => (DIALECTS[dialect].decodeJson(row[`k${i}`]) ?? null) as Scalar | null);
  return {
    items: items.map((row) => decodeDocumentRow(row, dialect)),
    nextCursor: rows.length > spec.limit && last ? encodeCursor(sort, { values: values(last), id: String(last.id) }) : null,
  };
}
