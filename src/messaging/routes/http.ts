import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { type Authenticate, authorize, callerOf, ifMatchVersion, ProblemSchema, requestContext } from '../../http/index.js';
import { Position, TenantParams } from '../../http/params.js';
import type { RequestContext } from '../../kernel/index.js';
import type { RouteDocument } from './definition.js';
import type { Registry } from './registry.js';
import type { RouteService } from './service.js';

/** The permission resource of every route endpoint: `read` to look, `admin` to change. */
export const ROUTES_RESOURCE = 'messaging';

type Params = { tenant: string; id: string };

const errors = { 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema, 409: ProblemSchema, 503: ProblemSchema };
const RouteParams = Type.Object({ ...TenantParams.properties, id: Type.String({ minLength: 1, maxLength: 100 }) });
const Body = Type.Object({}, { additionalProperties: true });
const Expression = Type.String({ description: 'a JSONata expression' });
const RouteResponse = Type.Object({
  id: Type.String(),
  version: Type.Integer(),
  name: Type.String(),
  source: Type.String(),
  filter: Type.Optional(Type.Unknown()),
  split: Type.Optional(Expression),
  enrich: Type.Optional(Type.Object({ url: Type.String(), merge: Type.Optional(Expression) })),
  transform: Type.Optional(Expression),
  aggregate: Type.Optional(
    Type.Object({ correlation: Expression, size: Type.Optional(Type.Integer()), timeoutMs: Type.Optional(Type.Integer()) }),
  ),
  targets: Type.Array(Type.Unknown(), { description: 'subject, webhook (its secret never shown) or command targets' }),
  active: Type.Boolean(),
  position: Type.Optional(Position),
});
const Deleted = Type.Object({ id: Type.String(), version: Type.Integer(), position: Position });

/** A route as the API shows it: never its secrets (they are not in the document) nor their reference. */
function view(document: RouteDocument, version: number, position?: bigint) {
  const { secretRef: _ref, ...shown } = document;
  return { ...shown, version, ...(position === undefined ? {} : { position: position.toString() }) };
}

/** `/t/{tenant}/routes…` (API.md, "Messaging"); a write answers once this process' consumers follow it. */
export function routeRoutes(deps: { service: RouteService; registry: Registry; authenticate: Authenticate }): FastifyPluginAsync {
  const { service, registry } = deps;

  async function allowed(request: FastifyRequest<{ Params: { tenant: string } }>, action: 'read' | 'admin'): Promise<RequestContext> {
    const principal = await deps.authenticate(request, request.params.tenant);
    authorize(principal, ROUTES_RESOURCE, action);
    return requestContext(request, callerOf(principal));
  }

  return async (app) => {
    app.post<{ Params: { tenant: string }; Body: unknown }>(
      '/t/:tenant/routes',
      { schema: { params: TenantParams, body: Body, response: { 201: RouteResponse, ...errors } } },
      async (request, reply) => {
        const context = await allowed(request, 'admin');
        const change = await service.create(context, request.params.tenant, request.body);
        await registry.reach(change.position);
        reply.code(201);
        return view(change.document, change.version, change.position);
      },
    );

    app.get<{ Params: { tenant: string } }>(
      '/t/:tenant/routes',
      { schema: { params: TenantParams, response: { 200: Type.Object({ items: Type.Array(RouteResponse) }), ...errors } } },
      async (request) => {
        await allowed(request, 'read');
        return { items: (await service.list(request.params.tenant)).map((found) => view(found.document, found.version)) };
      },
    );

    app.get<{ Params: Params }>(
      '/t/:tenant/routes/:id',
      { schema: { params: RouteParams, response: { 200: RouteResponse, ...errors } } },
      async (request) => {
        await allowed(request, 'read');
        const found = await service.get(request.params.tenant, request.params.id);
        return view(found.document, found.version);
      },
    );

    app.patch<{ Params: Params; Body: unknown }>(
      '/t/:tenant/routes/:id',
      { schema: { params: RouteParams, body: Body, response: { 200: RouteResponse, ...errors } } },
      async (request) => {
        const context = await allowed(request, 'admin');
        const { tenant, id } = request.params;
        const change = await service.update(context, tenant, id, request.body, ifMatchVersion(request));
        await registry.reach(change.position);
        return view(change.document, change.version, change.position);
      },
    );

    app.delete<{ Params: Params }>(
      '/t/:tenant/routes/:id',
      { schema: { params: RouteParams, response: { 200: Deleted, ...errors } } },
      async (request) => {
        const context = await allowed(request, 'admin');
        const { tenant, id } = request.params;
        const change = await service.remove(context, tenant, id, ifMatchVersion(request));
        await registry.reach(change.position);
        return { id, version: change.version, position: change.position.toString() };
      },
    );
  };
}
