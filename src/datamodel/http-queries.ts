import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { DocumentStore } from '../documents/port.js';
import { decodeCursor, parseGroupBy, parseMeasures, parseSelect, parseSort } from '../documents/query/index.js';
import type { EventStore } from '../eventstore/index.js';
import { type Authenticate, ProblemSchema } from '../http/index.js';
import { EntityParams, Position, parseAsOf, waitForPosition } from '../http/params.js';
import { validationFailed } from '../kernel/index.js';
import { type AccessGuards, filterFields } from './access.js';
import { Data } from './http-schemas.js';
import type { ModuleRegistry } from './registry.js';

type EntityScope = { tenant: string; module: string; entity: string };
type ListQuery = { filter?: string; sort?: string; limit?: number; cursor?: string; fields?: string; asOf?: string; after?: string };
type AggregateQuery = { groupBy?: string; measures?: string; filter?: string; asOf?: string; after?: string };

const errors = { 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema, 503: ProblemSchema };
const Common = {
  filter: Type.Optional(Type.String({ maxLength: 20_000 })),
  asOf: Type.Optional(Type.String({ maxLength: 40 })),
  after: Type.Optional(Position),
};
const ListItem = Type.Object({
  id: Type.String(),
  version: Type.Integer(),
  position: Position,
  data: Data,
  createdAt: Type.String(),
  updatedAt: Type.String(),
});

/** Lists and aggregates: compiled to SQL and run in the database, next to the data. */
export function queryRoutes(deps: {
  documents: DocumentStore;
  events: EventStore;
  registry: ModuleRegistry;
  authenticate: Authenticate;
  guards: AccessGuards;
}): FastifyPluginAsync {
  /** What the caller may read of the entity (a member of the group it is shared with may read too). */
  const authorized = async (request: FastifyRequest<{ Params: EntityScope }>) => {
    const { tenant, module, entity } = request.params;
    const principal = await deps.authenticate(request, tenant, { entity: { module, entity } });
    return deps.guards.forEntity(principal, { tenant, module, entity }, 'read');
  };
  const target = async (params: EntityScope, query: { filter?: string; asOf?: string }) => {
    const { entity } = await deps.registry.entity(params.tenant, params.module, params.entity);
    const asOf = parseAsOf(query.asOf);
    return {
      ...params,
      fields: entity.definition.fields,
      ...(query.filter ? { filter: parseJson(query.filter) } : {}),
      ...(asOf ? { asOf } : {}),
    };
  };

  return async (app) => {
    app.get<{ Params: EntityScope; Querystring: ListQuery }>(
      '/t/:tenant/data/:module/:entity',
      {
        schema: {
          params: EntityParams,
          querystring: Type.Object({
            ...Common,
            sort: Type.Optional(Type.String({ maxLength: 1000 })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
            cursor: Type.Optional(Type.String({ maxLength: 4000 })),
            fields: Type.Optional(Type.String({ maxLength: 4000 })),
          }),
          response: {
            200: Type.Object({ items: Type.Array(ListItem), nextCursor: Type.Union([Type.String(), Type.Null()]), position: Position }),
            ...errors,
          },
        },
      },
      async (request) => {
        const { query, params } = request;
        const guard = await authorized(request);
        await waitForPosition(deps.events, query.after);
        const base = await target(params, query);
        const sort = parseSort(query.sort, base.fields);
        const select = parseSelect(query.fields, base.fields);
        guard.refuseHidden(filterFields(base.filter), 'filter');
        guard.refuseHidden(
          sort.map((key) => key.field),
          'sort',
        );
        guard.refuseHidden(select ?? [], 'fields');
        const position = base.asOf && 'position' in base.asOf ? base.asOf.position : await deps.events.headPosition();
        const page = await deps.documents.list({
          ...base,
          filter: guard.filter(base.filter),
          sort,
          limit: query.limit ?? 50,
          ...(query.cursor ? { after: decodeCursor(query.cursor, sort, base.fields) } : {}),
          ...(select ? { select } : {}),
        });
        const items = page.items.map((item) => ({ ...item, data: guard.strip(item.data) }));
        return { items, nextCursor: page.nextCursor, position: position.toString() };
      },
    );

    app.get<{ Params: EntityScope; Querystring: AggregateQuery }>(
      '/t/:tenant/data/:module/:entity/aggregate',
      {
        schema: {
          params: EntityParams,
          querystring: Type.Object({
            ...Common,
            groupBy: Type.Optional(Type.String({ maxLength: 1000 })),
            measures: Type.Optional(Type.String({ maxLength: 2000 })),
          }),
          response: { 200: Type.Object({ groups: Type.Array(Type.Record(Type.String(), Type.Unknown())) }), ...errors },
        },
      },
      async (request) => {
        const { query, params } = request;
        const guard = await authorized(request);
        await waitForPosition(deps.events, query.after);
        const base = await target(params, query);
        const groupBy = parseGroupBy(query.groupBy, base.fields);
        const measures = parseMeasures(query.measures ?? 'count', base.fields);
        guard.refuseHidden(filterFields(base.filter), 'filter');
        guard.refuseHidden(groupBy, 'groupBy');
        guard.refuseHidden(
          measures.flatMap((measure) => measure.field ?? []),
          'measures',
        );
        const groups = await deps.documents.aggregate({ ...base, filter: guard.filter(base.filter), groupBy, measures });
        return { groups };
      },
    );
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw validationFailed('filter is not valid JSON', [{ path: '/querystring/filter', message: 'must be a JSON object' }]);
  }
}
