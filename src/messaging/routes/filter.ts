import type { FieldDefinition } from '../../datamodel/index.js';
import { type FilterNode, matches, parseFilter } from '../../documents/query/index.js';
import { type FieldError, isAppError, type JsonValue } from '../../kernel/index.js';

type Fields = Record<string, FieldDefinition>;

export const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const OPERATORS_ON_VALUE = ['$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$startsWith'];

/** The field definition a filter value implies: messages have no schema, so the filter's own values tell. */
function kindOf(value: unknown, contains = false): FieldDefinition | undefined {
  const type =
    typeof value === 'number' ? 'number' : typeof value === 'boolean' ? 'boolean' : typeof value === 'string' ? 'string' : undefined;
  if (type === undefined) return undefined;
  // `$contains` with a string is a substring test; with a number or boolean, an array element test.
  if (contains && type !== 'string') return { type: 'array', items: { type } };
  return { type };
}

function condition(fields: Fields, name: string, value: unknown): void {
  const note = (definition: FieldDefinition | undefined) => {
    if (definition && !Object.hasOwn(fields, name)) fields[name] = definition;
  };
  if (!isObject(value)) {
    note(kindOf(value));
    return;
  }
  for (const [op, operand] of Object.entries(value)) {
    if (OPERATORS_ON_VALUE.includes(op)) note(kindOf(operand));
    else if ((op === '$in' || op === '$nin') && Array.isArray(operand)) note(kindOf(operand.find((item) => item !== null)));
    else if (op === '$contains') note(kindOf(operand, true));
    else if (op === '$not') condition(fields, name, operand);
  }
  // Only `$exists` (or `null`): any kind will do.
  if (!Object.hasOwn(fields, name)) fields[name] = { type: 'json' };
}

function walk(fields: Fields, document: unknown): void {
  if (!isObject(document)) return;
  for (const [key, value] of Object.entries(document)) {
    if ((key === '$and' || key === '$or') && Array.isArray(value)) for (const item of value) walk(fields, item);
    else if (key === '$not') walk(fields, value);
    else if (!key.startsWith('$')) condition(fields, key, value);
  }
}

/** The fields a filter names, each with the kind its values imply (the first use wins). */
export function inferFields(filter: unknown): Fields {
  const fields: Fields = Object.create(null);
  walk(fields, filter);
  return fields;
}

/**
 * Compiles a filter with the query filter grammar and its validation; problems are reported at
 * `path` (`/body/filter`, `/body/targets/0/when`) instead of `/filter`.
 */
export function compileFilter(filter: unknown, path: string, errors: FieldError[]): FilterNode | undefined {
  if (filter === undefined || filter === null) return undefined;
  try {
    return parseFilter(filter, inferFields(filter));
  } catch (error) {
    if (!isAppError(error, 'validation_failed')) throw error;
    for (const e of error.details.errors ?? []) errors.push({ path: path + e.path.replace(/^\/filter/, ''), message: e.message });
    return undefined;
  }
}

/** A message as it flows through a route's stages. */
export interface Item {
  /** Unique per source message and split element: the seed of every id derived downstream. */
  id: string;
  value: JsonValue;
  /** True while the message is an untouched event envelope (its data is the event's `data`). */
  event: boolean;
}

/** What filters, `when` and command targets look at: the event's data, or the message itself once a stage replaced it. */
export function dataOf(item: Item): Record<string, JsonValue> {
  const value = item.event && isObject(item.value) ? item.value.data : item.value;
  return isObject(value) ? (value as Record<string, JsonValue>) : {};
}

/** The filter applied to the item's data (`id` is the record id of an event, else the data's own `id`). */
export function itemMatches(filter: FilterNode | undefined, item: Item): boolean {
  if (!filter) return true;
  const data = dataOf(item);
  const envelope = isObject(item.value) ? item.value : {};
  const id = item.event ? envelope.recordId : data.id;
  return matches(filter, typeof id === 'string' ? id : '', data);
}
