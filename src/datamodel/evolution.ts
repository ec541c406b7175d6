import type { JsonValue } from '../kernel/index.js';
import type { FieldDefinition, ModuleDefinition, ModuleMigration } from './types.js';

/** Migrations declared by each version of a module, oldest first. */
export type MigrationHistory = { version: number; migrations: ModuleMigration[] }[];

export interface FieldChange {
  entity: string;
  field: string;
  change: 'removed' | 'retyped';
}

type Issue = { path: string; message: string };

/**
 * Fields that the new definition removes or retypes without a declared migration. They are allowed
 * only while no record holds a value for them (the caller checks the data).
 */
export function uncoveredChanges(previous: ModuleDefinition | undefined, next: ModuleDefinition): FieldChange[] {
  if (!previous) return [];
  const covered = new Set((next.migrations ?? []).flatMap((m) => migratedFields(m, previous)));
  const changes: FieldChange[] = [];
  for (const [entity, before] of Object.entries(previous.entities)) {
    const after = next.entities[entity];
    for (const [field, definition] of Object.entries(before.fields)) {
      if (covered.has(`${entity}.${field}`)) continue;
      const now = after?.fields[field];
      if (!now) changes.push({ entity, field, change: 'removed' });
      else if (retyped(definition, now)) changes.push({ entity, field, change: 'retyped' });
    }
  }
  return changes;
}

function retyped(before: FieldDefinition, after: FieldDefinition): boolean {
  if (before.type !== after.type) return !isWidening(before.type, after.type);
  const itemsBefore = before.items?.type;
  const itemsAfter = after.items?.type;
  return itemsBefore !== itemsAfter && !(itemsBefore && itemsAfter && isWidening(itemsBefore, itemsAfter));
}

const WIDENINGS = new Set(['integer>number', 'string>text', 'enum>string', 'enum>text', 'date>string', 'datetime>string']);
const isWidening = (from: string, to: string) => WIDENINGS.has(`${from}>${to}`);

function migratedFields(migration: ModuleMigration, previous: ModuleDefinition): string[] {
  const field = 'rename' in migration ? migration.rename.from : migration.drop;
  const entities = migration.entity;
  const scope = entities ? [entities] : Object.keys(previous.entities);
  return scope.filter((entity) => previous.entities[entity]?.fields[field]).map((entity) => `${entity}.${field}`);
}

/** Checks a version's migrations against the definitions they go between. */
export function checkMigrations(previous: ModuleDefinition | undefined, next: ModuleDefinition): Issue[] {
  return (next.migrations ?? []).flatMap((migration, i) => {
    const path = `/migrations/${i}`;
    if (!previous) return [{ path, message: 'a new module has nothing to migrate' }];
    if (typeof migration !== 'object' || migration === null)
      return [{ path, message: 'must be { rename: { from, to } } or { drop: field }' }];
    if ('rename' in migration) {
      const { from, to } = migration.rename ?? ({} as { from?: string; to?: string });
      if (typeof from !== 'string' || typeof to !== 'string') return [{ path, message: 'rename needs from and to' }];
      const scope = entitiesWith(previous, from, migration.entity);
      if (scope.length === 0) return [{ path, message: `no entity had a field ${from}` }];
      return scope.flatMap((entity) =>
        next.entities[entity]?.fields[to] && !next.entities[entity]?.fields[from]
          ? []
          : [{ path, message: `${entity} must have ${to} and no longer ${from}` }],
      );
    }
    if ('drop' in migration && typeof migration.drop === 'string') {
      const scope = entitiesWith(previous, migration.drop, migration.entity);
      return scope.length === 0 ? [{ path, message: `no entity had a field ${migration.drop}` }] : [];
    }
    return [{ path, message: 'must be { rename: { from, to } } or { drop: field }' }];
  });
}

function entitiesWith(definition: ModuleDefinition, field: string, only?: string): string[] {
  return Object.keys(definition.entities).filter((entity) => (!only || entity === only) && definition.entities[entity]?.fields[field]);
}

/** Applies the migrations of every version after `fromVersion` to one event's (or document's) data. */
export function upcast(data: JsonValue, entity: string, fromVersion: number, history: MigrationHistory): JsonValue {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return data;
  let result: Record<string, JsonValue> = data;
  for (const { version, migrations } of history) {
    if (version <= fromVersion) continue;
    for (const migration of migrations) result = applyMigration(result, entity, migration);
  }
  return result;
}

function applyMigration(data: Record<string, JsonValue>, entity: string, migration: ModuleMigration): Record<string, JsonValue> {
  const scope = migration.entity;
  if (scope && scope !== entity) return data;
  const field = 'rename' in migration ? migration.rename.from : migration.drop;
  if (!(field in data)) return data;
  const { [field]: value, ...rest } = data;
  return 'rename' in migration ? { ...rest, [migration.rename.to]: value as JsonValue } : rest;
}
