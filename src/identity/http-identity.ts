import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { type Authenticate, authorize, callerOf, ProblemSchema, requestContext } from '../http/index.js';
import { TenantParams } from '../http/params.js';
import { AppError, type Principal } from '../kernel/index.js';
import type { ClientService } from './clients.js';
import type { RoleService } from './roles.js';
import type { AuditStore } from './store/port.js';
import type { UserService } from './users.js';

const errors = { 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema, 409: ProblemSchema };
const Name = Type.String({ pattern: '^[a-z0-9][a-z0-9._@-]{0,127}$' });
const Body = Type.Record(Type.String(), Type.Unknown());
const After = Type.Object({ after: Type.Optional(Type.String({ maxLength: 200 })) });

const User = Type.Object({ username: Type.String(), roles: Type.Array(Type.String()), disabled: Type.Boolean() });
const UserView = Type.Object({ ...User.properties, passwordChangeRequired: Type.Boolean() });
const Permission = Type.Object(
  {
    resource: Type.String(),
    actions: Type.Array(Type.String()),
    where: Type.Optional(Type.Unknown()),
    hiddenFields: Type.Optional(Type.Array(Type.String())),
  },
  { additionalProperties: false },
);
const Role = Type.Object({ name: Type.String(), permissions: Type.Array(Permission) });
const Client = Type.Object({ id: Type.String(), name: Type.String(), roles: Type.Array(Type.String()) });
const AuditItem = Type.Object({
  id: Type.String(),
  at: Type.String(),
  action: Type.String(),
  actor: Type.String(),
  address: Type.Union([Type.String(), Type.Null()]),
  target: Type.Union([Type.String(), Type.Null()]),
  detail: Type.Record(Type.String(), Type.Unknown()),
});

type Params<T = object> = { Params: { tenant: string } & T };

export interface IdentityRoutesDeps {
  users: UserService;
  roles: RoleService;
  clients: ClientService;
  audit: AuditStore;
  authenticate: Authenticate;
}

/** Users, roles, service clients and the audit log of a tenant (API.md, "Identity"). */
export function identityRoutes(deps: IdentityRoutesDeps): FastifyPluginAsync {
  const { users, roles, clients } = deps;

  /** The caller and its request context, when its roles allow the action on `identity`. */
  async function allowed(request: FastifyRequest<Params>, action: 'read' | 'admin') {
    const principal = await deps.authenticate(request, request.params.tenant);
    authorize(principal, 'identity', action);
    return requestContext(request, callerOf(principal));
  }

  const isSelf = (principal: Principal, tenant: string, username: string) => principal.tenant === tenant && principal.user === username;

  return async (app) => {
    app.post<Params & { Body: Record<string, unknown> }>(
      '/t/:tenant/users',
      { schema: { params: TenantParams, body: Body, response: { 201: UserView, ...errors } } },
      async (request, reply) => {
        const context = await allowed(request, 'admin');
        reply.code(201);
        return users.create(context, request.params.tenant, request.body);
      },
    );
    app.get<Params & { Querystring: { after?: string } }>(
      '/t/:tenant/users',
      { schema: { params: TenantParams, querystring: After, response: { 200: Type.Object({ items: Type.Array(User) }), ...errors } } },
      async (request) => {
        await allowed(request, 'read');
        return { items: await users.list(request.params.tenant, request.query.after) };
      },
    );
    app.get<Params<{ username: string }>>(
      '/t/:tenant/users/:username',
      { schema: { params: Type.Object({ ...TenantParams.properties, username: Name }), response: { 200: UserView, ...errors } } },
      async (request) => {
        const { tenant, username } = request.params;
        const principal = await deps.authenticate(request, tenant);
        if (!isSelf(principal, tenant, username)) authorize(principal, 'identity', 'read');
        return users.get(tenant, username);
      },
    );
    app.patch<Params<{ username: string }> & { Body: Record<string, unknown> }>(
      '/t/:tenant/users/:username',
      {
        schema: { params: Type.Object({ ...TenantParams.properties, username: Name }), body: Body, response: { 200: UserView, ...errors } },
      },
      async (request) => {
        const context = await allowed(request, 'admin');
        return users.update(context, request.params.tenant, request.params.username, request.body);
      },
    );
    app.delete<Params<{ username: string }>>(
      '/t/:tenant/users/:username',
      { schema: { params: Type.Object({ ...TenantParams.properties, username: Name }), response: { 204: Type.Null(), ...errors } } },
      async (request, reply) => {
        const context = await allowed(request, 'admin');
        await users.remove(context, request.params.tenant, request.params.username);
        return reply.code(204).send();
      },
    );
    app.post<Params<{ username: string }> & { Body: { currentPassword?: unknown; newPassword?: unknown } }>(
      '/t/:tenant/users/:username/password',
      {
        schema: {
          params: Type.Object({ ...TenantParams.properties, username: Name }),
          body: Body,
          response: { 204: Type.Null(), ...errors },
        },
      },
      async (request, reply) => {
        const { tenant, username } = request.params;
        const principal = await deps.authenticate(request, tenant, { passwordChange: true });
        const context = requestContext(request, callerOf(principal));
        const { currentPassword, newPassword } = request.body;
        if (isSelf(principal, tenant, username)) await users.changeOwnPassword(context, tenant, username, currentPassword, newPassword);
        else if (principal.access('identity', 'admin')) await users.resetPassword(context, tenant, username, newPassword);
        else throw new AppError('forbidden', 'Only the user or an identity admin may set this password');
        return reply.code(204).send();
      },
    );

    app.post<Params & { Body: Record<string, unknown> }>(
      '/t/:tenant/roles',
      { schema: { params: TenantParams, body: Body, response: { 201: Role, ...errors } } },
      async (request, reply) => {
        const context = await allowed(request, 'admin');
        reply.code(201);
        return (await roles.put(context, request.params.tenant, request.body, { create: true })).role;
      },
    );
    app.get<Params>(
      '/t/:tenant/roles',
      { schema: { params: TenantParams, response: { 200: Type.Object({ items: Type.Array(Role) }), ...errors } } },
      async (request) => {
        await allowed(request, 'read');
        return { items: await roles.list(request.params.tenant) };
      },
    );
    app.get<Params<{ name: string }>>(
      '/t/:tenant/roles/:name',
      {
        schema: {
          params: Type.Object({ ...TenantParams.properties, name: Type.String({ maxLength: 63 }) }),
          response: { 200: Role, ...errors },
        },
      },
      async (request) => {
        await allowed(request, 'read');
        return roles.get(request.params.tenant, request.params.name);
      },
    );
    app.put<Params<{ name: string }> & { Body: Record<string, unknown> }>(
      '/t/:tenant/roles/:name',
      {
        schema: {
          params: Type.Object({ ...TenantParams.properties, name: Type.String({ maxLength: 63 }) }),
          body: Body,
          response: { 200: Role, 201: Role, ...errors },
        },
      },
      async (request, reply) => {
        const context = await allowed(request, 'admin');
        const body = { name: request.params.name, ...request.body };
        const { role, created } = await roles.put(context, request.params.tenant, body, { name: request.params.name });
        reply.code(created ? 201 : 200);
        return role;
      },
    );
    app.delete<Params<{ name: string }>>(
      '/t/:tenant/roles/:name',
      {
        schema: {
          params: Type.Object({ ...TenantParams.properties, name: Type.String({ maxLength: 63 }) }),
          response: { 204: Type.Null(), ...errors },
        },
      },
      async (request, reply) => {
        const context = await allowed(request, 'admin');
        await roles.remove(context, request.params.tenant, request.params.name);
        return reply.code(204).send();
      },
    );

    app.post<Params & { Body: Record<string, unknown> }>(
      '/t/:tenant/clients',
      {
        schema: {
          params: TenantParams,
          body: Body,
          response: { 201: Type.Object({ ...Client.properties, secret: Type.String() }), ...errors },
        },
      },
      async (request, reply) => {
        const context = await allowed(request, 'admin');
        reply.code(201).header('cache-control', 'no-store');
        return clients.create(context, request.params.tenant, request.body);
      },
    );
    app.get<Params & { Querystring: { after?: string } }>(
      '/t/:tenant/clients',
      { schema: { params: TenantParams, querystring: After, response: { 200: Type.Object({ items: Type.Array(Client) }), ...errors } } },
      async (request) => {
        await allowed(request, 'read');
        return { items: await clients.list(request.params.tenant, request.query.after) };
      },
    );
    app.delete<Params<{ id: string }>>(
      '/t/:tenant/clients/:id',
      {
        schema: {
          params: Type.Object({ ...TenantParams.properties, id: Type.String({ maxLength: 63 }) }),
          response: { 204: Type.Null(), ...errors },
        },
      },
      async (request, reply) => {
        const context = await allowed(request, 'admin');
        await clients.remove(context, request.params.tenant, request.params.id);
        return reply.code(204).send();
      },
    );

    app.get<Params & { Querystring: { after?: string; limit?: number } }>(
      '/t/:tenant/audit',
      {
        schema: {
          params: TenantParams,
          querystring: Type.Object({
            after: Type.Optional(Type.String({ pattern: '^[0-9]{1,18}$' })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
          }),
          response: { 200: Type.Object({ items: Type.Array(AuditItem) }), ...errors },
        },
      },
      async (request) => {
        await allowed(request, 'read');
        const entries = await deps.audit.list(request.params.tenant, {
          after: BigInt(request.query.after ?? '0'),
          limit: request.query.limit ?? 100,
        });
        return { items: entries.map(({ tenant: _tenant, at, ...entry }) => ({ ...entry, at: at.toISOString() })) };
      },
    );
  };
}
