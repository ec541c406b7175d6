import { decodeJwt, decodeProtectedHeader, importJWK, type JWK, type JWTPayload, jwtVerify } from 'jose';
import { TENANT_ID } from '../kernel/ids.js';

/** The claims of a Backoffice access token that a resource server relies on. */
export interface AccessClaims {
  tenant: string;
  subject: string;
  roles: string[];
  scope: string;
  tokenId: string;
  expiresAt: number;
}

export type KeySource = (tenant: string) => Promise<JWK[]>;

export interface VerifierOptions {
  /** `<base>` of the issuer `<base>/t/{tenant}`. */
  issuerBase: string;
  keys: KeySource;
  audience?: string;
  clockToleranceSeconds?: number;
  /** An unknown `kid` refreshes a tenant's keys at most this often. */
  refreshIntervalMs?: number;
  /** Checked before any key lookup: a token naming a tenant that does not exist costs no vault search. */
  tenantExists?: (tenant: string) => Promise<boolean>;
}

export class TokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenError';
  }
}

const MAX_CACHED_TENANTS = 10_000;

type VerificationKey = Awaited<ReturnType<typeof importJWK>>;
type CachedKeys = { keys: Map<string, VerificationKey>; refreshedAt: number };

/**
 * Verifies Backoffice access tokens statelessly: the algorithm is pinned to ES256, the key is found
 * by `kid` among the issuing tenant's published keys only (`jku`, `x5u` and embedded `jwk` headers
 * are never followed), and issuer, audience, expiry and the tenant claim must all match. Usable by
 * other services with `httpKeySource`.
 */
export function createTokenVerifier(options: VerifierOptions) {
  const audience = options.audience ?? 'backoffice';
  const refreshIntervalMs = options.refreshIntervalMs ?? 10_000;
  const cache = new Map<string, CachedKeys>();

  async function refresh(tenant: string): Promise<CachedKeys> {
    const jwks = await options.keys(tenant);
    const keys = new Map<string, VerificationKey>();
    for (const jwk of jwks)
      if (jwk.kid && jwk.kty === 'EC' && jwk.crv === 'P-256') keys.set(jwk.kid, await importJWK({ ...jwk, alg: 'ES256' }, 'ES256'));
    const entry = { keys, refreshedAt: Date.now() };
    cache.delete(tenant);
    cache.set(tenant, entry);
    // The tenant comes from a token not yet verified: the cache is bounded, oldest refreshed first out.
    if (cache.size > MAX_CACHED_TENANTS) cache.delete(cache.keys().next().value as string);
    return entry;
  }

  async function keyFor(tenant: string, kid: string): Promise<VerificationKey> {
    let entry = cache.get(tenant) ?? (await refresh(tenant));
    if (!entry.keys.has(kid) && Date.now() - entry.refreshedAt >= refreshIntervalMs) entry = await refresh(tenant);
    const key = entry.keys.get(kid);
    if (!key) throw new TokenError('unknown key');
    return key;
  }

  return {
    async verify(token: string): Promise<AccessClaims> {
      const { alg, kid, typ } = safely(() => decodeProtectedHeader(token));
      if (alg !== 'ES256' || typeof kid !== 'string' || typ !== 'at+jwt') throw new TokenError('unsupported token header');
      const tenant = safely(() => decodeJwt(token)).tid;
      if (typeof tenant !== 'string' || !TENANT_ID.test(tenant)) throw new TokenError('no tenant claim');
      if (options.tenantExists && !(await options.tenantExists(tenant))) throw new TokenError('unknown tenant');
      const tolerance = options.clockToleranceSeconds ?? 5;
      const { payload } = await jwtVerify(token, await keyFor(tenant, kid), {
        algorithms: ['ES256'],
        issuer: `${options.issuerBase}/t/${tenant}`,
        audience,
        clockTolerance: tolerance,
        typ: 'at+jwt',
        requiredClaims: ['sub', 'exp', 'iat', 'jti', 'tid'],
      }).catch(() => {
        throw new TokenError('invalid token');
      });
      // jose checks `iat` only with maxTokenAge: a token issued in the future is not valid yet either.
      if (Number(payload.iat) > Date.now() / 1000 + tolerance) throw new TokenError('token issued in the future');
      return claimsOf(payload, tenant);
    },
    /** Drops cached keys (after a rotation or a tenant's deletion). */
    forget(tenant: string): void {
      cache.delete(tenant);
    },
  };
}

export type TokenVerifier = ReturnType<typeof createTokenVerifier>;

function claimsOf(payload: JWTPayload, tenant: string): AccessClaims {
  const roles = Array.isArray(payload.roles) ? payload.roles.filter((role): role is string => typeof role === 'string') : [];
  return {
    tenant,
    subject: String(payload.sub),
    roles,
    scope: typeof payload.scope === 'string' ? payload.scope : '',
    tokenId: String(payload.jti),
    expiresAt: Number(payload.exp),
  };
}

function safely<T>(decode: () => T): T {
  try {
    return decode();
  } catch {
    throw new TokenError('malformed token');
  }
}

/** For services outside the platform: a tenant's keys from its published JWKS. */
export function httpKeySource(issuerBase: string): KeySource {
  return async (tenant) => {
    const response = await fetch(`${issuerBase}/t/${tenant}/.well-known/jwks.json`);
    if (!response.ok) return [];
    const body = (await response.json()) as { keys?: JWK[] };
    return body.keys ?? [];
  };
}
