// An in-memory model of the query semantics, written from the specification (not from the compiler):
// filters evaluate the raw filter JSON, strings compare in UTF-8 byte order, missing values are the smallest.
import type { EntityFields, Measure, SortKey } from '../../src/documents/query/index.js';

export interface RefDocument {
  id: string;
  data: Record<string, unknown>;
}

type Value = unknown;
type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

function fieldValue(doc: RefDocument, name: string): Value {
  return name === 'id' ? doc.id : doc.data[name];
}

/** Total order on present scalars: numbers numerically, strings by UTF-8 bytes, false < true. */
export function compareValues(a: Value, b: Value): number {
  if (a === undefined || a === null) return b === undefined || b === null ? 0 : -1;
  if (b === undefined || b === null) return 1;
  if (typeof a === 'string' && typeof b === 'string') return Buffer.compare(Buffer.from(a), Buffer.from(b));
  return a < b ? -1 : a > b ? 1 : 0;
}

export function matches(filter: Json, doc: RefDocument): boolean {
  return Object.entries(filter).every(([key, operand]) => {
    if (key === '$and') return (operand as Json[]).every((item) => matches(item, doc));
    if (key === '$or') return (operand as Json[]).some((item) => matches(item, doc));
    if (key === '$not') return !matches(operand as Json, doc);
    return condition(fieldValue(doc, key), operand, key);
  });
}

function condition(value: Value, operand: Value, field: string): boolean {
  if (!isObject(operand)) return operator(value, '$eq', operand, field);
  return Object.entries(operand).every(([op, argument]) => operator(value, op, argument, field));
}

/** Datetimes compare by instant: stored values are UTC milliseconds, operands may use any offset. */
function instant(field: string, op: string, argument: Value): Value {
  if (FIELDS[field]?.type !== 'datetime' || op === '$startsWith') return argument;
  if (Array.isArray(argument)) return argument.map((item) => instant(field, op, item));
  return typeof argument === 'string' ? new Date(argument).toISOString() : argument;
}

function operator(value: Value, op: string, operand: Value, field: string): boolean {
  const present = value !== undefined;
  const argument = instant(field, op, operand);
  switch (op) {
    case '$eq':
      return argument === null ? !present : present && compareValues(value, argument) === 0;
    case '$ne':
      return !operator(value, '$eq', argument, field);
    case '$gt':
      return present && compareValues(value, argument) > 0;
    case '$gte':
      return present && compareValues(value, argument) >= 0;
    case '$lt':
      return present && compareValues(value, argument) < 0;
    case '$lte':
      return present && compareValues(value, argument) <= 0;
    case '$in':
      return (argument as Value[]).some((item) => operator(value, '$eq', item, field));
    case '$nin':
      return !operator(value, '$in', argument, field);
    case '$exists':
      return present === argument;
    case '$contains':
      return Array.isArray(value) ? value.includes(argument) : typeof value === 'string' && value.includes(argument as string);
    case '$startsWith':
      return typeof value === 'string' && value.startsWith(argument as string);
    case '$not':
      return !condition(value, argument, field);
    default:
      throw new Error(`reference: unknown operator ${op}`);
  }
}

/** The sort order plus the tiebreak on id. */
export function compareDocuments(sort: readonly SortKey[]): (a: RefDocument, b: RefDocument) => number {
  return (a, b) => {
    for (const { field, direction } of sort) {
      const order = compareValues(fieldValue(a, field), fieldValue(b, field));
      if (order !== 0) return direction === 'asc' ? order : -order;
    }
    return compareValues(a.id, b.id);
  };
}

export function referenceList(docs: readonly RefDocument[], filter: Json, sort: readonly SortKey[]): RefDocument[] {
  return docs.filter((doc) => matches(filter, doc)).sort(compareDocuments(sort));
}

export function project(data: Record<string, unknown>, select: readonly string[] | undefined): Record<string, unknown> {
  if (!select) return data;
  return Object.fromEntries(Object.entries(data).filter(([key]) => select.includes(key)));
}

export interface RefGroup {
  key: Record<string, unknown>;
  [measure: string]: unknown;
}

export function referenceAggregate(
  docs: readonly RefDocument[],
  filter: Json,
  groupBy: readonly string[],
  measures: readonly Measure[],
): RefGroup[] {
  const groups = new Map<string, RefDocument[]>();
  for (const doc of docs.filter((item) => matches(filter, item))) {
    const key = JSON.stringify(groupBy.map((name) => fieldValue(doc, name) ?? null));
    groups.set(key, [...(groups.get(key) ?? []), doc]);
  }
  if (groupBy.length === 0 && groups.size === 0) groups.set('[]', []);
  const sortKeys = groupBy.map((field) => ({ field, direction: 'asc' as const }));
  return [...groups.values()]
    .sort((a, b) => compareDocuments(sortKeys)(a[0] ?? { id: '', data: {} }, b[0] ?? { id: '', data: {} }))
    .map((members) => group(members, groupBy, measures));
}

function group(members: RefDocument[], groupBy: readonly string[], measures: readonly Measure[]): RefGroup {
  const first = members[0];
  const result: RefGroup = { key: Object.fromEntries(groupBy.map((name) => [name, first ? (fieldValue(first, name) ?? null) : null])) };
  for (const { fn, field } of measures) {
    const values = field === undefined ? [] : members.map((doc) => fieldValue(doc, field)).filter((value) => value !== undefined);
    result[field === undefined ? fn : `${fn}_${field}`] = measure(fn, values, members.length);
  }
  return result;
}

function measure(fn: Measure['fn'], values: Value[], count: number): unknown {
  if (fn === 'count') return count;
  if (values.length === 0) return null;
  const sum = (values as number[]).reduce((total, value) => total + value, 0);
  if (fn === 'sum') return sum;
  if (fn === 'avg') return sum / values.length;
  const sorted = [...values].sort(compareValues);
  return fn === 'min' ? sorted[0] : sorted.at(-1);
}

/** Fields of every scalar type, plus arrays and json, used by the property tests. */
export const FIELDS: EntityFields = {
  s: { type: 'string' },
  t: { type: 'text' },
  n: { type: 'number' },
  i: { type: 'integer' },
  b: { type: 'boolean' },
  e: { type: 'enum', values: ['red', 'green', 'blue'] },
  d: { type: 'date' },
  dt: { type: 'datetime' },
  r: { type: 'reference', entity: 'crm.customer' },
  tags: { type: 'array', items: { type: 'string' } },
  nums: { type: 'array', items: { type: 'number' } },
  j: { type: 'json' },
};
