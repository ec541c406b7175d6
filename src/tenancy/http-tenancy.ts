import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { type Authenticate, authorize, callerOf, ProblemSchema, requestContext } from '../http/index.js';
import type { GroupService } from './groups.js';
import { CENTRAL, type TenantService } from './tenants.js';

const errors = { 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema, 409: ProblemSchema };
const Id = Type.Object({ id: Type.String({ pattern: '^[a-z][a-z0-9-]{1,62}$' }) });
const Body = Type.Record(Type.String(), Type.Unknown());
const Tenant = Type.Object({
  id: Type.String(),
  name: Type.String(),
  status: Type.Union([Type.Literal('active'), Type.Literal('suspended')]),
});
const Group = Type.Object({ id: Type.String(), name: Type.String(), members: Type.Array(Type.String()) });
const Created = Type.Object({
  ...Tenant.properties,
  admin: Type.Object({ username: Type.String(), password: Type.String() }),
});

/** Tenants and tenant groups, under `/t/central` only (API.md, "Tenancy"): resource `tenants`. */
export function tenancyRoutes(deps: { tenants: TenantService; groups: GroupService; authenticate: Authenticate }): FastifyPluginAsync {
  const { tenants, groups } = deps;

  async function allowed(request: FastifyRequest, action: 'read' | 'admin') {
    const principal = await deps.authenticate(request, CENTRAL);
    authorize(principal, 'tenants', action);
    return requestContext(request, callerOf(principal));
  }

  return async (app) => {
    app.post<{ Body: Record<string, unknown> }>(
      '/t/central/tenants',
      { schema: { body: Body, response: { 201: Created, ...errors } } },
      async (request, reply) => {
        const context = await allowed(request, 'admin');
        const { tenant, admin } = await tenants.create(context, request.body);
        reply.code(201).header('cache-control', 'no-store').header('location', `/t/central/tenants/${tenant.id}`);
        return { ...tenant, admin };
      },
    );
    app.get<{ Querystring: { after?: string } }>(
      '/t/central/tenants',
      {
        schema: {
          querystring: Type.Object({ after: Type.Optional(Type.String({ maxLength: 63 })) }),
          response: { 200: Type.Object({ items: Type.Array(Tenant) }), ...errors },
        },
      },
      async (request) => {
        await allowed(request, 'read');
        return { items: await tenants.list(request.query.after) };
      },
    );
    app.get<{ Params: { id: string } }>(
      '/t/central/tenants/:id',
      { schema: { params: Id, response: { 200: Tenant, ...errors } } },
      async (request) => {
        await allowed(request, 'read');
        return tenants.get(request.params.id);
      },
    );
    app.patch<{ Params: { id: string }; Body: Record<string, unknown> }>(
      '/t/central/tenants/:id',
      { schema: { params: Id, body: Body, response: { 200: Tenant, ...errors } } },
      async (request) => {
        const context = await allowed(request, 'admin');
        return tenants.update(context, request.params.id, request.body);
      },
    );
    app.delete<{ Params: { id: string } }>(
      '/t/central/tenants/:id',
      { schema: { params: Id, response: { 204: Type.Null(), ...errors } } },
      async (request, reply) => {
        const context = await allowed(request, 'admin');
        await tenants.remove(context, request.params.id);
        return reply.code(204).send();
      },
    );

    app.post<{ Body: Record<string, unknown> }>(
      '/t/central/tenant-groups',
      { schema: { body: Body, response: { 201: Group, ...errors } } },
      async (request, reply) => {
        const context = await allowed(request, 'admin');
        reply.code(201);
        return groups.create(context, request.body);
      },
    );
    app.get<{ Querystring: { after?: string } }>(
      '/t/central/tenant-groups',
      {
        schema: {
          querystring: Type.Object({ after: Type.Optional(Type.String({ maxLength: 63 })) }),
          response: { 200: Type.Object({ items: Type.Array(Group) }), ...errors },
        },
      },
      async (request) => {
        await allowed(request, 'read');
        return { items: await groups.list(request.query.after) };
      },
    );
    app.get<{ Params: { id: string } }>(
      '/t/central/tenant-groups/:id',
      { schema: { params: Id, response: { 200: Group, ...errors } } },
      async (request) => {
        await allowed(request, 'read');
        return groups.get(request.params.id);
      },
    );
    app.patch<{ Params: { id: string }; Body: Record<string, unknown> }>(
      '/t/central/tenant-groups/:id',
      { schema: { params: Id, body: Body, response: { 200: Group, ...errors } } },
      async (request) => {
        const context = await allowed(request, 'admin');
        return groups.update(context, request.params.id, request.body);
      },
    );
    app.delete<{ Params: { id: string } }>(
      '/t/central/tenant-groups/:id',
      { schema: { params: Id, response: { 204: Type.Null(), ...errors } } },
      async (request, reply) => {
        const context = await allowed(request, 'admin');
        await groups.remove(context, request.params.id);
        return reply.code(204).send();
      },
    );
  };
}
