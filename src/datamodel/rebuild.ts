import type { DocumentStore, DocumentVersion } from '../documents/port.js';
import type { EventStore } from '../eventstore/index.js';
import { evolve, initialState, type RecordState } from './decider.js';
import { upcast } from './evolution.js';
import { type LoadedModule, recordStream } from './registry.js';

const PAGE = 5000;

/**
 * Recomputes every version of an entity's documents from the log: events upcast to the module's
 * current definition, folded with the same `evolve` the write side uses. Returns the records seen.
 */
export async function rebuildEntity(
  deps: { events: EventStore; documents: DocumentStore },
  tenant: string,
  module: LoadedModule,
  entity: string,
): Promise<number> {
  const prefix = recordStream(module.name, entity, '');
  const records = new Map<string, { state: RecordState; createdAt: Date; versions: DocumentVersion[] }>();
  for (let after = 0n; ; ) {
    const page = await deps.events.readTenant(tenant, { after, limit: PAGE });
    for (const event of page) {
      if (!event.streamId.startsWith(prefix)) continue;
      const id = event.streamId.slice(prefix.length);
      const record = records.get(id) ?? { state: initialState, createdAt: event.recordedAt, versions: [] };
      record.state = evolve(
        record.state,
        { type: event.type, data: upcast(event.data, entity, event.schemaVersion, module.history) },
        entity,
      );
      const previous = record.versions.at(-1);
      if (previous) {
        previous.toPosition = event.position;
        previous.toTime = event.recordedAt;
      }
      record.versions.push({
        id,
        version: record.state.version,
        data: record.state.status === 'active' ? record.state.data : null,
        createdAt: record.createdAt,
        fromPosition: event.position,
        toPosition: null,
        fromTime: event.recordedAt,
        toTime: null,
      });
      records.set(id, record);
    }
    const last = page.at(-1);
    if (!last || page.length < PAGE) break;
    after = last.position;
  }
  await deps.documents.replaceAll(
    { tenant, module: module.name, entity },
    [...records.values()].flatMap((record) => record.versions),
  );
  return records.size;
}
