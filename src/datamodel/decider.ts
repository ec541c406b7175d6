import { AppError, type FieldError, type JsonValue, validationFailed } from '../kernel/index.js';
import { eventPrefix } from './definition.js';
import { type EntityValidators, normaliseValues, toFieldErrors } from './schema.js';
import type { EntityDefinition } from './types.js';

export type RecordData = Record<string, JsonValue>;

export type RecordState =
  | { status: 'absent'; version: 0 }
  | { status: 'active'; version: number; data: RecordData }
  | { status: 'deleted'; version: number; data: RecordData };

export type RecordCommand =
  | { kind: 'create'; data: unknown }
  | { kind: 'update'; patch: unknown }
  | { kind: 'delete' }
  | { kind: 'run'; command: string };

export interface RecordEvent {
  type: string;
  data: RecordData;
}

export interface EntityModel {
  name: string;
  definition: EntityDefinition;
  validators: EntityValidators;
}

export const initialState: RecordState = { status: 'absent', version: 0 };

const isObject = (value: unknown): value is Record<string, JsonValue> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The rules of a record, without I/O: which events a command produces in a state (or why it cannot). */
export function decide(command: RecordCommand, state: RecordState, entity: EntityModel): RecordEvent[] {
  const prefix = eventPrefix(entity.name);
  if (command.kind === 'create') {
    if (state.status !== 'absent') throw new AppError('already_exists', `A ${entity.name} with this id already exists`);
    return [{ type: `${prefix}Created`, data: validRecord(entity, withDefaults(entity.definition, command.data)) }];
  }
  if (state.status !== 'active')
    throw new AppError('not_found', `No ${entity.name} with this id${state.status === 'deleted' ? ' (it was deleted)' : ''}`);
  if (command.kind === 'delete') return [{ type: `${prefix}Deleted`, data: {} }];
  if (command.kind === 'update') {
    if (!isObject(command.patch))
      throw validationFailed('A merge patch must be a JSON object', [{ path: '/body', message: 'must be an object' }]);
    const next = validRecord(entity, mergePatch(state.data, command.patch) as RecordData);
    const changes = changedFields(state.data, next);
    return Object.keys(changes).length === 0 ? [] : [{ type: `${prefix}Updated`, data: changes }];
  }
  return runDeclared(command.command, state.data, entity);
}

function runDeclared(name: string, data: RecordData, entity: EntityModel): RecordEvent[] {
  const commands = entity.definition.commands ?? {};
  const declared = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!declared) throw new AppError('not_found', `The ${entity.name} entity has no command ${name}`);
  const guard = normaliseValues(entity.definition, declared.from ?? {});
  const unmet = Object.entries(guard).filter(([field, value]) => !sameJson(data[field], value));
  if (unmet.length > 0) {
    throw new AppError('precondition_failed', `Command ${name} needs ${unmet.map(([f, v]) => `${f} = ${JSON.stringify(v)}`).join(', ')}`, {
      unmet: Object.fromEntries(unmet.map(([field]) => [field, data[field] ?? null])),
    });
  }
  const next = validRecord(entity, { ...data, ...(declared.set ?? {}) });
  return [{ type: declared.emits, data: changedFields(data, next) }];
}

/** How an event changes the state; the same fold rebuilds documents from the log. */
export function evolve(state: RecordState, event: { type: string; data: JsonValue }, entityName: string): RecordState {
  const prefix = eventPrefix(entityName);
  const data = isObject(event.data) ? event.data : {};
  const version = state.version + 1;
  if (event.type === `${prefix}Created`) return { status: 'active', version, data };
  if (event.type === `${prefix}Deleted`) return { status: 'deleted', version, data: state.status === 'absent' ? {} : state.data };
  const current = state.status === 'absent' ? {} : state.data;
  return { status: state.status === 'deleted' ? 'deleted' : 'active', version, data: applyChanges(current, data) };
}

/** The event types `evolve` tells apart for an entity: its creation and its deletion (any other event changes fields). */
export interface LifecycleTypes {
  created: string;
  deleted: string;
}

export function lifecycleTypes(entityName: string): LifecycleTypes {
  const prefix = eventPrefix(entityName);
  return { created: `${prefix}Created`, deleted: `${prefix}Deleted` };
}

const NO_DATA: RecordData = {};

/**
 * `evolve` seen through some fields of a record, for folds that keep only those (report member
 * rows): the record's `fields` after the event (`before` itself when none of them changed), or
 * undefined when the record is gone. `before` holds the fields before the event (undefined: no
 * record). It reads only those fields of the event, copying nothing else: a fold over a whole log
 * would otherwise copy every record's data at every event. It follows `evolve`'s rules and must
 * change with them.
 */
export function evolveFields(
  before: RecordData | undefined,
  event: { type: string; data: JsonValue },
  types: LifecycleTypes,
  fields: readonly string[],
): RecordData | undefined {
  if (event.type === types.deleted) return undefined;
  const data = isObject(event.data) ? event.data : NO_DATA;
  const created = event.type === types.created;
  const after: RecordData = {};
  let same = before !== undefined;
  for (const field of fields) {
    // A created event's data is the record; any other event's data replaces the fields it holds (null: removed).
    const value = created ? ownValue(data, field) : Object.hasOwn(data, field) ? (data[field] ?? undefined) : ownValue(before, field);
    if (value !== undefined) after[field] = value;
    if (same && value !== ownValue(before, field)) same = false;
  }
  return same ? before : after;
}

const ownValue = (data: RecordData | undefined, field: string): JsonValue | undefined =>
  data !== undefined && Object.hasOwn(data, field) ? data[field] : undefined;

/** Events carry whole new values of the changed top-level fields (null: removed). */
export function applyChanges(current: RecordData, changes: RecordData): RecordData {
  const result = { ...current };
  for (const [key, value] of Object.entries(changes)) {
    if (value === null) delete result[key];
    else result[key] = value;
  }
  return result;
}

export function withDefaults(definition: EntityDefinition, data: unknown): unknown {
  if (!isObject(data)) return data;
  const defaults = Object.entries(definition.fields).filter(
    ([name, field]) => field.default !== undefined && (data[name] ?? null) === null,
  );
  const result: Record<string, JsonValue> = { ...data };
  for (const [name, field] of defaults) result[name] = field.default as JsonValue;
  return result;
}

function validRecord(entity: EntityModel, data: unknown): RecordData {
  if (!isObject(data)) throw validationFailed('A record must be a JSON object', [{ path: '/body', message: 'must be an object' }]);
  const present = Object.fromEntries(Object.entries(data).filter(([, value]) => value !== null));
  if (!entity.validators.record(present)) {
    throw validationFailed(`The ${entity.name} is not valid`, toFieldErrors(entity.validators.record.errors, '/data') as FieldError[]);
  }
  return normaliseValues(entity.definition, present);
}

/** RFC 7386 JSON merge patch: objects merge recursively, null removes. */
export function mergePatch(target: JsonValue | undefined, patch: JsonValue): JsonValue {
  if (!isObject(patch)) return patch;
  const result: Record<string, JsonValue> = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else
      Object.defineProperty(result, key, {
        value: mergePatch(Object.hasOwn(result, key) ? result[key] : undefined, value),
        enumerable: true,
        writable: true,
        configurable: true,
      });
  }
  return result;
}

/** The top-level fields whose value differs; a removed field is reported as null. */
export function changedFields(before: RecordData, after: RecordData): RecordData {
  const changes: RecordData = {};
  for (const [key, value] of Object.entries(after)) if (!sameJson(before[key], value)) changes[key] = value;
  for (const key of Object.keys(before)) if (!(key in after)) changes[key] = null;
  return changes;
}

export function sameJson(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  if (keysA.length !== keysB.length) return false;
  return keysA.every((key) => sameJson((a as Record<string, JsonValue>)[key], (b as Record<string, JsonValue>)[key]));
}
