import type { AsOf, DocumentStore } from '../documents/port.js';
import { utcMillis } from '../documents/query/fields.js';
import { type DocumentRow, type EntityFields, parseFilter } from '../documents/query/index.js';
import { authorize } from '../http/index.js';
import { type Access, AppError, isAppError, type JsonValue, type Principal } from '../kernel/index.js';
import { type EntityModel, type RecordData, sameJson, withDefaults } from './decider.js';
import type { RecordView, WriteOptions } from './records.js';
import type { ModuleRegistry } from './registry.js';

export type EntityScope = { tenant: string; module: string; entity: string };

/** The resource a role names to grant actions on an entity's records. */
export const entityResource = (scope: { module: string; entity: string }) => `${scope.module}.${scope.entity}`;

/** Writes without If-Match by a row-limited caller are checked again at most this many times after losing a race. */
const CHECKED_WRITE_RETRIES = 5;

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** What one request may do with one entity's records, once its action is authorized. */
export interface EntityGuard {
  readonly access: Access;
  /** The data without the hidden fields (the same object when nothing is hidden). */
  strip<T>(data: T): T;
  /** `forbidden` when `names` (fields a request parameter names) include a hidden field: probing leaks nothing. */
  refuseHidden(names: Iterable<string>, parameter: string): void;
  /** The caller's filter limited to the rows it may see. */
  filter(requested: unknown): unknown;
  /** `not_found` (as if absent) unless the record, now or as of `asOf`, is one of the rows the caller may see. */
  requireVisible(id: string, asOf?: AsOf, message?: string): Promise<DocumentRow | undefined>;
  /** `forbidden` unless a record with this data (`created`: a new one, defaults applied) stays within the caller's rows. */
  requireWritable(data: RecordData, id: string | undefined, created?: boolean): void;
  /** Runs a write of a visible record, pinned to the version that was checked. */
  write(
    id: string,
    options: WriteOptions,
    run: (options: WriteOptions) => Promise<RecordView>,
    check?: (data: RecordData) => void,
  ): Promise<RecordView>;
}

export type AccessGuards = ReturnType<typeof createAccessGuards>;

export function createAccessGuards(deps: { documents: DocumentStore; registry: ModuleRegistry }) {
  return {
    /** Authorizes the action on the entity (`forbidden`) and returns what the access allows. */
    async forEntity(principal: Principal, scope: EntityScope, action: string): Promise<EntityGuard> {
      const access = authorize(principal, entityResource(scope), action);
      if (access.where === undefined && access.hiddenFields.length === 0) return unrestricted(access);
      const { entity } = await deps.registry.entity(scope.tenant, scope.module, scope.entity);
      if (access.where !== undefined && !whereApplies(access.where, entity.definition.fields)) throw notApplicable(scope);
      return restricted(deps.documents, scope, entity, access);
    },
  };
}

function unrestricted(access: Access): EntityGuard {
  return {
    access,
    strip: (data) => data,
    refuseHidden: () => {},
    filter: (requested) => requested,
    requireVisible: async () => undefined,
    requireWritable: () => {},
    write: (_id, options, run) => run(options),
  };
}

function restricted(documents: DocumentStore, scope: EntityScope, entity: EntityModel, access: Access): EntityGuard {
  const fields = entity.definition.fields;
  const { where, hiddenFields } = access;
  const guard: EntityGuard = {
    access,
    strip: (data) => withoutFields(data, hiddenFields),
    refuseHidden(names, parameter) {
      const hidden = [...new Set(names)].filter((name) => hiddenFields.includes(name));
      if (hidden.length > 0) throw new AppError('forbidden', `${parameter} names fields your roles hide: ${hidden.join(', ')}`);
    },
    filter(requested) {
      if (where === undefined) return requested;
      if (requested === undefined || requested === null || requested === '') return where;
      parseFilter(requested, fields); // its own problems keep their paths under /filter
      return { $and: [requested, where] };
    },
    async requireVisible(id, asOf, message = `No record with id ${id}`) {
      if (where === undefined) return undefined;
      const row = await visibleRow(documents, { ...scope, fields }, where, id, asOf);
      if (!row) throw new AppError('not_found', message);
      return row;
    },
    requireWritable(data, id, created = false) {
      if (where === undefined) return;
      const candidate = created ? (withDefaults(entity.definition, data) as RecordData) : data;
      const value = (field: string) => (field === 'id' ? id : Object.hasOwn(candidate, field) ? candidate[field] : undefined);
      if (!meetsEqualities(where, value, fields)) throw new AppError('forbidden', 'Your roles do not allow a record with these values');
    },
    async write(id, options, run, check) {
      if (where === undefined) return run(options);
      const message = `No ${scope.entity} with this id`;
      for (let attempt = 0; ; attempt += 1) {
        const row = (await guard.requireVisible(id, undefined, message)) as DocumentRow;
        check?.(row.data as RecordData);
        if (options.expectedVersion !== undefined && options.expectedVersion !== row.version)
          throw new AppError('version_conflict', `The record is at version ${row.version}`, { actual: row.version });
        try {
          return await run({ ...options, expectedVersion: row.version });
        } catch (error) {
          const retry = options.expectedVersion === undefined && attempt < CHECKED_WRITE_RETRIES && isAppError(error, 'version_conflict');
          if (!retry) throw error;
        }
      }
    },
  };
  return guard;
}

/** The record's document (now or as of) when it matches `where`; ids are a filterable pseudo-field. */
export async function visibleRow(
  documents: DocumentStore,
  target: EntityScope & { fields: EntityFields },
  where: JsonValue,
  id: string,
  asOf?: AsOf,
): Promise<DocumentRow | undefined> {
  const filter = { $and: [where, { id: { $eq: id } }] };
  const page = await documents.list({ ...target, filter, limit: 1, ...(asOf ? { asOf } : {}) });
  return page.items[0];
}

/** Whether a role's `where` is a valid filter over this entity's fields (if not, it grants nothing on it). */
export function whereApplies(where: JsonValue, fields: EntityFields): boolean {
  try {
    parseFilter(where, fields);
    return true;
  } catch (error) {
    if (isAppError(error, 'validation_failed')) return false;
    throw error;
  }
}

function notApplicable(scope: EntityScope): AppError {
  return new AppError('forbidden', `Your roles limit ${entityResource(scope)} by a filter that does not fit its fields`);
}

export function withoutFields<T>(data: T, hidden: readonly string[]): T {
  if (hidden.length === 0 || !isObject(data)) return data;
  return Object.fromEntries(Object.entries(data).filter(([key]) => !hidden.includes(key))) as T;
}

/** The field names a filter document mentions, at any depth (what it would let a caller probe). */
export function filterFields(filter: unknown): string[] {
  if (!isObject(filter)) return [];
  return Object.entries(filter).flatMap(([key, operand]) => {
    if (key === '$and' || key === '$or') return Array.isArray(operand) ? operand.flatMap(filterFields) : [];
    if (key === '$not') return filterFields(operand);
    return key.startsWith('$') ? [] : [key];
  });
}

/**
 * The part of `where` a write is checked against before anything is written: the equalities (`field: value`,
 * `$eq`, `$in`), through `$and` and `$or`. Other operators (`$gt`, `$not`, …) are not enforced on writes.
 */
export function meetsEqualities(where: unknown, value: (field: string) => JsonValue | undefined, fields: EntityFields): boolean {
  if (!isObject(where)) return true;
  return Object.entries(where).every(([key, operand]) => {
    if (key === '$and') return Array.isArray(operand) && operand.every((item) => meetsEqualities(item, value, fields));
    if (key === '$or') return Array.isArray(operand) && operand.some((item) => meetsEqualities(item, value, fields));
    if (key.startsWith('$')) return true;
    const actual = value(key);
    const same = (expected: unknown) => equalValues(actual, expected, fields[key]?.type === 'datetime');
    if (!isObject(operand)) return same(operand);
    if (Object.hasOwn(operand, '$eq') && !same(operand.$eq)) return false;
    return !Object.hasOwn(operand, '$in') || (Array.isArray(operand.$in) && operand.$in.some(same));
  });
}

function equalValues(actual: JsonValue | undefined, expected: unknown, datetime: boolean): boolean {
  if (expected === null) return actual === undefined || actual === null;
  if (datetime && typeof actual === 'string' && typeof expected === 'string') return utcMillis(actual) === utcMillis(expected);
  return actual !== undefined && sameJson(actual, expected as JsonValue);
}
