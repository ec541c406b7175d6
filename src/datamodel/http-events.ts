import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { DocumentStore } from '../documents/port.js';
import type { EventStore, RecordedEvent } from '../eventstore/index.js';
import { type Authenticate, ProblemSchema } from '../http/index.js';
import { Position, TenantParams } from '../http/params.js';
import type { JsonValue } from '../kernel/index.js';
import { eventFilter } from './access-events.js';
import { upcast } from './evolution.js';
import { EventsResponse } from './http-schemas.js';
import { type LoadedModule, type ModuleRegistry, parseRecordStream } from './registry.js';

/** `GET /t/{tenant}/events?after=&limit=`: the tenant's log in position order, record events upcast, as the caller may see it. */
export function eventRoutes(deps: {
  events: EventStore;
  documents: DocumentStore;
  registry: ModuleRegistry;
  authenticate: Authenticate;
}): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Params: { tenant: string }; Querystring: { after?: string; limit?: number } }>(
      '/t/:tenant/events',
      {
        schema: {
          params: TenantParams,
          querystring: Type.Object({ after: Type.Optional(Position), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) }),
          response: { 200: EventsResponse, 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema },
        },
      },
      async (request) => {
        const { tenant } = request.params;
        const principal = await deps.authenticate(request, tenant);
        const after = BigInt(request.query.after ?? '0');
        const page = await deps.events.readTenant(tenant, { after, limit: request.query.limit ?? 100 });
        const modules = await loadModules(deps.registry, tenant, page);
        const visible = eventFilter(principal, tenant, deps.documents, modules);
        const items = [];
        for (const event of page) {
          const seen = await visible(event, upcastData(event, modules));
          if (seen) items.push(eventJson(event, seen.data));
        }
        // The last position scanned, seen or not: the next page continues past the events skipped here.
        return { items, position: (page.at(-1)?.position ?? after).toString() };
      },
    );
  };
}

/** The modules of a page's record events, each loaded once. */
export async function loadModules(
  registry: ModuleRegistry,
  tenant: string,
  page: RecordedEvent[],
): Promise<Map<string, LoadedModule | undefined>> {
  const names = new Set(page.flatMap((event) => parseRecordStream(event.streamId)?.module ?? []));
  const loaded = await Promise.all([...names].map(async (name) => [name, await registry.load(tenant, name)] as const));
  return new Map(loaded);
}

/** A record event's data upcast to its module's current definition; other events as stored. */
export function upcastData(
  event: Pick<RecordedEvent, 'streamId' | 'schemaVersion' | 'data'>,
  modules: Map<string, LoadedModule | undefined>,
): JsonValue {
  const stream = parseRecordStream(event.streamId);
  const module = stream ? modules.get(stream.module) : undefined;
  return module && stream ? upcast(event.data, stream.entity, event.schemaVersion, module.history) : event.data;
}

/** An event as `/events` (and the live feed) show it. */
export function eventJson(event: RecordedEvent, data: JsonValue) {
  return {
    position: event.position.toString(),
    id: event.id,
    streamId: event.streamId,
    version: event.streamVersion,
    type: event.type,
    schemaVersion: event.schemaVersion,
    data,
    metadata: event.metadata,
    recordedAt: event.recordedAt.toISOString(),
  };
}
