import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { EventStore } from '../eventstore/index.js';
import { type Authenticate, callerOf, idempotencyKey, ifMatchVersion, ProblemSchema, requestContext } from '../http/index.js';
import { EntityParams, Position, parseAsOf, RecordParams, waitForPosition } from '../http/params.js';
import type { AccessGuards, EntityGuard } from './access.js';
import { mergePatch, type RecordData } from './decider.js';
import { HistoryResponse, RecordResponse, WriteResponse } from './http-schemas.js';
import type { RecordAddress, RecordService, RecordView } from './records.js';

type EntityScope = { tenant: string; module: string; entity: string };
const errors = {
  400: ProblemSchema,
  401: ProblemSchema,
  403: ProblemSchema,
  404: ProblemSchema,
  409: ProblemSchema,
  413: ProblemSchema,
  503: ProblemSchema,
};
const ReadQuery = Type.Object({ asOf: Type.Optional(Type.String({ maxLength: 40 })), after: Type.Optional(Position) });
const Body = Type.Record(Type.String(), Type.Unknown());

const recordJson = (view: RecordView, guard: EntityGuard) => ({
  id: view.id,
  version: view.version,
  position: view.position.toString(),
  data: guard.strip(view.data),
  createdAt: view.createdAt.toISOString(),
  updatedAt: view.updatedAt.toISOString(),
});

/** Record routes under `/t/{tenant}/data/{module}/{entity}` (API.md, "Data model"). */
export function recordRoutes(deps: {
  records: RecordService;
  events: EventStore;
  authenticate: Authenticate;
  guards: AccessGuards;
}): FastifyPluginAsync {
  const { records } = deps;
  /** The caller (a member of the group an entity is shared with may act too) and what it may do with the entity. */
  const authorized = async (request: FastifyRequest<{ Params: EntityScope }>, action: string) => {
    const { tenant, module, entity } = request.params;
    const principal = await deps.authenticate(request, tenant, { entity: { module, entity } });
    return { principal, guard: await deps.guards.forEntity(principal, { tenant, module, entity }, action) };
  };
  const write = async (request: FastifyRequest<{ Params: EntityScope }>, action: string) => {
    const { principal, guard } = await authorized(request, action);
    return {
      guard,
      context: requestContext(request, callerOf(principal)),
      options: { ...withVersion(ifMatchVersion(request)), ...withKey(idempotencyKey(request)) },
    };
  };

  return async (app) => {
    app.post<{ Params: EntityScope; Body: Record<string, unknown> }>(
      '/t/:tenant/data/:module/:entity',
      { schema: { params: EntityParams, body: Body, response: { 201: WriteResponse, ...errors } } },
      async (request, reply) => {
        const { guard, context, options } = await write(request, 'create');
        const { id, ...data } = request.body;
        guard.refuseHidden(Object.keys(data), 'The record');
        guard.requireWritable(data as RecordData, typeof id === 'string' ? id : undefined, true);
        const view = await records.create(context, request.params, request.body, options);
        reply
          .code(201)
          .header('etag', `"${view.version}"`)
          .header('location', `${request.url.split('?')[0]}/${view.id}`);
        return recordJson(view, guard);
      },
    );

    app.get<{ Params: RecordAddress; Querystring: { asOf?: string; after?: string } }>(
      '/t/:tenant/data/:module/:entity/:id',
      { schema: { params: RecordParams, querystring: ReadQuery, response: { 200: RecordResponse, ...errors } } },
      async (request, reply) => {
        const { guard } = await authorized(request, 'read');
        await waitForPosition(deps.events, request.query.after);
        const asOf = parseAsOf(request.query.asOf);
        const view = await records.get(request.params, asOf);
        await guard.requireVisible(request.params.id, asOf);
        reply.header('etag', `"${view.version}"`);
        return recordJson(view, guard);
      },
    );

    app.patch<{ Params: RecordAddress; Body: Record<string, unknown> }>(
      '/t/:tenant/data/:module/:entity/:id',
      { schema: { params: RecordParams, body: Body, response: { 200: WriteResponse, ...errors } } },
      async (request, reply) => {
        const { guard, context, options } = await write(request, 'update');
        const { params, body } = request;
        guard.refuseHidden(Object.keys(body), 'The patch');
        const patched = (data: RecordData) => guard.requireWritable(mergePatch(data, body as RecordData) as RecordData, params.id);
        const view = await guard.write(params.id, options, (pinned) => records.update(context, params, body, pinned), patched);
        reply.header('etag', `"${view.version}"`);
        return recordJson(view, guard);
      },
    );

    app.delete<{ Params: RecordAddress }>(
      '/t/:tenant/data/:module/:entity/:id',
      {
        schema: {
          params: RecordParams,
          response: { 200: Type.Object({ id: Type.String(), version: Type.Integer(), position: Position }), ...errors },
        },
      },
      async (request) => {
        const { guard, context, options } = await write(request, 'delete');
        const view = await guard.write(request.params.id, options, (pinned) => records.remove(context, request.params, pinned));
        return { id: view.id, version: view.version, position: view.position.toString() };
      },
    );

    app.get<{ Params: RecordAddress; Querystring: { fromVersion?: number; limit?: number; after?: string } }>(
      '/t/:tenant/data/:module/:entity/:id/history',
      {
        schema: {
          params: RecordParams,
          querystring: Type.Object({
            fromVersion: Type.Optional(Type.Integer({ minimum: 1, maximum: 2147483647 })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
            after: Type.Optional(Position),
          }),
          response: { 200: HistoryResponse, ...errors },
        },
      },
      async (request) => {
        const { guard } = await authorized(request, 'read');
        await waitForPosition(deps.events, request.query.after);
        await guard.requireVisible(request.params.id, undefined, `No ${request.params.entity} with id ${request.params.id}`);
        const entries = await records.history(request.params, {
          fromVersion: request.query.fromVersion ?? 1,
          limit: request.query.limit ?? 1000,
        });
        return entries.map((entry) => ({
          ...entry,
          data: guard.strip(entry.data),
          position: entry.position.toString(),
          metadata: { ...entry.metadata, at: entry.metadata.at.toISOString() },
        }));
      },
    );

    app.post<{ Params: RecordAddress & { command: string } }>(
      '/t/:tenant/data/:module/:entity/:id/:command',
      {
        schema: {
          params: Type.Object({ ...RecordParams.properties, command: Type.String({ pattern: '^[a-z][a-zA-Z0-9_]{0,62}$' }) }),
          response: { 200: WriteResponse, ...errors },
        },
      },
      async (request, reply) => {
        const { command, ...address } = request.params;
        const { guard, context, options } = await write(request, `command:${command}`);
        const view = await guard.write(address.id, options, (pinned) => records.run(context, address, command, pinned));
        reply.header('etag', `"${view.version}"`);
        return recordJson(view, guard);
      },
    );
  };
}

const withVersion = (version: number | undefined) => (version === undefined ? {} : { expectedVersion: version });
const withKey = (key: string | undefined) => (key === undefined ? {} : { idempotencyKey: key });
