import { describe, hasSubstrings, isOrdered, pointer, resolveField, utcMillis } from './fields.js';
import { type Problems, validate } from './problems.js';
import type { EntityFields, QueryField, Scalar, ValueKind } from './types.js';

/** Bounds on a filter document; `values` bounds the bound parameters (SQLite allows 32766, PostgreSQL 65535). */
export const FILTER_LIMITS = { depth: 8, nodes: 100, inValues: 500, values: 2000, stringLength: 1000 } as const;

export type CompareOp = 'eq' | 'gt' | 'gte' | 'lt' | 'lte';

/** A validated filter. `$ne`, `$nin` and `$not` become `not`; `$eq: null` and `$ne: null` become `exists`. */
export type FilterNode =
  | { kind: 'and' | 'or'; nodes: FilterNode[] }
  | { kind: 'not'; node: FilterNode }
  | { kind: 'compare'; field: QueryField; op: CompareOp; value: Scalar }
  | { kind: 'exists'; field: QueryField; exists: boolean }
  | { kind: 'in'; field: QueryField; values: Scalar[]; orMissing: boolean }
  | { kind: 'contains'; field: QueryField; value: Scalar }
  | { kind: 'startsWith'; field: QueryField; value: string };

const COMPARE_OPS: Readonly<Record<string, CompareOp>> = { $gt: 'gt', $gte: 'gte', $lt: 'lt', $lte: 'lte' };
const FIELD_OPS = new Set(['$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$exists', '$contains', '$startsWith', '$not']);

type Json = unknown;

/**
 * Validates a filter document (parsed JSON, or its text) against the entity's fields and returns its tree.
 * Throws validation_failed listing every problem with its JSON-pointer path under `/filter`.
 * `undefined`, `null` and `''` mean "no filter".
 */
export function parseFilter(input: unknown, fields: EntityFields): FilterNode {
  return validate('Invalid filter', (problems) => readFilter(input, fields, problems));
}

/** parseFilter that reports into a shared collector (the result is meaningless if problems were added). */
export function readFilter(input: unknown, fields: EntityFields, problems: Problems): FilterNode {
  const json = typeof input === 'string' ? parseJsonText(input, problems) : input;
  const none: FilterNode = { kind: 'and', nodes: [] };
  if (json === undefined || json === null) return none;
  return new FilterParser(fields, problems).document(json, '/filter', 1) ?? none;
}

function parseJsonText(text: string, problems: Problems): Json {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    problems.add('/filter', 'must be valid JSON');
    return undefined;
  }
}

function isObject(value: Json): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

class FilterParser {
  private nodes = 0;
  private values = 0;

  constructor(
    private readonly fields: EntityFields,
    private readonly problems: Problems,
  ) {}

  /** Counts a node and checks the bounds; false stops descending. */
  private enter(path: string, depth: number): boolean {
    if (depth > FILTER_LIMITS.depth) {
      this.problems.add(path, `nesting deeper than ${FILTER_LIMITS.depth} levels`);
      return false;
    }
    this.nodes += 1;
    if (this.nodes === FILTER_LIMITS.nodes + 1) this.problems.add('/filter', `more than ${FILTER_LIMITS.nodes} conditions`);
    return this.nodes <= FILTER_LIMITS.nodes;
  }

  document(value: Json, path: string, depth: number): FilterNode | undefined {
    if (!isObject(value)) {
      this.problems.add(path, 'must be an object');
      return undefined;
    }
    if (!this.enter(path, depth)) return undefined;
    const nodes = Object.entries(value).map(([key, item]) => this.member(key, item, path + pointer(key), depth));
    return all(nodes, 'and');
  }

  private member(key: string, value: Json, path: string, depth: number): FilterNode | undefined {
    if (key === '$and' || key === '$or') return this.logical(key === '$and' ? 'and' : 'or', value, path, depth);
    if (key === '$not') {
      const node = this.document(value, path, depth + 1);
      return node && { kind: 'not', node };
    }
    if (key.startsWith('$')) return this.fail(path, `unknown operator ${key}`);
    const field = resolveField(key, this.fields);
    if (!field) return this.fail(path, `unknown field ${key}`);
    return this.condition(field, value, path, depth);
  }

  private logical(kind: 'and' | 'or', value: Json, path: string, depth: number): FilterNode | undefined {
    if (!Array.isArray(value) || value.length === 0) return this.fail(path, 'must be a non-empty array of filters');
    return all(
      value.map((item, i) => this.document(item, path + pointer(i), depth + 1)),
      kind,
    );
  }

  /** `field: value` (shorthand for $eq) or `field: { $op: operand, … }` (operators ANDed). */
  private condition(field: QueryField, value: Json, path: string, depth: number): FilterNode | undefined {
    if (!isObject(value)) return this.operator(field, '$eq', value, path, depth);
    const entries = Object.entries(value);
    if (entries.length === 0) return this.fail(path, 'needs at least one operator');
    if (!this.enter(path, depth)) return undefined;
    return all(
      entries.map(([op, operand]) => this.operator(field, op, operand, path + pointer(op), depth)),
      'and',
    );
  }

  private operator(field: QueryField, op: string, operand: Json, path: string, depth: number): FilterNode | undefined {
    if (!FIELD_OPS.has(op))
      return this.fail(path, op.startsWith('$') ? `unknown operator ${op}` : `unknown operator ${op} (nested fields are not supported)`);
    if (!this.enter(path, depth)) return undefined;
    if (op === '$not') {
      const node = this.condition(field, operand, path, depth + 1);
      return node && { kind: 'not', node };
    }
    if (op === '$eq' || op === '$ne') return negateIf(op === '$ne', this.equals(field, operand, path));
    if (op === '$in' || op === '$nin') return negateIf(op === '$nin', this.oneOf(field, operand, path));
    if (op === '$exists') return this.exists(field, operand, path);
    if (op === '$contains') return this.contains(field, operand, path);
    if (op === '$startsWith') return this.startsWith(field, operand, path);
    return this.compare(field, COMPARE_OPS[op] ?? 'eq', operand, path);
  }

  private equals(field: QueryField, operand: Json, path: string): FilterNode | undefined {
    if (operand === null) return { kind: 'exists', field, exists: false };
    if (!isOrdered(field)) return this.fail(path, `applies only to null on ${describe(field)}; use $exists or $contains`);
    const value = this.comparable(field, operand, path);
    return value === undefined ? undefined : { kind: 'compare', field, op: 'eq', value };
  }

  private compare(field: QueryField, op: CompareOp, operand: Json, path: string): FilterNode | undefined {
    if (field.kind !== 'number' && field.kind !== 'text') return this.fail(path, `does not apply to ${describe(field)}`);
    const value = this.comparable(field, operand, path);
    return value === undefined ? undefined : { kind: 'compare', field, op, value };
  }

  private oneOf(field: QueryField, operand: Json, path: string): FilterNode | undefined {
    if (!isOrdered(field)) return this.fail(path, `does not apply to ${describe(field)}`);
    if (!Array.isArray(operand)) return this.fail(path, 'must be an array');
    if (operand.length > FILTER_LIMITS.inValues) return this.fail(path, `more than ${FILTER_LIMITS.inValues} values`);
    const values: Scalar[] = [];
    let valid = true;
    operand.forEach((item, i) => {
      if (item === null) return;
      const value = this.comparable(field, item, path + pointer(i));
      if (value === undefined) valid = false;
      else values.push(value);
    });
    return valid ? { kind: 'in', field, values, orMissing: operand.includes(null) } : undefined;
  }

  private exists(field: QueryField, operand: Json, path: string): FilterNode | undefined {
    if (typeof operand !== 'boolean') return this.fail(path, 'must be true or false');
    return { kind: 'exists', field, exists: operand };
  }

  private contains(field: QueryField, operand: Json, path: string): FilterNode | undefined {
    const itemKind = hasSubstrings(field) ? 'text' : field.kind === 'array' ? field.items : undefined;
    if (itemKind !== 'text' && itemKind !== 'number' && itemKind !== 'boolean') {
      return this.fail(path, `does not apply to ${describe(field)}${field.kind === 'array' ? ' of this item type' : ''}`);
    }
    const value = this.scalar(itemKind, operand, path);
    return value === undefined ? undefined : { kind: 'contains', field, value };
  }

  private startsWith(field: QueryField, operand: Json, path: string): FilterNode | undefined {
    if (field.kind !== 'text') return this.fail(path, `does not apply to ${describe(field)}`);
    const value = this.scalar('text', operand, path);
    return typeof value === 'string' ? { kind: 'startsWith', field, value } : undefined;
  }

  /**
   * A value to compare the field with. Datetimes are stored normalised (UTC, milliseconds:
   * 2024-01-01T00:00:00.000Z), so comparison values are normalised too and compare by instant;
   * a date alone means midnight UTC.
   */
  private comparable(field: QueryField, value: Json, path: string): Scalar | undefined {
    const scalar = this.scalar(field.kind, value, path);
    if (field.type !== 'datetime' || typeof scalar !== 'string') return scalar;
    return utcMillis(scalar) ?? this.fail(path, 'must be an RFC 3339 date-time');
  }

  /** A comparison value of the given kind, or undefined after reporting why not. */
  private scalar(kind: ValueKind, value: Json, path: string): Scalar | undefined {
    this.values += 1;
    if (this.values === FILTER_LIMITS.values + 1) this.problems.add('/filter', `more than ${FILTER_LIMITS.values} values`);
    if (kind === 'number') return typeof value === 'number' && Number.isFinite(value) ? value : this.fail(path, 'must be a number');
    if (kind === 'boolean') return typeof value === 'boolean' ? value : this.fail(path, 'must be true or false');
    if (typeof value !== 'string') return this.fail(path, 'must be a string');
    if (value.length > FILTER_LIMITS.stringLength) return this.fail(path, `longer than ${FILTER_LIMITS.stringLength} characters`);
    if (value.includes('\u0000') || !value.isWellFormed()) return this.fail(path, 'must not contain NUL characters or lone surrogates');
    return value;
  }

  private fail(path: string, message: string): undefined {
    this.problems.add(path, message);
    return undefined;
  }
}

function all(nodes: (FilterNode | undefined)[], kind: 'and' | 'or'): FilterNode | undefined {
  const valid = nodes.filter((node): node is FilterNode => node !== undefined);
  if (valid.length !== nodes.length) return undefined;
  return valid.length === 1 && valid[0] ? valid[0] : { kind, nodes: valid };
}

function negateIf(negate: boolean, node: FilterNode | undefined): FilterNode | undefined {
  return node && negate ? { kind: 'not', node } : node;
}
