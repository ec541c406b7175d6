import type { JsonValue } from '../../kernel/index.js';
import type { FilterNode } from './filter.js';

type Data = Readonly<Record<string, JsonValue>>;

/**
 * The filter evaluated on one record in memory, with the semantics of the SQL the query compiler
 * writes (src/documents/query/filter-sql.ts): a condition on a missing field is false and its
 * negation true; values are compared as stored (datetimes normalised, so text order is time order).
 */
export function matches(node: FilterNode, id: string, data: Data): boolean {
  switch (node.kind) {
    case 'and':
      return node.nodes.every((child) => matches(child, id, data));
    case 'or':
      return node.nodes.some((child) => matches(child, id, data));
    case 'not':
      return !matches(node.node, id, data);
    case 'exists':
      return present(value(node.field.name, id, data)) === node.exists;
    case 'compare':
      return compare(value(node.field.name, id, data), node.op, node.value);
    case 'in': {
      const actual = value(node.field.name, id, data);
      if (!present(actual)) return node.orMissing;
      return node.values.some((candidate) => actual === candidate);
    }
    case 'contains': {
      const actual = value(node.field.name, id, data);
      if (Array.isArray(actual)) return actual.some((item) => item === node.value);
      return typeof actual === 'string' && actual.includes(String(node.value));
    }
    case 'startsWith': {
      const actual = value(node.field.name, id, data);
      return typeof actual === 'string' && actual.startsWith(node.value);
    }
  }
}

const value = (field: string, id: string, data: Data): JsonValue | undefined =>
  field === 'id' ? id : Object.hasOwn(data, field) ? data[field] : undefined;

const present = (v: JsonValue | undefined): boolean => v !== undefined && v !== null;

function compare(actual: JsonValue | undefined, op: string, expected: string | number | boolean): boolean {
  if (!present(actual) || typeof actual !== typeof expected) return false;
  const a = actual as string | number | boolean;
  switch (op) {
    case 'eq':
      return a === expected;
    case 'gt':
      return a > expected;
    case 'gte':
      return a >= expected;
    case 'lt':
      return a < expected;
    default:
      return a <= expected;
  }
}
