import type { FieldDefinition } from '../../datamodel/index.js';
import { FILTER_LIMITS, type FilterNode, matches, parseFilter } from '../../documents/query/index.js';
import { type FieldError, isAppError, type JsonValue } from '../../kernel/index.js';

type Json = unknown;
type Kinds = Set<'string' | 'number' | 'boolean' | 'containsNumber' | 'containsBoolean'>;

const NAME = /^[a-z][a-zA-Z0-9_]{0,62}$/;
const isObject = (value: Json): value is Record<string, Json> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * A filter on event data, which has no declared fields: each field the filter names gets the kind of
 * the values it is compared with (a number → number, true/false → boolean, else string; `$contains` of a
 * number or boolean → an array of them), then the query grammar's own parser checks it. Evaluated in
 * memory with the semantics of queries (`matches`); `id` is the event's record id.
 */
export function parseEventFilter(filter: Json): { node: FilterNode } | { errors: FieldError[] } {
  try {
    return { node: parseFilter(filter, inferFields(filter)) };
  } catch (error) {
    if (!isAppError(error, 'validation_failed')) throw error;
    return { errors: (error.details.errors ?? []).map((e) => ({ path: `/body${e.path}`, message: e.message })) };
  }
}

export function eventMatches(node: FilterNode, recordId: string, data: JsonValue): boolean {
  const fields = isObject(data) ? (data as Readonly<Record<string, JsonValue>>) : {};
  return matches(node, recordId, fields);
}

/** The field set a filter implies (fields the parser will then check it against). */
export function inferFields(filter: Json): Record<string, FieldDefinition> {
  const kinds = new Map<string, Kinds>();
  visitDocument(filter, kinds, 1);
  const fields: Record<string, FieldDefinition> = {};
  for (const [name, found] of kinds) fields[name] = fieldOf(found);
  return fields;
}

function fieldOf(kinds: Kinds): FieldDefinition {
  if (kinds.has('containsNumber')) return { type: 'array', items: { type: 'number' } };
  if (kinds.has('containsBoolean')) return { type: 'array', items: { type: 'boolean' } };
  if (kinds.has('number')) return { type: 'number' };
  if (kinds.has('boolean')) return { type: 'boolean' };
  return { type: 'string' };
}

function visitDocument(value: Json, kinds: Map<string, Kinds>, depth: number): void {
  if (!isObject(value) || depth > FILTER_LIMITS.depth) return;
  for (const [key, item] of Object.entries(value)) {
    if (key === '$and' || key === '$or') {
      if (Array.isArray(item)) for (const child of item) visitDocument(child, kinds, depth + 1);
    } else if (key === '$not') visitDocument(item, kinds, depth + 1);
    else if (NAME.test(key)) {
      const found = kinds.get(key) ?? new Set();
      kinds.set(key, found);
      visitCondition(item, found, depth);
    }
  }
}

/** `field: value` or `field: { $op: operand, … }`. */
function visitCondition(value: Json, kinds: Kinds, depth: number): void {
  if (!isObject(value)) {
    addKind(value, kinds);
    return;
  }
  if (depth > FILTER_LIMITS.depth) return;
  for (const [op, operand] of Object.entries(value)) {
    if (op === '$not') visitCondition(operand, kinds, depth + 1);
    else if (op === '$in' || op === '$nin') {
      if (Array.isArray(operand)) for (const item of operand) addKind(item, kinds);
    } else if (op === '$contains') {
      if (typeof operand === 'number') kinds.add('containsNumber');
      else if (typeof operand === 'boolean') kinds.add('containsBoolean');
    } else if (op !== '$exists') addKind(operand, kinds);
  }
}

function addKind(value: Json, kinds: Kinds): void {
  if (typeof value === 'number') kinds.add('number');
  else if (typeof value === 'boolean') kinds.add('boolean');
  else if (typeof value === 'string') kinds.add('string');
}
