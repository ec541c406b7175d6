import type { DialectSyntax } from './dialects.js';
import { isOrdered } from './fields.js';
import type { CompareOp, FilterNode } from './filter.js';
import { and, FALSE, join, or, raw, type Sql, sql, TRUE } from './sql.js';
import type { QueryField } from './types.js';

const OPERATORS: Readonly<Record<CompareOp, [positive: string, negated: string]>> = {
  eq: ['=', '<>'],
  gt: ['>', '<='],
  gte: ['>=', '<'],
  lt: ['<', '>='],
  lte: ['<=', '>'],
};

/**
 * The filter as an SQL condition. Negations are pushed down to the leaves, and each leaf has an explicit
 * negated form that matches missing fields, so NULLs (missing fields) never leak through a NOT:
 * the result is monotone in SQL's three-valued logic, where WHERE treats NULL as false.
 */
export function filterSql(node: FilterNode, d: DialectSyntax, negated = false): Sql {
  switch (node.kind) {
    case 'and':
    case 'or': {
      const children = node.nodes.map((child) => filterSql(child, d, negated));
      return (node.kind === 'and') !== negated ? and(children) : or(children);
    }
    case 'not':
      return filterSql(node.node, d, !negated);
    case 'compare': {
      const e = raw(d.value(node.field));
      const value = d.param(node.field.kind, node.value);
      const [positive, negative] = OPERATORS[node.op];
      return negated ? sql`(${e} IS NULL OR ${e} ${raw(negative)} ${value})` : sql`${e} ${raw(positive)} ${value}`;
    }
    case 'exists':
      return sql`${raw(presence(node.field, d))} ${raw(node.exists !== negated ? 'IS NOT NULL' : 'IS NULL')}`;
    case 'in':
      return inSql(node, d, negated);
    case 'contains':
    case 'startsWith':
      return textMatch(node, d, negated);
  }
}

/** The expression that is NULL exactly when the field is missing. */
function presence(field: QueryField, d: DialectSyntax): string {
  return isOrdered(field) ? d.value(field) : d.json(field);
}

function inSql(node: Extract<FilterNode, { kind: 'in' }>, d: DialectSyntax, negated: boolean): Sql {
  const e = raw(d.value(node.field));
  const list = join(
    node.values.map((value) => d.param(node.field.kind, value)),
    ', ',
  );
  const missing = sql`${e} IS NULL`;
  const present = sql`${e} IS NOT NULL`;
  if (!negated) {
    const match = node.values.length === 0 ? FALSE : sql`${e} IN (${list})`;
    return node.orMissing ? or([match, missing]) : match;
  }
  const noMatch = node.values.length === 0 ? TRUE : sql`${e} NOT IN (${list})`;
  return node.orMissing ? and([present, noMatch]) : or([missing, noMatch]);
}

function textMatch(node: Extract<FilterNode, { kind: 'contains' | 'startsWith' }>, d: DialectSyntax, negated: boolean): Sql {
  const { field, value } = node;
  let match: Sql;
  if (field.kind === 'array') match = d.arrayHas(field, value);
  else if (node.kind === 'contains') match = d.substring(d.value(field), String(value));
  else match = d.startsWith(d.value(field), String(value));
  return negated ? sql`(${raw(presence(field, d))} IS NULL OR NOT (${match}))` : match;
}
