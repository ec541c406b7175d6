import type { FastifyPluginAsync } from 'fastify';
import type { DocumentStore } from '../documents/port.js';
import type { EventStore } from '../eventstore/index.js';
import type { Authenticate } from '../http/index.js';
import type { FieldError } from '../kernel/index.js';
import { createAccessGuards } from './access.js';
import { eventRoutes } from './http-events.js';
import { moduleRoutes } from './http-modules.js';
import { queryRoutes } from './http-queries.js';
import { recordRoutes } from './http-records.js';
import { createModuleService } from './modules.js';
import { createRecordService } from './records.js';
import { createModuleRegistry, type LoadedModule } from './registry.js';

export { entityResource } from './access.js';
export { type EventFilter, eventFilter } from './access-events.js';
export { evolve, evolveFields, initialState, type LifecycleTypes, lifecycleTypes, type RecordData, type RecordState } from './decider.js';
export { eventJson, loadModules, upcastData } from './http-events.js';
export { rebuildEntity, rebuildProjections } from './rebuild.js';
export { isDataStream, type LoadedModule, type ModuleRegistry, parseRecordStream } from './registry.js';
export type { FieldDefinition, ModuleDefinition } from './types.js';

/** The data model context: modules defined at runtime, their records, history and the event log route. */
export function createDataContext(deps: {
  events: EventStore;
  documents: DocumentStore;
  authenticate: Authenticate;
  /** What depends on a module's fields (reports) and objects to a new version of it; none by default. */
  objections?: (tenant: string, module: LoadedModule) => Promise<FieldError[]>;
}) {
  const { events, documents, authenticate } = deps;
  const registry = createModuleRegistry(documents);
  const afterDefine = async (tenant: string, module: LoadedModule) => {
    for (const [name, entity] of module.entities) {
      for (const field of entity.definition.indexes ?? []) {
        const type = entity.definition.fields[field]?.type;
        if (type) await documents.ensureIndex({ tenant, module: module.name, entity: name }, field, type);
      }
    }
  };
  const objections = deps.objections ?? (async () => []);
  const modules = createModuleService({ events, documents, registry, hooks: { objections, afterDefine } });
  const records = createRecordService({ events, documents, registry });
  const guards = createAccessGuards({ documents, registry });
  const plugin: FastifyPluginAsync = async (app) => {
    await app.register(moduleRoutes({ modules, events, authenticate }));
    await app.register(queryRoutes({ documents, events, registry, authenticate, guards }));
    await app.register(recordRoutes({ records, events, authenticate, guards }));
    await app.register(eventRoutes({ events, documents, registry, authenticate }));
  };
  return { plugin, modules, records, registry };
}
