import type { DialectSyntax } from './dialects.js';
import { utcMillis } from './fields.js';
import type { FilterNode } from './filter.js';
import { filterSql } from './filter-sql.js';
import type { Problems } from './problems.js';
import { param, raw, type Sql, sql } from './sql.js';
import type { AsOf, QueryTarget } from './types.js';

/** An as-of with its time normalised to the stored form. */
export type CheckedAsOf = { position: bigint } | { time: string };

const MAX_POSITION = 2n ** 63n - 1n;

/** The table every query reads. */
export const DOCUMENTS_TABLE = 'documents';

/**
 * The documents a target reads: its tenant, module and entity; versions that are not deletions; and the
 * current version (`to_position IS NULL`) or the one valid at the as-of position/time, then the filter.
 */
export function whereSql(target: QueryTarget, filter: FilterNode, asOf: CheckedAsOf | undefined, d: DialectSyntax): Sql {
  const scope = sql`tenant = ${param(target.tenant)} AND module = ${param(target.module)} AND entity = ${param(target.entity)}`;
  return sql`${scope} AND ${raw(d.notDeleted)} AND ${versionSql(asOf, d)} AND ${filterSql(filter, d)}`;
}

function versionSql(asOf: CheckedAsOf | undefined, d: DialectSyntax): Sql {
  if (!asOf) return raw('to_position IS NULL');
  if ('position' in asOf) {
    return sql`from_position <= ${d.position(asOf.position)} AND (to_position IS NULL OR to_position > ${d.position(asOf.position)})`;
  }
  return sql`from_time <= ${d.time(asOf.time)} AND (to_time IS NULL OR to_time > ${d.time(asOf.time)})`;
}

/** Validates an as-of and normalises a time to ISO-8601 UTC with milliseconds (how times are stored). */
export function checkAsOf(asOf: AsOf | undefined, problems: Problems): CheckedAsOf | undefined {
  if (asOf === undefined) return undefined;
  if ('position' in asOf) {
    if (typeof asOf.position === 'bigint' && asOf.position >= 0n && asOf.position <= MAX_POSITION) return { position: asOf.position };
    problems.add('/asOf', 'position must be a non-negative 64-bit integer');
    return undefined;
  }
  const time = asOf.time instanceof Date ? validDate(asOf.time) : typeof asOf.time === 'string' ? utcMillis(asOf.time) : undefined;
  if (time) return { time };
  problems.add('/asOf', 'must be an RFC 3339 time or a position');
  return undefined;
}

function validDate(date: Date): string | undefined {
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}
