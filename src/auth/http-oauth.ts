import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { TenantParams } from '../http/params.js';
import { AppError, TENANT_ID } from '../kernel/index.js';
import type { Keyring } from '../keys/index.js';
import { OAuthError } from './errors.js';
import type { AuthServer, TokenGrant } from './server.js';

export const REFRESH_COOKIE = 'bo_refresh';
const FORM = 'application/x-www-form-urlencoded';
const BODY_LIMIT = 16 * 1024;

type TenantRequest = FastifyRequest<{ Params: { tenant: string }; Body: unknown }>;

export interface OAuthRoutesDeps {
  server: AuthServer;
  keyring: Keyring;
  issuerBase: string;
  tenantStatus(tenant: string): Promise<'active' | 'suspended' | undefined>;
}

/** The fields of a form or JSON body, as strings (anything else is ignored). */
function fields(body: unknown): Record<string, string> {
  const source = body instanceof URLSearchParams ? Object.fromEntries(body) : typeof body === 'object' && body !== null ? body : {};
  return Object.fromEntries(Object.entries(source).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}

function cookie(request: FastifyRequest, name: string): string | undefined {
  const header = request.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}

/** Client credentials from HTTP Basic (RFC 6749 §2.3.1: form-encoded, then base64) or from the body. */
function clientCredentials(
  request: FastifyRequest,
  form: Record<string, string>,
): { id: string; secret: string; basic: boolean } | undefined {
  const header = request.headers.authorization;
  const basic = typeof header === 'string' ? /^Basic ([A-Za-z0-9+/=]{1,2048})$/.exec(header.trim()) : null;
  if (basic?.[1]) {
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new OAuthError(401, 'invalid_client', 'Malformed HTTP Basic credentials');
    try {
      return { id: decodeURIComponent(decoded.slice(0, colon)), secret: decodeURIComponent(decoded.slice(colon + 1)), basic: true };
    } catch {
      throw new OAuthError(401, 'invalid_client', 'Malformed HTTP Basic credentials');
    }
  }
  if (form.client_id !== undefined && form.client_secret !== undefined)
    return { id: form.client_id, secret: form.client_secret, basic: false };
  return undefined;
}

function required(form: Record<string, string>, name: string): string {
  const value = form[name];
  if (value === undefined || value === '') throw new OAuthError(400, 'invalid_request', `${name} is required`);
  if (value.length > 4096) throw new OAuthError(400, 'invalid_request', `${name} is too long`);
  return value;
}

/**
 * The authorization server's HTTP face, per tenant (API.md, "Authorization server"): discovery,
 * JWKS, token, revocation, introspection and logout. Errors are RFC 6749 JSON, not problem+json.
 */
export function oauthRoutes(deps: OAuthRoutesDeps): FastifyPluginAsync {
  const { server } = deps;
  const origin = new URL(deps.issuerBase).origin;
  const issuer = (tenant: string) => `${deps.issuerBase}/t/${tenant}`;

  async function knownTenant(tenant: string): Promise<void> {
    if (!TENANT_ID.test(tenant) || (await deps.tenantStatus(tenant)) === undefined) throw new AppError('not_found', `No tenant ${tenant}`);
  }

  /** A request that relies on the refresh cookie must also prove it comes from our own pages. */
  function checkCsrf(request: FastifyRequest): void {
    const from = request.headers.origin;
    if (from !== undefined && from !== origin) throw new OAuthError(403, 'invalid_request', 'Cross-origin request refused');
    if (from === undefined && request.headers['x-requested-with'] === undefined)
      throw new OAuthError(403, 'invalid_request', 'A request using the refresh cookie needs an Origin or X-Requested-With header');
  }

  function refreshFrom(request: FastifyRequest, form: Record<string, string>): string {
    if (form.refresh_token) return required(form, 'refresh_token');
    const value = cookie(request, REFRESH_COOKIE);
    if (!value) throw new OAuthError(400, 'invalid_request', 'refresh_token is required (form field or cookie)');
    checkCsrf(request);
    return value;
  }

  function sendGrant(reply: FastifyReply, tenant: string, grant: TokenGrant) {
    const { refreshToken, ...body } = grant;
    if (refreshToken) {
      reply.header(
        'set-cookie',
        `${REFRESH_COOKIE}=${refreshToken.value}; HttpOnly; Secure; SameSite=Strict; Path=/t/${tenant}/oauth; Max-Age=${refreshToken.maxAgeSeconds}`,
      );
    }
    return body;
  }

  const clearCookie = (reply: FastifyReply, tenant: string) =>
    reply.header('set-cookie', `${REFRESH_COOKIE}=; HttpOnly; Secure; SameSite=Strict; Path=/t/${tenant}/oauth; Max-Age=0`);

  return async (app) => {
    app.addContentTypeParser(FORM, { parseAs: 'string', bodyLimit: BODY_LIMIT }, (_request, body, done) => {
      done(null, new URLSearchParams(String(body)));
    });
    app.setErrorHandler((error, request, reply) => {
      if (!(error instanceof OAuthError)) throw error;
      reply.code(error.status).header('cache-control', 'no-store').header('content-type', 'application/json');
      if (error.status === 401 && /^Basic /i.test(request.headers.authorization ?? ''))
        reply.header('www-authenticate', 'Basic realm="backoffice"');
      if (error.retryAfterSeconds !== undefined) reply.header('retry-after', String(error.retryAfterSeconds));
      return { error: error.error, error_description: error.description };
    });

    app.get<{ Params: { tenant: string } }>(
      '/t/:tenant/.well-known/openid-configuration',
      { schema: { params: TenantParams } },
      async (request) => {
        const { tenant } = request.params;
        await knownTenant(tenant);
        const base = issuer(tenant);
        return {
          issuer: base,
          token_endpoint: `${base}/oauth/token`,
          revocation_endpoint: `${base}/oauth/revoke`,
          introspection_endpoint: `${base}/oauth/introspect`,
          end_session_endpoint: `${base}/oauth/logout`,
          jwks_uri: `${base}/.well-known/jwks.json`,
          grant_types_supported: ['password', 'refresh_token', 'client_credentials'],
          response_types_supported: [],
          token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
          revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
          introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
          access_token_signing_alg_values_supported: ['ES256'],
          scopes_supported: ['api'],
        };
      },
    );

    app.get<{ Params: { tenant: string } }>(
      '/t/:tenant/.well-known/jwks.json',
      { schema: { params: TenantParams } },
      async (request, reply) => {
        const { tenant } = request.params;
        await knownTenant(tenant);
        reply.header('cache-control', 'public, max-age=60');
        return { keys: await deps.keyring.published(tenant) };
      },
    );

    /** A POST of the tenant's OAuth endpoints: a known tenant, a small form or JSON body. */
    const post = (
      endpoint: string,
      handle: (tenant: string, form: Record<string, string>, request: TenantRequest, reply: FastifyReply) => Promise<unknown>,
    ) =>
      app.post(
        `/t/:tenant/oauth/${endpoint}`,
        { schema: { params: TenantParams }, bodyLimit: BODY_LIMIT },
        async (request: TenantRequest, reply) => {
          await knownTenant(request.params.tenant);
          return handle(request.params.tenant, fields(request.body), request, reply);
        },
      );

    post('token', async (tenant, form, request, reply) => {
      reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
      switch (form.grant_type) {
        case 'password':
          return sendGrant(
            reply,
            tenant,
            await server.password(tenant, required(form, 'username'), required(form, 'password'), request.ip),
          );
        case 'refresh_token':
          return sendGrant(reply, tenant, await server.refresh(tenant, refreshFrom(request, form), request.ip));
        case 'client_credentials': {
          const client = clientCredentials(request, form);
          if (!client) throw new OAuthError(401, 'invalid_client', 'Client authentication is required');
          return sendGrant(reply, tenant, await server.clientCredentials(tenant, client.id, client.secret));
        }
        case undefined:
          throw new OAuthError(400, 'invalid_request', 'grant_type is required');
        default:
          throw new OAuthError(400, 'unsupported_grant_type', 'Supported grants: password, refresh_token, client_credentials');
      }
    });

    post('revoke', async (tenant, form, request, reply) => {
      const client = clientCredentials(request, form);
      if (client) await server.authenticateClient(tenant, client.id, client.secret);
      await server.revoke(tenant, required(form, 'token'), form.token_type_hint);
      reply.header('cache-control', 'no-store');
      return reply.code(200).send();
    });

    post('introspect', async (tenant, form, request, reply) => {
      const client = clientCredentials(request, form);
      if (!client) throw new OAuthError(401, 'invalid_client', 'Client authentication is required');
      await server.authenticateClient(tenant, client.id, client.secret);
      reply.header('cache-control', 'no-store');
      return server.introspect(tenant, required(form, 'token'));
    });

    post('logout', async (tenant, _form, request, reply) => {
      const value = cookie(request, REFRESH_COOKIE);
      if (value) {
        checkCsrf(request);
        await server.revoke(tenant, value, 'refresh_token');
      }
      clearCookie(reply, tenant);
      return reply.code(204).send();
    });
  };
}
