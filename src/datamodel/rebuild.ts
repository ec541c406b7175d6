import type { DocumentStore, DocumentVersion } from '../documents/port.js';
import type { EventStore, RecordedEvent } from '../eventstore/index.js';
import type { JsonValue } from '../kernel/index.js';
import { evolve, initialState, type RecordState } from './decider.js';
import { type MigrationHistory, upcast } from './evolution.js';
import { compile, type LoadedModule, MODULES_SCOPE, type ModuleDocument, recordStream } from './registry.js';
import type { ModuleDefinition, ModuleMigration } from './types.js';

const PAGE = 5000;
const MODULE_STREAM = /^module:(.+)$/;

type Deps = { events: EventStore; documents: DocumentStore };

/** Versions of one stream's document, built event by event like the inline projection does. */
class VersionTrail {
  readonly versions: DocumentVersion[] = [];
  private createdAt: Date | undefined;

  constructor(private readonly id: string) {}

  push(event: RecordedEvent, version: number, data: Record<string, JsonValue> | null): void {
    const previous = this.versions.at(-1);
    if (previous) {
      previous.toPosition = event.position;
      previous.toTime = event.recordedAt;
    }
    this.createdAt ??= event.recordedAt;
    this.versions.push({
      id: this.id,
      version,
      data,
      createdAt: this.createdAt,
      fromPosition: event.position,
      toPosition: null,
      fromTime: event.recordedAt,
      toTime: null,
    });
  }
}

async function eachEvent(events: EventStore, tenant: string | undefined, visit: (event: RecordedEvent) => void): Promise<void> {
  for (let after = 0n; ; ) {
    const page = tenant ? await events.readTenant(tenant, { after, limit: PAGE }) : await events.readAll({ after, limit: PAGE });
    for (const event of page) visit(event);
    const last = page.at(-1);
    if (!last || page.length < PAGE) return;
    after = last.position;
  }
}

/**
 * Recomputes every version of an entity's documents from the log: events upcast to the module's
 * current definition, folded with the same `evolve` the write side uses. Returns the records seen.
 */
export async function rebuildEntity(deps: Deps, tenant: string, module: LoadedModule, entity: string): Promise<number> {
  const prefix = recordStream(module.name, entity, '');
  const records = new Map<string, { state: RecordState; trail: VersionTrail }>();
  await eachEvent(deps.events, tenant, (event) => {
    if (!event.streamId.startsWith(prefix)) return;
    const id = event.streamId.slice(prefix.length);
    const record = records.get(id) ?? { state: initialState, trail: new VersionTrail(id) };
    record.state = evolve(
      record.state,
      { type: event.type, data: upcast(event.data, entity, event.schemaVersion, module.history) },
      entity,
    );
    record.trail.push(event, record.state.version, record.state.status === 'active' ? record.state.data : null);
    records.set(id, record);
  });
  await deps.documents.replaceAll(
    { tenant, module: module.name, entity },
    [...records.values()].flatMap((record) => record.trail.versions),
  );
  return records.size;
}

/** Rebuilds module documents, then every entity of every module, of one tenant or all of them. */
export async function rebuildProjections(deps: Deps, only?: string): Promise<{ tenants: number; modules: number; records: number }> {
  const modules = new Map<string, { trail: VersionTrail; document?: ModuleDocument }>();
  const tenants = new Set<string>();
  await eachEvent(deps.events, only, (event) => {
    tenants.add(event.tenant);
    const name = MODULE_STREAM.exec(event.streamId)?.[1];
    if (!name || event.type !== 'ModuleDefined') return;
    const key = `${event.tenant}/${name}`;
    const entry = modules.get(key) ?? { trail: new VersionTrail(name) };
    entry.document = nextModuleDocument(name, entry.document, event);
    entry.trail.push(event, event.streamVersion, entry.document as unknown as Record<string, JsonValue>);
    modules.set(key, entry);
  });
  let records = 0;
  for (const tenant of tenants) {
    const mine = [...modules.entries()].filter(([key]) => key.startsWith(`${tenant}/`)).map(([, entry]) => entry);
    await deps.documents.replaceAll(
      { tenant, ...MODULES_SCOPE },
      mine.flatMap((entry) => entry.trail.versions),
    );
    for (const { document } of mine) {
      if (!document) continue;
      const module = compile(document);
      for (const entity of module.entities.keys()) records += await rebuildEntity(deps, tenant, module, entity);
    }
  }
  return { tenants: tenants.size, modules: modules.size, records };
}

function nextModuleDocument(name: string, previous: ModuleDocument | undefined, event: RecordedEvent): ModuleDocument {
  const { definition, migrations = [] } = event.data as unknown as { definition: ModuleDefinition; migrations?: ModuleMigration[] };
  const history: MigrationHistory = [
    ...(previous?.history ?? []),
    ...(migrations.length > 0 ? [{ version: event.streamVersion, migrations }] : []),
  ];
  return { name, version: event.streamVersion, definition, history };
}
