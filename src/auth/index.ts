import type { FastifyPluginAsync } from 'fastify';
import type { IdentityContext } from '../identity/index.js';
import type { Keyring, KeyVault } from '../keys/index.js';
import { CENTRAL } from '../tenancy/index.js';
import { createAuthenticator } from './authenticate.js';
import { keyRoutes } from './http-keys.js';
import { oauthRoutes } from './http-oauth.js';
import { createAuthServer, type TokenSettings } from './server.js';
import { createTokenVerifier } from './verifier.js';

export { OAuthError } from './errors.js';
export { REFRESH_COOKIE } from './http-oauth.js';
export { API_SCOPE, PASSWORD_CHANGE_SCOPE, type TokenSettings } from './server.js';
export { type AccessClaims, createTokenVerifier, httpKeySource, TokenError, type TokenVerifier } from './verifier.js';

export interface AuthDeps {
  settings: TokenSettings;
  vault: KeyVault;
  keyring: Keyring;
  identity: IdentityContext;
  tenantStatus(tenant: string): Promise<'active' | 'suspended' | undefined>;
  /** The members of the group an entity is shared with, when it is. */
  sharing(tenant: string, module: string, entity: string): Promise<ReadonlySet<string> | undefined>;
}

/** The authorization server (token endpoints, keys) and the resource-server check every route uses. */
export function createAuthContext(deps: AuthDeps) {
  const { identity, keyring } = deps;
  // In-process key source: the tenant's published keys straight from the keyring (no HTTP round trip).
  const verifier = createTokenVerifier({
    issuerBase: deps.settings.issuerBase,
    keys: (tenant) => keyring.published(tenant),
    tenantExists: async (tenant) => (await deps.tenantStatus(tenant)) !== undefined,
  });
  const server = createAuthServer({
    settings: deps.settings,
    vault: deps.vault,
    keyring,
    verifier,
    users: identity.users,
    clients: identity.clients,
    store: identity.store,
    tenantStatus: deps.tenantStatus,
    audit: (tenant, entry) => identity.store.audit.append(tenant, entry),
  });
  const authenticate = createAuthenticator({
    verifier,
    tenantStatus: deps.tenantStatus,
    roles: identity.roles.resolve,
    sharing: deps.sharing,
    central: CENTRAL,
    auditCentralAccess: (tenant, claims, request) =>
      identity.store.audit.append(tenant, {
        action: 'central_access',
        actor: `${CENTRAL}/${claims.subject}`,
        address: request.ip,
        target: `${request.method} ${request.url.split('?')[0]}`,
        detail: { roles: claims.roles },
      }),
  });
  const plugin: FastifyPluginAsync = async (app) => {
    await app.register(oauthRoutes({ server, keyring, issuerBase: deps.settings.issuerBase, tenantStatus: deps.tenantStatus }));
    await app.register(keyRoutes({ keyring, authenticate, audit: identity.audit, forget: (tenant) => verifier.forget(tenant) }));
  };
  return { authenticate, server, verifier, plugin };
}

export type AuthContext = ReturnType<typeof createAuthContext>;
