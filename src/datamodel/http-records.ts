import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { EventStore } from '../eventstore/index.js';
import { type Authenticate, idempotencyKey, ifMatchVersion, ProblemSchema, requestContext } from '../http/index.js';
import { EntityParams, Position, parseAsOf, RecordParams, waitForPosition } from '../http/params.js';
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

const recordJson = (view: RecordView) => ({
  id: view.id,
  version: view.version,
  position: view.position.toString(),
  data: view.data,
  createdAt: view.createdAt.toISOString(),
  updatedAt: view.updatedAt.toISOString(),
});

/** Record routes under `/t/{tenant}/data/{module}/{entity}` (API.md, "Data model"). */
export function recordRoutes(deps: { records: RecordService; events: EventStore; authenticate: Authenticate }): FastifyPluginAsync {
  const { records } = deps;
  const write = async (request: FastifyRequest<{ Params: EntityScope }>) => ({
    context: requestContext(request, await deps.authenticate(request, request.params.tenant)),
    options: { ...withVersion(ifMatchVersion(request)), ...withKey(idempotencyKey(request)) },
  });

  return async (app) => {
    app.post<{ Params: EntityScope; Body: Record<string, unknown> }>(
      '/t/:tenant/data/:module/:entity',
      { schema: { params: EntityParams, body: Body, response: { 201: WriteResponse, ...errors } } },
      async (request, reply) => {
        const { context, options } = await write(request);
        const view = await records.create(context, request.params, request.body, options);
        reply
          .code(201)
          .header('etag', `"${view.version}"`)
          .header('location', `${request.url.split('?')[0]}/${view.id}`);
        return recordJson(view);
      },
    );

    app.get<{ Params: RecordAddress; Querystring: { asOf?: string; after?: string } }>(
      '/t/:tenant/data/:module/:entity/:id',
      { schema: { params: RecordParams, querystring: ReadQuery, response: { 200: RecordResponse, ...errors } } },
      async (request, reply) => {
        await deps.authenticate(request, request.params.tenant);
        await waitForPosition(deps.events, request.query.after);
        const view = await records.get(request.params, parseAsOf(request.query.asOf));
        reply.header('etag', `"${view.version}"`);
        return recordJson(view);
      },
    );

    app.patch<{ Params: RecordAddress; Body: Record<string, unknown> }>(
      '/t/:tenant/data/:module/:entity/:id',
      { schema: { params: RecordParams, body: Body, response: { 200: WriteResponse, ...errors } } },
      async (request, reply) => {
        const { context, options } = await write(request);
        const view = await records.update(context, request.params, request.body, options);
        reply.header('etag', `"${view.version}"`);
        return recordJson(view);
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
        const { context, options } = await write(request);
        const view = await records.remove(context, request.params, options);
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
        await deps.authenticate(request, request.params.tenant);
        await waitForPosition(deps.events, request.query.after);
        const entries = await records.history(request.params, {
          fromVersion: request.query.fromVersion ?? 1,
          limit: request.query.limit ?? 1000,
        });
        return entries.map((entry) => ({
          ...entry,
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
        const { context, options } = await write(request);
        const { command, ...address } = request.params;
        const view = await records.run(context, address, command, options);
        reply.header('etag', `"${view.version}"`);
        return recordJson(view);
      },
    );
  };
}

const withVersion = (version: number | undefined) => (version === undefined ? {} : { expectedVersion: version });
const withKey = (key: string | undefined) => (key === undefined ? {} : { idempotencyKey: key });
