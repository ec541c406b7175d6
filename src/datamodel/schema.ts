import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { utcMillis } from '../documents/query/fields.js';
import { type FieldError, type JsonValue, RECORD_ID, validationFailed } from '../kernel/index.js';
import type { EntityDefinition, FieldDefinition, FieldType } from './types.js';

const STRING_MAX = 10_000;
const TEXT_MAX = 1_000_000;
const ARRAY_MAX = 10_000;

/** One Ajv per compiled entity: Ajv caches every schema it compiles, so a shared one would grow forever. */
function newAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats.default(ajv, ['date', 'date-time']);
  return ajv;
}

type JsonSchema = Record<string, unknown>;

function typeSchema(type: FieldType, field: Partial<FieldDefinition>): JsonSchema {
  switch (type) {
    case 'string':
      return { type: 'string', maxLength: field.maxLength ?? STRING_MAX, ...pick(field, 'minLength', 'pattern') };
    case 'text':
      return { type: 'string', maxLength: field.maxLength ?? TEXT_MAX, ...pick(field, 'minLength', 'pattern') };
    case 'number':
      return { type: 'number', ...pick(field, 'minimum', 'maximum') };
    case 'integer':
      return { type: 'integer', minimum: field.minimum ?? Number.MIN_SAFE_INTEGER, maximum: field.maximum ?? Number.MAX_SAFE_INTEGER };
    case 'boolean':
      return { type: 'boolean' };
    case 'date':
      return { type: 'string', format: 'date' };
    case 'datetime':
      return { type: 'string', format: 'date-time' };
    case 'enum':
      return { type: 'string', enum: field.values ?? [] };
    case 'json':
      return { not: { type: 'null' } };
    case 'array':
      return { type: 'array', maxItems: field.maxItems ?? ARRAY_MAX, items: typeSchema(field.items?.type ?? 'json', field.items ?? {}) };
    case 'reference':
      return { type: 'string', pattern: RECORD_ID.source };
  }
}

function pick(field: Partial<FieldDefinition>, ...keys: (keyof FieldDefinition)[]): JsonSchema {
  return Object.fromEntries(keys.filter((key) => field[key] !== undefined).map((key) => [key, field[key]]));
}

export function fieldSchema(field: FieldDefinition): JsonSchema {
  return typeSchema(field.type, field);
}

export interface EntityValidators {
  /** A complete record: required fields present, no unknown field. */
  record: ValidateFunction;
  field(name: string): ValidateFunction | undefined;
}

/** Compiled once per entity of a module version (the registry caches them). */
export function compileEntity(entity: EntityDefinition): EntityValidators {
  const properties = Object.fromEntries(Object.entries(entity.fields).map(([name, field]) => [name, fieldSchema(field)]));
  const required = Object.entries(entity.fields)
    .filter(([, field]) => field.required)
    .map(([name]) => name);
  const ajv = newAjv();
  const record = ajv.compile({ type: 'object', properties, required, additionalProperties: false });
  const fields = new Map<string, ValidateFunction>();
  const field = (name: string) => {
    const schema = properties[name];
    if (!schema) return undefined;
    const known = fields.get(name);
    if (known) return known;
    const validate = ajv.compile(schema);
    fields.set(name, validate);
    return validate;
  };
  return { record, field };
}

export function toFieldErrors(errors: ErrorObject[] | null | undefined, prefix: string): FieldError[] {
  return (errors ?? []).map((error) => {
    if (error.keyword === 'required') return { path: `${prefix}/${error.params.missingProperty}`, message: 'is required' };
    if (error.keyword === 'additionalProperties')
      return { path: `${prefix}/${error.params.additionalProperty}`, message: 'is not a field of the entity' };
    return { path: `${prefix}${error.instancePath}`, message: error.message ?? 'is invalid' };
  });
}

/** Datetimes are stored in one form (UTC, milliseconds) so that they compare and sort as text. */
export function normaliseValues(entity: EntityDefinition, data: Record<string, JsonValue>): Record<string, JsonValue> {
  const result: Record<string, JsonValue> = {};
  for (const [name, value] of Object.entries(data)) {
    const field = Object.hasOwn(entity.fields, name) ? entity.fields[name] : undefined;
    if (field?.type === 'datetime' && typeof value === 'string') result[name] = storedTime(value, `/data/${name}`);
    else if (field?.type === 'array' && field.items?.type === 'datetime' && Array.isArray(value)) {
      result[name] = value.map((item, i) => (typeof item === 'string' ? storedTime(item, `/data/${name}/${i}`) : item));
    } else result[name] = value;
  }
  return result;
}

/** The stored form of a datetime; RFC 3339 allows a leap second (`:60`), which no clock here represents: it is refused. */
function storedTime(value: string, path: string): string {
  const stored = utcMillis(value);
  if (stored === undefined)
    throw validationFailed('Invalid datetime', [{ path, message: 'must be an RFC 3339 time without a leap second' }]);
  return stored;
}
