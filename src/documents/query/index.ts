/**
 * Query compiler for entity documents: filter, sort, keyset pagination, field selection, as-of and
 * aggregates, compiled to parameterised SQL for SQLite and PostgreSQL over the `documents` table.
 * Pure: no I/O. See README.md in this folder for the semantics.
 */
export { compileAggregateQuery, MAX_GROUPS, parseGroupBy, parseMeasures, readAggregateRows } from './aggregate.js';
export { decodeCursor, encodeCursor } from './cursor.js';
export { FILTER_LIMITS, type FilterNode, parseFilter } from './filter.js';
export { createIndexSql, type IndexTarget, indexExpression } from './indexes.js';
export { compileListQuery, decodeDocumentRow, MAX_LIMIT, readListPage } from './list.js';
export { matches } from './matches.js';
export { parseSelect } from './select.js';
export { MAX_SORT_KEYS, parseSort } from './sort.js';
export type * from './types.js';
