import type { DocumentStore } from '../documents/port.js';
import { AppError } from '../kernel/index.js';
import type { EntityModel } from './decider.js';
import type { MigrationHistory } from './evolution.js';
import { compileEntity } from './schema.js';
import type { ModuleDefinition } from './types.js';

/** Module definitions are documents of this internal entity (module names cannot start with `_`). */
export const MODULES_SCOPE = { module: '_modules', entity: 'module' } as const;

export const moduleStream = (name: string) => `module:${name}`;
export const recordStream = (module: string, entity: string, id: string) => `${module}.${entity}:${id}`;

/** `sales.order:42` → { module: 'sales', entity: 'order', id: '42' }; undefined for other streams. */
export function parseRecordStream(streamId: string): { module: string; entity: string; id: string } | undefined {
  const match = /^([a-z][a-zA-Z0-9_]*)\.([a-z][a-zA-Z0-9_]*):(.+)$/.exec(streamId);
  return match?.[1] && match[2] && match[3] ? { module: match[1], entity: match[2], id: match[3] } : undefined;
}

/** A stream of the tenant's own data: a module definition or a record (not an identity object). */
export const isDataStream = (streamId: string) => streamId.startsWith('module:') || parseRecordStream(streamId) !== undefined;

/** The stored form of a module's current version. */
export interface ModuleDocument {
  name: string;
  version: number;
  definition: ModuleDefinition;
  history: MigrationHistory;
}

export interface LoadedModule extends ModuleDocument {
  entities: Map<string, EntityModel>;
  /** The log position of the current version. */
  position: bigint;
}

const CACHE_TTL_MS = 1000;

/**
 * Compiled module definitions, cached per tenant. Entries are dropped when this process changes
 * a module; otherwise the stored version is re-read after one second (which bounds how long another
 * process's change takes to be seen here) and the definition recompiled only when it changed.
 */
export function createModuleRegistry(documents: DocumentStore) {
  const cache = new Map<string, { module: LoadedModule | undefined; loadedAt: number }>();
  const key = (tenant: string, name: string) => `${tenant}/${name}`;

  const loading = new Map<string, Promise<LoadedModule | undefined>>();

  /** Concurrent loads of one module share one read (and at most one compilation). */
  function load(tenant: string, name: string): Promise<LoadedModule | undefined> {
    const cached = cache.get(key(tenant, name));
    if (cached && Date.now() - cached.loadedAt < CACHE_TTL_MS) return Promise.resolve(cached.module);
    const inFlight = loading.get(key(tenant, name));
    if (inFlight) return inFlight;
    const promise = reload(tenant, name).finally(() => loading.delete(key(tenant, name)));
    loading.set(key(tenant, name), promise);
    return promise;
  }

  async function reload(tenant: string, name: string): Promise<LoadedModule | undefined> {
    const cached = cache.get(key(tenant, name));
    const record = await documents.get({ tenant, ...MODULES_SCOPE, id: name });
    const unchanged = cached?.module && record?.version === cached.module.version;
    const module = unchanged
      ? cached.module
      : record && !record.deleted
        ? compile(record.data as unknown as ModuleDocument, record.position)
        : undefined;
    // Only modules that exist are kept: names that name nothing would otherwise grow the cache forever.
    if (module) cache.set(key(tenant, name), { module, loadedAt: Date.now() });
    else cache.delete(key(tenant, name));
    return module;
  }

  return {
    load,
    async entity(tenant: string, moduleName: string, entityName: string): Promise<{ module: LoadedModule; entity: EntityModel }> {
      const module = await load(tenant, moduleName);
      const entity = module?.entities.get(entityName);
      if (!module || !entity) throw new AppError('not_found', `No entity ${moduleName}.${entityName} in tenant ${tenant}`);
      return { module, entity };
    },
    forget(tenant: string, name: string): void {
      cache.delete(key(tenant, name));
    },
  };
}

export type ModuleRegistry = ReturnType<typeof createModuleRegistry>;

export function compile(document: ModuleDocument, position = 0n): LoadedModule {
  const entities = new Map(
    Object.entries(document.definition.entities).map(([name, definition]) => [
      name,
      { name, definition, validators: compileEntity(definition) },
    ]),
  );
  return { ...document, entities, position };
}
