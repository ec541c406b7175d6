import { TENANT_ID } from '../kernel/index.js';
import { FIELD_TYPES, type FieldDefinition, NAME, NUMERIC_TYPES, TEXT_TYPES } from './types.js';

export const DEFINITION_LIMITS = { entities: 100, fieldsPerEntity: 200, commandsPerEntity: 50, indexesPerEntity: 20, enumValues: 500 };
const EVENT_NAME = /^[A-Z][A-Za-z0-9]{0,99}$/;
const REFERENCE = /^[a-z][a-zA-Z0-9_]{0,62}\.[a-z][a-zA-Z0-9_]{0,62}$/;
const FIELD_KEYS = [
  'type',
  'required',
  'default',
  'minLength',
  'maxLength',
  'pattern',
  'minimum',
  'maximum',
  'values',
  'items',
  'maxItems',
  'entity',
  'title',
  'description',
];

type Issue = { path: string; message: string };

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Structural and semantic checks of a module definition; returns every problem with its path. */
export function checkModuleDefinition(input: unknown): Issue[] {
  if (!isObject(input)) return [{ path: '', message: 'must be an object' }];
  const issues: Issue[] = [];
  for (const key of Object.keys(input))
    if (!['title', 'entities', 'migrations'].includes(key)) issues.push({ path: `/${key}`, message: 'is not a known property' });
  if (input.title !== undefined && (typeof input.title !== 'string' || input.title.length > 200))
    issues.push({ path: '/title', message: 'must be a string of at most 200 characters' });
  if (!isObject(input.entities)) return [...issues, { path: '/entities', message: 'must be an object' }];
  const entities = Object.entries(input.entities);
  if (entities.length > DEFINITION_LIMITS.entities)
    issues.push({ path: '/entities', message: `at most ${DEFINITION_LIMITS.entities} entities` });
  for (const [name, entity] of entities) issues.push(...checkEntity(name, entity, `/entities/${name}`));
  if (input.migrations !== undefined && !Array.isArray(input.migrations)) issues.push({ path: '/migrations', message: 'must be an array' });
  return issues;
}

function checkEntity(name: string, entity: unknown, path: string): Issue[] {
  if (!NAME.test(name)) return [{ path, message: `entity name must match ${NAME.source}` }];
  if (!isObject(entity)) return [{ path, message: 'must be an object' }];
  const issues: Issue[] = [];
  for (const key of Object.keys(entity))
    if (!['fields', 'indexes', 'commands', 'sharedWith', 'title'].includes(key))
      issues.push({ path: `${path}/${key}`, message: 'is not a known property' });
  if (!isObject(entity.fields)) return [...issues, { path: `${path}/fields`, message: 'must be an object' }];
  const fields = entity.fields as Record<string, unknown>;
  if (Object.keys(fields).length > DEFINITION_LIMITS.fieldsPerEntity)
    issues.push({ path: `${path}/fields`, message: `at most ${DEFINITION_LIMITS.fieldsPerEntity} fields` });
  for (const [field, definition] of Object.entries(fields)) issues.push(...checkField(field, definition, `${path}/fields/${field}`));
  issues.push(...checkIndexes(entity.indexes, fields, `${path}/indexes`));
  issues.push(...checkCommands(entity.commands, fields, `${path}/commands`, eventPrefix(name)));
  if (entity.sharedWith !== undefined && (typeof entity.sharedWith !== 'string' || !TENANT_ID.test(entity.sharedWith))) {
    issues.push({ path: `${path}/sharedWith`, message: 'must be a tenant group id' });
  }
  return issues;
}

function checkField(name: string, field: unknown, path: string): Issue[] {
  if (!NAME.test(name) || name === 'id') return [{ path, message: `field name must match ${NAME.source} and not be "id"` }];
  if (!isObject(field)) return [{ path, message: 'must be an object' }];
  const issues: Issue[] = [];
  for (const key of Object.keys(field))
    if (!FIELD_KEYS.includes(key)) issues.push({ path: `${path}/${key}`, message: 'is not a known property' });
  if (!FIELD_TYPES.includes(field.type as never))
    return [...issues, { path: `${path}/type`, message: `must be one of ${FIELD_TYPES.join(', ')}` }];
  const type = field.type as FieldDefinition['type'];
  const need = (ok: boolean, key: string, message: string) => {
    if (!ok) issues.push({ path: `${path}/${key}`, message });
  };
  const nonNegativeInteger = (value: unknown) => value === undefined || (Number.isInteger(value) && (value as number) >= 0);
  need(field.required === undefined || typeof field.required === 'boolean', 'required', 'must be a boolean');
  for (const key of ['minLength', 'maxLength', 'maxItems'] as const)
    need(nonNegativeInteger(field[key]), key, 'must be a non-negative integer');
  need(field.minimum === undefined || typeof field.minimum === 'number', 'minimum', 'must be a number');
  need(field.maximum === undefined || typeof field.maximum === 'number', 'maximum', 'must be a number');
  if (field.pattern !== undefined)
    need(typeof field.pattern === 'string' && isRegExp(field.pattern), 'pattern', 'must be a valid regular expression');
  if (type === 'enum')
    need(isValueList(field.values), 'values', `an enum needs 1 to ${DEFINITION_LIMITS.enumValues} distinct string values`);
  if (type === 'reference')
    need(typeof field.entity === 'string' && REFERENCE.test(field.entity), 'entity', 'must name "<module>.<entity>"');
  if (type === 'array') issues.push(...checkItems(field.items, `${path}/items`));
  return issues;
}

/** Items are checked like a field (same options), except that they cannot be arrays or required. */
function checkItems(items: unknown, path: string): Issue[] {
  if (!isObject(items) || items.type === 'array' || items.required !== undefined || items.default !== undefined) {
    return [{ path, message: 'must be a field definition { "type", … } other than array, without required or default' }];
  }
  return checkField('items', items, path);
}

function checkIndexes(indexes: unknown, fields: Record<string, unknown>, path: string): Issue[] {
  if (indexes === undefined) return [];
  if (!Array.isArray(indexes) || indexes.length > DEFINITION_LIMITS.indexesPerEntity)
    return [{ path, message: `must be a list of at most ${DEFINITION_LIMITS.indexesPerEntity} field names` }];
  return indexes.flatMap((field, i) => {
    const type = (fields[field as string] as { type?: string } | undefined)?.type;
    const indexable = type !== undefined && (NUMERIC_TYPES.has(type as never) || TEXT_TYPES.has(type as never) || type === 'boolean');
    return indexable ? [] : [{ path: `${path}/${i}`, message: 'must name a scalar field of the entity' }];
  });
}

function checkCommands(commands: unknown, fields: Record<string, unknown>, path: string, prefix: string): Issue[] {
  if (commands === undefined) return [];
  const lifecycle = ['Created', 'Updated', 'Deleted'].map((suffix) => `${prefix}${suffix}`);
  if (!isObject(commands)) return [{ path, message: 'must be an object' }];
  if (Object.keys(commands).length > DEFINITION_LIMITS.commandsPerEntity)
    return [{ path, message: `at most ${DEFINITION_LIMITS.commandsPerEntity} commands` }];
  const issues: Issue[] = [];
  for (const [name, command] of Object.entries(commands)) {
    const at = `${path}/${name}`;
    if (!NAME.test(name) || ['create', 'update', 'delete', 'history'].includes(name))
      issues.push({ path: at, message: 'command name must match the naming rule and not be create, update, delete or history' });
    if (!isObject(command)) {
      issues.push({ path: at, message: 'must be an object' });
      continue;
    }
    if (typeof command.emits === 'string' && lifecycle.includes(command.emits))
      issues.push({ path: `${at}/emits`, message: 'must not be the entity’s own Created, Updated or Deleted event' });
    if (typeof command.emits !== 'string' || !EVENT_NAME.test(command.emits))
      issues.push({ path: `${at}/emits`, message: `must match ${EVENT_NAME.source}` });
    for (const part of ['from', 'set'] as const) {
      const values = command[part];
      if (values === undefined) continue;
      if (!isObject(values)) issues.push({ path: `${at}/${part}`, message: 'must be an object of field values' });
      else
        for (const field of Object.keys(values))
          if (!Object.hasOwn(fields, field)) issues.push({ path: `${at}/${part}/${field}`, message: 'is not a field of the entity' });
    }
  }
  return issues;
}

function isValueList(values: unknown): boolean {
  return (
    Array.isArray(values) &&
    values.length > 0 &&
    values.length <= DEFINITION_LIMITS.enumValues &&
    values.every((v) => typeof v === 'string') &&
    new Set(values).size === values.length
  );
}

function isRegExp(pattern: string): boolean {
  try {
    new RegExp(pattern, 'u');
    return pattern.length <= 500;
  } catch {
    return false;
  }
}

/** `order` → `Order`: the prefix of an entity's event types. */
export function eventPrefix(entity: string): string {
  return entity.charAt(0).toUpperCase() + entity.slice(1);
}
