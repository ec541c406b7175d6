import { type FieldType, NAME, NUMERIC_TYPES, TEXT_TYPES } from '../../datamodel/types.js';
import type { EntityFields, QueryField, ValueKind } from './types.js';

/** The record id, filterable and sortable like a text field. It takes precedence over a data field named `id`. */
export const ID_FIELD: QueryField = { name: 'id', type: 'id', kind: 'text' };

export function kindOf(type: FieldType): ValueKind {
  if (NUMERIC_TYPES.has(type)) return 'number';
  if (TEXT_TYPES.has(type)) return 'text';
  if (type === 'boolean') return 'boolean';
  return type === 'array' ? 'array' : 'json';
}

/**
 * The field a query names, or undefined when the entity has no such field. Names that are not valid
 * field names (NAME) are never resolved, so every name that reaches SQL text is a plain identifier.
 */
export function resolveField(name: string, fields: EntityFields): QueryField | undefined {
  if (name === 'id') return ID_FIELD;
  if (!NAME.test(name) || !Object.hasOwn(fields, name)) return undefined;
  const definition = fields[name];
  if (!definition) return undefined;
  const field: QueryField = { name, type: definition.type, kind: kindOf(definition.type) };
  if (definition.type === 'array') field.items = definition.items ? kindOf(definition.items.type) : 'json';
  return field;
}

/** Number, text and boolean fields compare, sort and group. */
export function isOrdered(field: QueryField): boolean {
  return field.kind === 'number' || field.kind === 'text' || field.kind === 'boolean';
}

/** Substring `$contains` applies to these types; on arrays `$contains` means "has an element equal to". */
export function hasSubstrings(field: QueryField): boolean {
  return field.type === 'string' || field.type === 'text';
}

export function describe(field: QueryField): string {
  if (field.type === 'id') return 'the record id';
  return `${/^[aeiou]/.test(field.type) ? 'an' : 'a'} ${field.type} field`;
}

/** JSON pointer segment (RFC 6901) for error paths. */
export function pointer(segment: string | number): string {
  return `/${String(segment).replaceAll('~', '~0').replaceAll('/', '~1')}`;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2}))?$/;

/** An RFC 3339 date-time (or a date: midnight UTC) in the stored form 'YYYY-MM-DDTHH:MM:SS.sssZ'. */
export function utcMillis(text: string): string | undefined {
  const time = RFC3339.test(text) ? Date.parse(text) : Number.NaN;
  return Number.isNaN(time) ? undefined : new Date(time).toISOString();
}
