import type { DocumentStore } from '../documents/port.js';
import type { RecordedEvent } from '../eventstore/index.js';
import type { JsonValue, Principal } from '../kernel/index.js';
import { entityResource, visibleRow, whereApplies, withoutFields } from './access.js';
import { eventPrefix } from './definition.js';
import { type LoadedModule, moduleStream, parseRecordStream } from './registry.js';

/** An event's data as the caller may see it, or undefined when the caller may not see the event at all. */
export type EventFilter = (event: RecordedEvent, data: JsonValue) => Promise<{ data: JsonValue } | undefined>;

/**
 * Which events of the tenant's log a caller sees: record events need `read` on their entity, and a
 * row-limited reader sees an event only when the record, as of that event, was one of its rows (a
 * deletion: as it was just before); module definitions need `modules` read; every other stream
 * (users, roles, clients, tenants) `identity` read. Hidden fields are removed from the data.
 */
export function eventFilter(
  principal: Principal,
  tenant: string,
  documents: DocumentStore,
  modules: ReadonlyMap<string, LoadedModule | undefined>,
): EventFilter {
  const fits = new Map<string, boolean>();
  return async (event, data) => {
    const stream = parseRecordStream(event.streamId);
    if (!stream) {
      const resource = event.streamId.startsWith(moduleStream('')) ? 'modules' : 'identity';
      return principal.access(resource, 'read') ? { data } : undefined;
    }
    const resource = entityResource(stream);
    const access = principal.access(resource, 'read');
    if (!access) return undefined;
    const { where } = access;
    if (where !== undefined) {
      const fields = modules.get(stream.module)?.entities.get(stream.entity)?.definition.fields;
      if (!fields) return undefined;
      if (!fits.has(resource)) fits.set(resource, whereApplies(where, fields));
      if (!fits.get(resource)) return undefined;
      const deletion = event.type === `${eventPrefix(stream.entity)}Deleted`;
      const at = { position: deletion ? event.position - 1n : event.position };
      if (!(await visibleRow(documents, { tenant, ...stream, fields }, where, stream.id, at))) return undefined;
    }
    return { data: withoutFields(data, access.hiddenFields) };
  };
}
