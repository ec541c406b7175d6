import { join, param, raw, type Sql, sql, stringLiteral } from './sql.js';
import type { Dialect, QueryField, Scalar, ValueKind } from './types.js';

/** What differs between the databases, as data. Expressions are plain SQL text over the `documents` columns. */
export interface DialectSyntax {
  /** The typed expression a number, text or boolean field compares and sorts by. */
  value(field: QueryField): string;
  /** The field's value as JSON (jsonb / JSON text), NULL when missing. */
  json(field: QueryField): string;
  /** A bound value of a scalar kind. */
  param(kind: ValueKind, value: Scalar): Sql;
  /** Two-valued "text contains needle" for a present value. */
  substring(expr: string, needle: string): Sql;
  startsWith(expr: string, prefix: string): Sql;
  /** The array field has an element equal to the value (NULL or false when the field is missing). */
  arrayHas(field: QueryField, value: Scalar): Sql;
  /** The data of the selected fields only, as a JSON object; missing fields omitted. */
  project(names: readonly string[]): Sql;
  notDeleted: string;
  /** How an index column puts missing values first (SQLite always does). */
  indexNullsFirst: string;
  position(value: bigint): Sql;
  time(value: string): Sql;
  /** A timestamp column as ISO-8601 text 'YYYY-MM-DDTHH:MM:SS.sssZ'. */
  isoTime(column: string): string;
  sum(expr: string): string;
  /** sum / count: PostgreSQL's avg(float8) also sums squares and overflows beyond ~1.3e154. */
  avg(expr: string): string;
  /** Decodes a JSON column value (jsonb arrives parsed, SQLite JSON as text). */
  decodeJson(value: unknown): unknown;
  decodeBoolean(value: unknown): boolean | null;
}

const postgres: DialectSyntax = {
  // Total (never an error, whatever the document holds): a declared index evaluates it on the current
  // documents of every tenant and entity, where a field of the same name may hold another type.
  value(field) {
    if (field.type === 'id') return '(id COLLATE "C")';
    const name = stringLiteral(field.name);
    if (field.kind === 'number') return `(CASE WHEN jsonb_typeof(data -> ${name}) = 'number' THEN (data ->> ${name})::float8 END)`;
    if (field.kind === 'boolean') return `(CASE WHEN jsonb_typeof(data -> ${name}) = 'boolean' THEN (data -> ${name})::boolean END)`;
    return `((data ->> ${name}) COLLATE "C")`;
  },
  json: (field) => (field.type === 'id' ? 'to_jsonb(id)' : `(data -> ${stringLiteral(field.name)})`),
  param(kind, value) {
    const cast = kind === 'number' ? 'float8' : kind === 'boolean' ? 'boolean' : 'text';
    return sql`${param(value)}::${raw(cast)}`;
  },
  substring: (expr, needle) => sql`strpos(${raw(expr)}, ${param(needle)}::text) > 0`,
  startsWith: (expr, prefix) => sql`starts_with(${raw(expr)}, ${param(prefix)}::text)`,
  arrayHas: (field, value) => sql`${raw(postgres.json(field))} @> ${param(JSON.stringify([value]))}::jsonb`,
  project: (names) =>
    sql`(SELECT COALESCE(jsonb_object_agg(e.key, e.value), '{}'::jsonb) FROM jsonb_each(data) AS e WHERE e.key = ANY(${param([...names])}::text[]))`,
  notDeleted: 'NOT deleted',
  indexNullsFirst: ' NULLS FIRST',
  position: (value) => sql`${param(value.toString())}::bigint`,
  time: (value) => sql`${param(value)}::timestamptz`,
  isoTime: (column) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`,
  sum: (expr) => `sum(${expr})`,
  avg: (expr) => `(sum(${expr}) / count(${expr})::float8)`,
  decodeJson: (value) => value,
  decodeBoolean: (value) => (value === null || value === undefined ? null : Boolean(value)),
};

const sqlite: DialectSyntax = {
  value: (field) => (field.type === 'id' ? 'id' : `json_extract(data, ${stringLiteral(`$."${field.name}"`)})`),
  json: (field) => (field.type === 'id' ? 'json_quote(id)' : `(data -> ${stringLiteral(`$."${field.name}"`)})`),
  param: (kind, value) => param(kind === 'boolean' ? (value ? 1 : 0) : value),
  substring: (expr, needle) => sql`instr(${raw(expr)}, ${param(needle)}) > 0`,
  startsWith: (expr, prefix) => {
    const upper = prefixUpperBound(prefix);
    const from = sql`${raw(expr)} >= ${param(prefix)}`;
    return upper === undefined ? from : sql`(${from} AND ${raw(expr)} < ${param(upper)})`;
  },
  arrayHas: (field, value) =>
    sql`EXISTS (SELECT 1 FROM json_each(data, ${raw(stringLiteral(`$."${field.name}"`))}) AS e WHERE e.value = ${sqlite.param(field.items ?? 'json', value)})`,
  project: (names) =>
    sql`(SELECT json_group_object(e.key, data -> e.fullkey) FROM json_each(data) AS e WHERE e.key IN (${join(names.map(param), ', ')}))`,
  notDeleted: 'deleted = 0',
  indexNullsFirst: '',
  position: (value) => param(value),
  time: (value) => param(value),
  isoTime: (column) => column,
  sum: (expr) => `sum(CAST(${expr} AS REAL))`,
  avg: (expr) => `(sum(CAST(${expr} AS REAL)) / count(${expr}))`,
  decodeJson: (value) => (typeof value === 'string' ? JSON.parse(value) : (value ?? null)),
  decodeBoolean: (value) => (value === null || value === undefined ? null : value === 1 || value === true),
};

/**
 * The least string above every string that starts with `prefix` (in code point, hence UTF-8 byte, order):
 * the prefix with its last code point incremented; undefined when there is none. A range
 * `prefix <= e < upper` is an exact prefix test that an index on `e` can serve.
 */
export function prefixUpperBound(prefix: string): string | undefined {
  const points = [...prefix];
  while (points.length > 0) {
    const last = (points.pop() as string).codePointAt(0) as number;
    if (last < 0x10ffff) return points.join('') + String.fromCodePoint(last === 0xd7ff ? 0xe000 : last + 1);
  }
  return undefined;
}

export const DIALECTS: Readonly<Record<Dialect, DialectSyntax>> = { postgres, sqlite };
