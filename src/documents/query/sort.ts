import type { DialectSyntax } from './dialects.js';
import { describe, ID_FIELD, isOrdered, pointer, resolveField } from './fields.js';
import { listItems, type Problems, validate } from './problems.js';
import { and, FALSE, join, or, raw, type Sql, sql } from './sql.js';
import type { EntityFields, QueryField, Scalar, SortDirection, SortKey } from './types.js';

export const MAX_SORT_KEYS = 8;

/** A sort key with its field resolved. */
export interface ResolvedKey {
  field: QueryField;
  direction: SortDirection;
}

/** Parses `-amount,customer` (a `-` prefix sorts descending). Empty or undefined → no keys (order by id). */
export function parseSort(text: string | undefined, fields: EntityFields): SortKey[] {
  const keys = listItems(text).map((item) => ({
    field: item.startsWith('-') ? item.slice(1) : item,
    direction: item.startsWith('-') ? 'desc' : 'asc',
  })) satisfies SortKey[];
  validate('Invalid sort', (problems) => resolveSort(keys, fields, problems));
  return keys;
}

/** Checks sort keys against the entity; every key is a number, text or boolean field named once. */
export function resolveSort(keys: readonly SortKey[], fields: EntityFields, problems: Problems): ResolvedKey[] {
  if (keys.length > MAX_SORT_KEYS) problems.add('/sort', `more than ${MAX_SORT_KEYS} keys`);
  const seen = new Set<string>();
  const resolved: ResolvedKey[] = [];
  keys.forEach((key, i) => {
    const path = `/sort${pointer(i)}`;
    const field = resolveField(key.field, fields);
    if (key.direction !== 'asc' && key.direction !== 'desc') problems.add(path, 'direction must be asc or desc');
    else if (!field) problems.add(path, key.field === '' ? 'empty sort key' : `unknown field ${key.field}`);
    else if (!isOrdered(field)) problems.add(path, `cannot sort by ${describe(field)}`);
    else if (seen.has(field.name)) problems.add(path, `${field.name} is sorted by twice`);
    else resolved.push({ field, direction: key.direction });
    seen.add(key.field);
  });
  return resolved;
}

/** The keys with the final tiebreak on id ascending, which makes the order total. */
export function withTiebreak(keys: readonly ResolvedKey[]): ResolvedKey[] {
  return [...keys, { field: ID_FIELD, direction: 'asc' }];
}

const NULLS = { asc: ' NULLS FIRST', desc: ' NULLS LAST' } as const;

/** ORDER BY with missing values the smallest: first ascending, last descending (id is never NULL). */
export function orderBySql(keys: readonly ResolvedKey[], d: DialectSyntax): Sql {
  return join(
    keys.map(({ field, direction }) => raw(`${d.value(field)} ${direction.toUpperCase()}${field.type === 'id' ? '' : NULLS[direction]}`)),
    ', ',
  );
}

/**
 * Rows strictly after the cursor row in the total order of `keys` (tiebreak included; `values` aligned).
 * after(i) = beyond(k_i, v_i) OR (k_i = v_i AND after(i+1)), with NULL the smallest value.
 * A redundant bound on the first key lets an index range scan start at the cursor.
 */
export function keysetSql(keys: readonly ResolvedKey[], values: readonly (Scalar | null)[], d: DialectSyntax): Sql {
  let condition: Sql = FALSE;
  for (let i = keys.length - 1; i >= 0; i--) {
    const key = keys[i] as ResolvedKey;
    const value = values[i] ?? null;
    condition = i === keys.length - 1 ? beyond(key, value, d) : or([beyond(key, value, d), and([equal(key, value, d), condition])]);
  }
  const first = keys[0];
  const bound = first ? firstKeyBound(first, values[0] ?? null, d) : undefined;
  return bound ? and([bound, condition]) : condition;
}

function beyond({ field, direction }: ResolvedKey, value: Scalar | null, d: DialectSyntax): Sql {
  const e = raw(d.value(field));
  if (direction === 'asc') return value === null ? sql`${e} IS NOT NULL` : sql`${e} > ${d.param(field.kind, value)}`;
  return value === null ? FALSE : sql`(${e} < ${d.param(field.kind, value)} OR ${e} IS NULL)`;
}

function equal({ field }: ResolvedKey, value: Scalar | null, d: DialectSyntax): Sql {
  const e = raw(d.value(field));
  return value === null ? sql`${e} IS NULL` : sql`${e} = ${d.param(field.kind, value)}`;
}

function firstKeyBound({ field, direction }: ResolvedKey, value: Scalar | null, d: DialectSyntax): Sql | undefined {
  const e = raw(d.value(field));
  if (direction === 'asc' && value !== null) return sql`${e} >= ${d.param(field.kind, value)}`;
  if (direction === 'desc' && value === null) return sql`${e} IS NULL`;
  return undefined;
}

/** The canonical text of a sort: `-amount,customer`. */
export function sortText(keys: readonly SortKey[]): string {
  return keys.map((key) => `${key.direction === 'desc' ? '-' : ''}${key.field}`).join(',');
}
