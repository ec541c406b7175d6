import type { FastifyRequest } from 'fastify';
import type { Authenticate, AuthenticateOptions } from '../http/index.js';
import type { RoleDefinition } from '../identity/index.js';
import { principalFor } from '../identity/index.js';
import { AppError, type Principal } from '../kernel/index.js';
import { PASSWORD_CHANGE_SCOPE } from './server.js';
import type { AccessClaims, TokenVerifier } from './verifier.js';

export interface AuthenticatorDeps {
  verifier: TokenVerifier;
  tenantStatus(tenant: string): Promise<'active' | 'suspended' | undefined>;
  roles(tenant: string, names: readonly string[]): Promise<RoleDefinition[]>;
  /** The group an entity of the tenant is shared with, if any, and that group's members. */
  sharing(tenant: string, module: string, entity: string): Promise<ReadonlySet<string> | undefined>;
  /** Writes a central user's access to another tenant into that tenant's audit log. */
  auditCentralAccess(tenant: string, claims: AccessClaims, request: FastifyRequest): Promise<void>;
  central: string;
}

const MAX_CACHED_TOKENS = 50_000;

function bearerToken(request: FastifyRequest): string {
  const header = request.headers.authorization;
  const match = typeof header === 'string' ? /^Bearer ([A-Za-z0-9_.-]{1,8192})$/.exec(header.trim()) : null;
  if (!match?.[1]) throw new AppError('unauthorized', 'A bearer token is required');
  return match[1];
}

/**
 * The one resource-server check every route runs: a valid token (verified once, then remembered
 * until it expires), a live tenant, and the token's roles resolved in the tenant acted in.
 */
export function createAuthenticator(deps: AuthenticatorDeps): Authenticate {
  const verified = new Map<string, AccessClaims>();

  async function verify(token: string): Promise<AccessClaims> {
    const cached = verified.get(token);
    if (cached && cached.expiresAt * 1000 > Date.now()) return cached;
    const claims = await deps.verifier.verify(token).catch(() => {
      throw new AppError('unauthorized', 'The access token is not valid');
    });
    verified.set(token, claims);
    if (verified.size > MAX_CACHED_TOKENS) verified.delete(verified.keys().next().value as string);
    return claims;
  }

  async function principal(claims: AccessClaims, tenant: string): Promise<Principal> {
    const user = claims.tenant === tenant ? claims.subject : `${claims.tenant}/${claims.subject}`;
    return principalFor({ tenant: claims.tenant, user, roles: claims.roles }, await deps.roles(claims.tenant, claims.roles));
  }

  async function foreignAccess(claims: AccessClaims, tenant: string, options: AuthenticateOptions | undefined): Promise<boolean> {
    if (claims.tenant === deps.central) return true;
    if (!options?.entity) return false;
    const members = await deps.sharing(tenant, options.entity.module, options.entity.entity);
    return members?.has(tenant) === true && members.has(claims.tenant);
  }

  return async (request, tenant, options) => {
    const claims = await verify(bearerToken(request));
    const status = await deps.tenantStatus(claims.tenant);
    if (status === undefined) throw new AppError('unauthorized', 'The access token is not valid');
    if (status === 'suspended') throw new AppError('tenant_suspended', `Tenant ${claims.tenant} is suspended`);
    if (claims.scope === PASSWORD_CHANGE_SCOPE && !options?.passwordChange)
      throw new AppError('password_change_required', 'The password must be changed first');
    if (claims.tenant === tenant) return principal(claims, tenant);
    if (!(await foreignAccess(claims, tenant, options)))
      throw new AppError('unauthorized', `The access token was issued for another tenant`);
    if ((await deps.tenantStatus(tenant)) === undefined) throw new AppError('not_found', `No tenant ${tenant}`);
    if (claims.tenant === deps.central) await deps.auditCentralAccess(tenant, claims, request);
    return principal(claims, tenant);
  };
}
