import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { type Authenticate, authorize, callerOf, ProblemSchema, requestContext } from '../http/index.js';
import { TenantParams } from '../http/params.js';
import type { RequestAuditor } from '../identity/index.js';
import type { Keyring } from '../keys/index.js';

const errors = { 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema };
const KeyInfo = Type.Object({
  kid: Type.String(),
  alg: Type.String(),
  state: Type.String(),
  createdAt: Type.String(),
  publishedUntil: Type.Optional(Type.String()),
  signsFrom: Type.Optional(Type.String()),
});

/** `GET /t/{tenant}/keys` and `POST /t/{tenant}/keys/rotate`: resource `keys`. Never private material. */
export function keyRoutes(deps: {
  keyring: Keyring;
  authenticate: Authenticate;
  audit: RequestAuditor;
  forget(tenant: string): void;
}): FastifyPluginAsync {
  const describe = async (tenant: string) =>
    (await deps.keyring.describe(tenant)).map(({ createdAt, publishedUntil, signsFrom, ...key }) => ({
      ...key,
      createdAt: createdAt.toISOString(),
      ...(publishedUntil ? { publishedUntil: publishedUntil.toISOString() } : {}),
      ...(signsFrom ? { signsFrom: signsFrom.toISOString() } : {}),
    }));

  return async (app) => {
    app.get<{ Params: { tenant: string } }>(
      '/t/:tenant/keys',
      { schema: { params: TenantParams, response: { 200: Type.Object({ items: Type.Array(KeyInfo) }), ...errors } } },
      async (request) => {
        authorize(await deps.authenticate(request, request.params.tenant), 'keys', 'read');
        return { items: await describe(request.params.tenant) };
      },
    );
    app.post<{ Params: { tenant: string } }>(
      '/t/:tenant/keys/rotate',
      { schema: { params: TenantParams, response: { 200: Type.Object({ items: Type.Array(KeyInfo) }), ...errors } } },
      async (request) => {
        const { tenant } = request.params;
        const principal = await deps.authenticate(request, tenant);
        authorize(principal, 'keys', 'admin');
        await deps.keyring.rotate(tenant);
        deps.forget(tenant);
        const items = await describe(tenant);
        const current = items.find((key) => key.state === 'current');
        await deps.audit(requestContext(request, callerOf(principal)), tenant, 'key_rotated', current?.kid ?? tenant, {
          keys: items.map(({ kid, state }) => ({ kid, state })),
        });
        return { items };
      },
    );
  };
}
