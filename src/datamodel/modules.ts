import type { DocumentStore } from '../documents/port.js';
import type { DocumentMigration, EventStore } from '../eventstore/index.js';
import {
  AppError,
  type FieldError,
  isAppError,
  type JsonValue,
  metadataOf,
  type RequestContext,
  validationFailed,
} from '../kernel/index.js';
import { sameJson } from './decider.js';
import { checkModuleDefinition } from './definition.js';
import { checkMigrations, type MigrationHistory, uncoveredChanges } from './evolution.js';
import { compile, type LoadedModule, MODULES_SCOPE, type ModuleDocument, type ModuleRegistry, moduleStream } from './registry.js';
import { toFieldErrors } from './schema.js';
import { type ModuleDefinition, type ModuleMigration, NAME } from './types.js';

export interface ModuleChange {
  name: string;
  version: number;
  position: bigint;
  definition: ModuleDefinition;
  created: boolean;
  /** False when the definition was already the current one (nothing written). */
  changed: boolean;
}

export interface ModuleHooks {
  /** What other parts of the platform built on the module (reports) say against its new version: it is refused when any. */
  objections(tenant: string, module: LoadedModule): Promise<FieldError[]>;
  /** Runs after a version is stored: creates the declared indexes. */
  afterDefine(tenant: string, module: LoadedModule): Promise<void>;
}

export function createModuleService(deps: { events: EventStore; documents: DocumentStore; registry: ModuleRegistry; hooks: ModuleHooks }) {
  const { events, registry } = deps;

  async function define(context: RequestContext, tenant: string, name: string, input: unknown, ifMatch?: number): Promise<ModuleChange> {
    if (!NAME.test(name)) throw validationFailed('Invalid module name', [{ path: '/module', message: `must match ${NAME.source}` }]);
    const structural = checkModuleDefinition(input);
    if (structural.length > 0) throw validationFailed(`Module ${name} is not valid`, structural);
    const next = input as ModuleDefinition;
    const previous = await registry.load(tenant, name);
    if (ifMatch !== undefined && ifMatch !== (previous?.version ?? 0)) {
      throw new AppError('version_conflict', `Module ${name} is at version ${previous?.version ?? 0}`, { actual: previous?.version ?? 0 });
    }
    const { migrations = [], ...definition } = next;
    if (previous && isCurrent(previous, definition, migrations)) {
      return { name, version: previous.version, position: previous.position, definition, created: false, changed: false };
    }
    const version = (previous?.version ?? 0) + 1;
    const document: ModuleDocument = {
      name,
      version,
      definition,
      history: [...(previous?.history ?? []), ...(migrations.length > 0 ? [{ version, migrations }] : [])] as MigrationHistory,
    };
    const module = compile(document);
    await checkSemantics(tenant, name, previous, next, module);
    const result = await events
      .append({
        tenant,
        streamId: moduleStream(name),
        events: [{ type: 'ModuleDefined', data: { definition, migrations } as unknown as JsonValue }],
        expectedVersion: previous?.version ?? 'no_stream',
        metadata: metadataOf(context),
        document: { ...MODULES_SCOPE, id: name, data: document as unknown as JsonValue },
        documentMigrations: documentMigrations(name, previous?.definition, migrations),
      })
      .catch((error: unknown) => {
        if (isAppError(error, 'version_conflict')) throw new AppError('version_conflict', `Module ${name} was changed concurrently; retry`);
        throw error;
      });
    registry.forget(tenant, name);
    await deps.hooks.afterDefine(tenant, module);
    return { name, version: result.streamVersion, position: result.lastPosition, definition, created: !previous, changed: true };
  }

  async function checkSemantics(
    tenant: string,
    name: string,
    previous: LoadedModule | undefined,
    next: ModuleDefinition,
    module: LoadedModule,
  ) {
    const issues: FieldError[] = [
      ...checkMigrations(previous?.definition, next),
      ...checkValues(module),
      ...(await checkReferences(tenant, name, next)),
      ...(await deps.hooks.objections(tenant, module)),
    ];
    for (const change of uncoveredChanges(previous?.definition, next)) {
      if (await deps.documents.hasValues({ tenant, module: name, entity: change.entity }, change.field)) {
        issues.push({
          path: `/entities/${change.entity}/fields/${change.field}`,
          message: `was ${change.change} but records hold values for it: declare a rename or drop migration`,
        });
      }
    }
    if (issues.length > 0) throw validationFailed(`Module ${name} cannot be applied`, issues);
  }

  async function checkReferences(tenant: string, name: string, next: ModuleDefinition): Promise<FieldError[]> {
    const issues: FieldError[] = [];
    for (const [entityName, entity] of Object.entries(next.entities)) {
      for (const [fieldName, field] of Object.entries(entity.fields)) {
        const target = field.type === 'reference' ? field.entity : field.items?.type === 'reference' ? field.items.entity : undefined;
        if (!target) continue;
        const [targetModule = '', targetEntity = ''] = target.split('.');
        const exists =
          targetModule === name
            ? Object.hasOwn(next.entities, targetEntity)
            : (await registry.load(tenant, targetModule))?.entities.has(targetEntity);
        if (!exists)
          issues.push({ path: `/entities/${entityName}/fields/${fieldName}/entity`, message: `${target} is not a defined entity` });
      }
    }
    return issues;
  }

  return {
    define,
    /** The current version of every module of the tenant (at most 1,000), by name. */
    async list(tenant: string): Promise<{ name: string; version: number; definition: ModuleDefinition }[]> {
      const page = await deps.documents.list({ tenant, ...MODULES_SCOPE, fields: {}, limit: 1000 });
      return page.items.map((item) => {
        const { name, version, definition } = item.data as unknown as ModuleDocument;
        return { name, version, definition };
      });
    },
    /** `fresh` skips the cache (after `?after=`, a change made by another process must be seen). */
    async get(tenant: string, name: string, version?: number, fresh = false): Promise<ModuleDocument> {
      if (fresh) registry.forget(tenant, name);
      const current = await registry.load(tenant, name);
      if (!current) throw new AppError('not_found', `No module ${name}`);
      if (version === undefined || version === current.version)
        return { name, version: current.version, definition: current.definition, history: current.history };
      const [event] = await events.readStream(tenant, moduleStream(name), { fromVersion: version, limit: 1 });
      if (!event || version < 1) throw new AppError('not_found', `Module ${name} has no version ${version}`);
      const data = event.data as unknown as { definition: ModuleDefinition };
      return { name, version, definition: data.definition, history: current.history.filter((h) => h.version <= version) };
    },
  };
}

/** Each migration, for every entity it applies to: the entity it names, or every entity that had the field. */
function documentMigrations(module: string, previous: ModuleDefinition | undefined, migrations: ModuleMigration[]): DocumentMigration[] {
  return migrations.flatMap((migration) => {
    const field = 'rename' in migration ? migration.rename.from : migration.drop;
    const entities = Object.entries(previous?.entities ?? {})
      .filter(([entity, definition]) => (!migration.entity || migration.entity === entity) && Object.hasOwn(definition.fields, field))
      .map(([entity]) => entity);
    return entities.map((entity) =>
      'rename' in migration ? { module, entity, rename: { ...migration.rename } } : { module, entity, drop: migration.drop },
    );
  });
}

/** A PUT of the current definition (with no migrations, or those of the current version) changes nothing. */
function isCurrent(module: LoadedModule, definition: Omit<ModuleDefinition, 'migrations'>, migrations: ModuleMigration[]): boolean {
  if (!sameJson(module.definition as unknown as JsonValue, definition as unknown as JsonValue)) return false;
  if (migrations.length === 0) return true;
  const latest = module.history.at(-1);
  return latest?.version === module.version && sameJson(latest.migrations as unknown as JsonValue, migrations as unknown as JsonValue);
}

/** Defaults and command values must be valid values of their fields. */
function checkValues(module: LoadedModule): FieldError[] {
  const issues: FieldError[] = [];
  for (const [entityName, entity] of module.entities) {
    const check = (field: string, value: JsonValue, path: string) => {
      const validate = entity.validators.field(field);
      if (validate && !validate(value)) issues.push(...toFieldErrors(validate.errors, path));
    };
    for (const [field, definition] of Object.entries(entity.definition.fields)) {
      if (definition.default !== undefined) check(field, definition.default, `/entities/${entityName}/fields/${field}/default`);
    }
    for (const [command, definition] of Object.entries(entity.definition.commands ?? {})) {
      for (const part of ['from', 'set'] as const) {
        for (const [field, value] of Object.entries(definition[part] ?? {}))
          check(field, value, `/entities/${entityName}/commands/${command}/${part}/${field}`);
      }
    }
  }
  return issues;
}
