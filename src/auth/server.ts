import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { AuditEntry, ClientService, IdentityStore, RefreshToken, UserService } from '../identity/index.js';
import { attemptKeys, lockDurationMs, retryAfterSeconds } from '../identity/index.js';
import type { Keyring, KeyVault } from '../keys/index.js';
import { OAuthError } from './errors.js';
import { issueAccessToken } from './tokens.js';
import type { TokenVerifier } from './verifier.js';

/** The scope of an ordinary access token, and of one that may only change its password. */
export const API_SCOPE = 'api';
export const PASSWORD_CHANGE_SCOPE = 'password_change';

export interface TokenSettings {
  /** `<base>` of every issuer `<base>/t/{tenant}`. */
  issuerBase: string;
  accessTokenSeconds: number;
  refreshSlidingSeconds: number;
  refreshAbsoluteSeconds: number;
}

export interface TokenGrant {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
  /** Goes into the `bo_refresh` cookie, never into the body. */
  refreshToken?: { value: string; maxAgeSeconds: number };
}

export interface AuthServerDeps {
  settings: TokenSettings;
  vault: KeyVault;
  keyring: Keyring;
  verifier: TokenVerifier;
  users: UserService;
  clients: ClientService;
  store: IdentityStore;
  tenantStatus(tenant: string): Promise<'active' | 'suspended' | undefined>;
  audit(tenant: string, entry: AuditEntry): Promise<void>;
}

export const hashRefreshToken = (token: string) => createHash('sha256').update(token).digest('base64url');

/**
 * The grants of the authorization server (DESIGN.md decision 6), one tenant at a time: the
 * password grant with lockout, rotating refresh tokens with reuse detection, client credentials,
 * revocation (RFC 7009) and introspection (RFC 7662). HTTP lives in http-oauth.ts.
 */
export function createAuthServer(deps: AuthServerDeps) {
  const { settings, store } = deps;
  const sign = (tenant: string, kid: string, input: Uint8Array) => deps.vault.sign(tenant, kid, input);

  async function checkTenant(tenant: string): Promise<void> {
    const status = await deps.tenantStatus(tenant);
    if (status === undefined) throw new OAuthError(400, 'invalid_request', 'No such tenant');
    if (status === 'suspended') throw new OAuthError(400, 'invalid_grant', 'The tenant is suspended');
  }

  async function accessToken(tenant: string, subject: string, roles: string[], scope: string): Promise<TokenGrant> {
    const { kid } = await deps.keyring.signingKey(tenant);
    const { token } = await issueAccessToken(sign, {
      tenant,
      kid,
      issuer: `${settings.issuerBase}/t/${tenant}`,
      subject,
      roles,
      scope,
      lifetimeSeconds: settings.accessTokenSeconds,
    });
    return { access_token: token, token_type: 'Bearer', expires_in: settings.accessTokenSeconds, scope };
  }

  function nextRefresh(family: string, subject: string, roles: string[], now: Date, familyExpiresAt: Date, tenant: string) {
    const value = randomBytes(32).toString('base64url');
    const expiresAt = new Date(Math.min(now.getTime() + settings.refreshSlidingSeconds * 1000, familyExpiresAt.getTime()));
    const token: RefreshToken = {
      hash: hashRefreshToken(value),
      tenant,
      family,
      subject,
      roles,
      scope: API_SCOPE,
      issuedAt: now,
      expiresAt,
      familyExpiresAt,
      usedAt: null,
      revokedAt: null,
    };
    return { value, token, maxAgeSeconds: Math.max(1, Math.floor((expiresAt.getTime() - now.getTime()) / 1000)) };
  }

  async function checkLocks(tenant: string, keys: { user: string; address: string }, now: Date): Promise<void> {
    for (const key of [keys.user, keys.address]) {
      const state = await store.attempts.get(tenant, key);
      if (state?.lockedUntil && state.lockedUntil > now) {
        throw new OAuthError(429, 'rate_limited', 'Too many failed logins; retry later', retryAfterSeconds(state.lockedUntil, now));
      }
    }
  }

  async function recordFailure(tenant: string, username: string, address: string, keys: { user: string; address: string }, reason: string) {
    const now = new Date();
    const user = await store.attempts.recordFailure(tenant, keys.user, now, (failures) => lockDurationMs('user', failures));
    const byAddress = await store.attempts.recordFailure(tenant, keys.address, now, (failures) => lockDurationMs('address', failures));
    await deps.audit(tenant, {
      action: 'login_failed',
      actor: `${tenant}/${username}`,
      address,
      target: username,
      detail: { reason, failures: user.failures },
    });
    const locked = [user, byAddress].find((state) => state.lockedUntil && state.lockedUntil > now);
    if (locked?.lockedUntil) {
      await deps.audit(tenant, {
        action: 'lockout',
        actor: 'system',
        address,
        target: username,
        detail: { until: locked.lockedUntil.toISOString(), by: locked === user ? 'user' : 'address' },
      });
    }
  }

  return {
    async password(tenant: string, username: string, password: string, address: string): Promise<TokenGrant> {
      await checkTenant(tenant);
      const keys = attemptKeys(username, address);
      const now = new Date();
      await checkLocks(tenant, keys, now);
      const outcome = await deps.users.checkPassword(tenant, username, password);
      if ('refused' in outcome) {
        await recordFailure(tenant, username, address, keys, outcome.refused);
        throw new OAuthError(400, 'invalid_grant', 'The username or password is not right, or the user may not log in');
      }
      await store.attempts.reset(tenant, keys.user);
      const { user, changeRequired } = outcome;
      await deps.audit(tenant, { action: 'login', actor: `${tenant}/${username}`, address, target: username, detail: { changeRequired } });
      if (changeRequired) return accessToken(tenant, username, [], PASSWORD_CHANGE_SCOPE);
      const grant = await accessToken(tenant, username, user.roles, API_SCOPE);
      const familyExpiresAt = new Date(now.getTime() + settings.refreshAbsoluteSeconds * 1000);
      const refresh = nextRefresh(randomUUID(), username, user.roles, now, familyExpiresAt, tenant);
      await store.sessions.create(refresh.token);
      return { ...grant, refreshToken: { value: refresh.value, maxAgeSeconds: refresh.maxAgeSeconds } };
    },

    async refresh(tenant: string, presented: string, address: string): Promise<TokenGrant> {
      await checkTenant(tenant);
      const now = new Date();
      let issued: ReturnType<typeof nextRefresh> | undefined;
      const outcome = await store.sessions.rotate(
        tenant,
        hashRefreshToken(presented),
        (previous) => {
          issued = nextRefresh(previous.family, previous.subject, previous.roles, now, previous.familyExpiresAt, tenant);
          return issued.token;
        },
        now,
      );
      if (outcome.outcome === 'reused') {
        await deps.audit(tenant, {
          action: 'token_reuse',
          actor: `${tenant}/${outcome.previous.subject}`,
          address,
          target: outcome.previous.subject,
          detail: { family: outcome.previous.family },
        });
        throw new OAuthError(400, 'invalid_grant', 'The refresh token was already used; its session is revoked');
      }
      if (outcome.outcome === 'invalid' || !issued) throw new OAuthError(400, 'invalid_grant', 'The refresh token is not valid');
      // The user's current roles, not those of the login: a change of roles applies at the next refresh.
      const user = await deps.users.find(tenant, outcome.previous.subject);
      if (!user || user.disabled) {
        await store.sessions.revokeFamily(tenant, outcome.previous.family, now);
        throw new OAuthError(400, 'invalid_grant', 'The user may not log in');
      }
      const grant = await accessToken(tenant, user.username, user.roles, API_SCOPE);
      return { ...grant, refreshToken: { value: issued.value, maxAgeSeconds: issued.maxAgeSeconds } };
    },

    async clientCredentials(tenant: string, clientId: string, secret: string): Promise<TokenGrant> {
      const client = await this.authenticateClient(tenant, clientId, secret);
      await checkTenant(tenant);
      return accessToken(tenant, client.id, client.roles, API_SCOPE);
    },

    async authenticateClient(tenant: string, clientId: string, secret: string) {
      const client = await deps.clients.check(tenant, clientId, secret);
      if (!client) throw new OAuthError(401, 'invalid_client', 'Client authentication failed');
      return client;
    },

    /** RFC 7009: refresh tokens end their whole session; an unknown token is not an error. */
    async revoke(tenant: string, token: string, hint: string | undefined): Promise<void> {
      const found = await store.sessions.find(tenant, hashRefreshToken(token));
      if (found) {
        await store.sessions.revokeFamily(tenant, found.family, new Date());
        await deps.audit(tenant, {
          action: 'logout',
          actor: `${tenant}/${found.subject}`,
          address: null,
          target: found.subject,
          detail: {},
        });
        return;
      }
      if (hint === 'access_token' || token.split('.').length === 3)
        throw new OAuthError(
          400,
          'unsupported_token_type',
          'Access tokens are short-lived and cannot be revoked; revoke the refresh token',
        );
    },

    /** RFC 7662, for the tenant's own tokens only. */
    async introspect(tenant: string, token: string): Promise<Record<string, unknown>> {
      if (token.split('.').length === 3) {
        const claims = await deps.verifier.verify(token).catch(() => undefined);
        if (!claims || claims.tenant !== tenant || (await deps.tenantStatus(tenant)) !== 'active') return { active: false };
        return {
          active: true,
          token_type: 'Bearer',
          sub: claims.subject,
          tid: claims.tenant,
          roles: claims.roles,
          scope: claims.scope,
          exp: claims.expiresAt,
          jti: claims.tokenId,
          iss: `${settings.issuerBase}/t/${tenant}`,
          aud: 'backoffice',
        };
      }
      const found = await store.sessions.find(tenant, hashRefreshToken(token));
      const now = new Date();
      if (!found || found.usedAt || found.revokedAt || found.expiresAt <= now) return { active: false };
      return {
        active: true,
        token_type: 'refresh_token',
        sub: found.subject,
        tid: tenant,
        scope: found.scope,
        exp: Math.floor(found.expiresAt.getTime() / 1000),
        iat: Math.floor(found.issuedAt.getTime() / 1000),
      };
    },
  };
}

export type AuthServer = ReturnType<typeof createAuthServer>;
