import { pointer, resolveField } from './fields.js';
import { listItems, type Problems, validate } from './problems.js';
import type { EntityFields } from './types.js';

/**
 * Parses `customer,amount` into the data fields to return; undefined or '' → undefined (all fields).
 * `id` is accepted and ignored: the record id is always returned.
 */
export function parseSelect(text: string | undefined, fields: EntityFields): string[] | undefined {
  const names = listItems(text);
  if (names.length === 0) return undefined;
  return validate('Invalid fields', (problems) => resolveSelect(names, fields, problems));
}

/** The distinct data fields named, each checked against the entity. */
export function resolveSelect(names: readonly string[], fields: EntityFields, problems: Problems): string[] {
  const selected = new Set<string>();
  names.forEach((name, i) => {
    if (!resolveField(name, fields)) problems.add(`/fields${pointer(i)}`, name === '' ? 'empty field name' : `unknown field ${name}`);
    else if (name !== 'id') selected.add(name);
  });
  return [...selected];
}
