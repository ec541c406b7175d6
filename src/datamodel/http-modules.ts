import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { EventStore } from '../eventstore/index.js';
import { type Authenticate, authorize, callerOf, ifMatchVersion, ProblemSchema, requestContext } from '../http/index.js';
import { ModuleParams, Position, TenantParams, waitForPosition } from '../http/params.js';
import { ModuleResponse } from './http-schemas.js';
import type { createModuleService } from './modules.js';

type ModuleService = ReturnType<typeof createModuleService>;
type Params = { tenant: string; module: string };

const errors = { 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema, 409: ProblemSchema };

/** `PUT|GET /t/{tenant}/modules/{module}`, `GET /t/{tenant}/modules`. */
export function moduleRoutes(deps: { modules: ModuleService; authenticate: Authenticate; events: EventStore }): FastifyPluginAsync {
  return async (app) => {
    app.put<{ Params: Params; Body: unknown }>(
      '/t/:tenant/modules/:module',
      {
        schema: {
          params: ModuleParams,
          body: Type.Object({}, { additionalProperties: true }),
          response: { 200: ModuleResponse, 201: ModuleResponse, ...errors },
        },
      },
      async (request, reply) => {
        const { tenant, module } = request.params;
        const principal = await deps.authenticate(request, tenant);
        authorize(principal, 'modules', 'admin');
        const context = requestContext(request, callerOf(principal));
        const change = await deps.modules.define(context, tenant, module, request.body, ifMatchVersion(request));
        reply.code(change.created ? 201 : 200).header('etag', `"${change.version}"`);
        return { name: change.name, version: change.version, position: change.position.toString(), definition: change.definition };
      },
    );

    app.get<{ Params: Params; Querystring: { version?: number; after?: string } }>(
      '/t/:tenant/modules/:module',
      {
        schema: {
          params: ModuleParams,
          querystring: Type.Object({
            version: Type.Optional(Type.Integer({ minimum: 1, maximum: 2147483647 })),
            after: Type.Optional(Position),
          }),
          response: { 200: ModuleResponse, ...errors },
        },
      },
      async (request, reply) => {
        const { tenant, module } = request.params;
        authorize(await deps.authenticate(request, tenant), 'modules', 'read');
        await waitForPosition(deps.events, request.query.after);
        const found = await deps.modules.get(tenant, module, request.query.version, request.query.after !== undefined);
        reply.header('etag', `"${found.version}"`);
        return { name: found.name, version: found.version, definition: found.definition, migrations: found.history };
      },
    );

    app.get<{ Params: { tenant: string }; Querystring: { after?: string } }>(
      '/t/:tenant/modules',
      {
        schema: {
          params: TenantParams,
          querystring: Type.Object({ after: Type.Optional(Position) }),
          response: { 200: Type.Object({ items: Type.Array(ModuleResponse) }), ...errors },
        },
      },
      async (request) => {
        authorize(await deps.authenticate(request, request.params.tenant), 'modules', 'read');
        await waitForPosition(deps.events, request.query.after);
        return { items: await deps.modules.list(request.params.tenant) };
      },
    );
  };
}
