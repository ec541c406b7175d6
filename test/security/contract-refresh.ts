import assert from 'node:assert/strict';
import { it } from 'node:test';
import { apiClient, expectStatus } from '../api/client.js';
import { login } from '../support/platform.js';
import { adminTenant, auditActions, expectGrant, expectOAuthError, oauth, PASSWORD, PUBLIC_URL, type SecurityContext } from './fixtures.js';

/** Refresh tokens in the cookie, their rotation and family revocation, RFC 7009 and RFC 7662 (docs/identity.md). */
export function refreshCases(context: SecurityContext): void {
  const app = () => context.platform().app;
  const SAME_ORIGIN = { origin: PUBLIC_URL };

  /** A refresh the browser way: the cookie, and the Origin of our own pages. */
  const refresh = (tenant: string, cookie: string | undefined, headers: Record<string, string> = SAME_ORIGIN) =>
    oauth(app(), tenant, 'token', { grant_type: 'refresh_token' }, { cookie: `bo_refresh=${cookie}`, ...headers });

  async function loggedIn(label: string) {
    const { tenant, admin } = await adminTenant(context, label);
    const { refreshToken } = await login(app(), tenant, 'admin', PASSWORD);
    assert.ok(refreshToken);
    return { tenant, admin, cookie: refreshToken };
  }

  it('rotates the refresh token on every use: a new cookie each time, the old one then refused', async () => {
    const { tenant, cookie } = await loggedIn('rotate');
    const seen = [cookie];
    for (let i = 0; i < 3; i++) {
      const reply = await refresh(tenant, seen.at(-1));
      expectStatus(await apiClient(app(), expectGrant(reply)).get(`/t/${tenant}/modules`), 200);
      assert.ok(reply.cookie && !seen.includes(reply.cookie), 'a new refresh token');
      seen.push(reply.cookie);
    }
    // The form field (non-browser clients) rotates the same way.
    const viaForm = await oauth(app(), tenant, 'token', { grant_type: 'refresh_token', refresh_token: seen.at(-1) as string });
    expectGrant(viaForm);
    assert.ok(viaForm.cookie && !seen.includes(viaForm.cookie));
    expectOAuthError(await refresh(tenant, seen[0]), 400, 'invalid_grant');
  });

  it('revokes the whole family when a rotated token is presented again: the newest token dies too', async () => {
    const { tenant, admin, cookie: first } = await loggedIn('reuse');
    const second = (await refresh(tenant, first)).cookie;
    const newest = (await refresh(tenant, second)).cookie;
    const other = (await login(app(), tenant, 'admin', PASSWORD)).refreshToken;
    expectOAuthError(await refresh(tenant, second), 400, 'invalid_grant');
    expectOAuthError(await refresh(tenant, newest), 400, 'invalid_grant');
    expectOAuthError(await refresh(tenant, first), 400, 'invalid_grant');
    expectGrant(await refresh(tenant, other));
    const reuse = (await auditActions(admin, tenant)).filter((entry) => entry.action === 'token_reuse');
    assert.deepEqual(
      reuse.map((entry) => [entry.actor, entry.target]),
      [[`${tenant}/admin`, 'admin']],
    );
  });

  it("refuses tenant A's refresh cookie at tenant B's token endpoint, and leaves it usable at A", async () => {
    const a = await loggedIn('cookie-a');
    const b = await adminTenant(context, 'cookie-b');
    expectOAuthError(await refresh(b.tenant, a.cookie), 400, 'invalid_grant');
    expectOAuthError(await oauth(app(), b.tenant, 'token', { grant_type: 'refresh_token', refresh_token: a.cookie }), 400, 'invalid_grant');
    expectGrant(await refresh(a.tenant, a.cookie));
  });

  it('refuses a cookie refresh without Origin or X-Requested-With, or from another origin (CSRF): 403 invalid_request', async () => {
    const { tenant, cookie } = await loggedIn('csrf');
    expectOAuthError(await refresh(tenant, cookie, {}), 403, 'invalid_request');
    expectOAuthError(await refresh(tenant, cookie, { origin: 'https://evil.example' }), 403, 'invalid_request');
    expectOAuthError(await refresh(tenant, cookie, { origin: 'null' }), 403, 'invalid_request');
    expectOAuthError(
      await refresh(tenant, cookie, { origin: 'https://evil.example', 'x-requested-with': 'XMLHttpRequest' }),
      403,
      'invalid_request',
    );
    // The refused requests used nothing up: the same cookie works from our own origin.
    const sameOrigin = await refresh(tenant, cookie);
    expectGrant(sameOrigin);
    expectGrant(await refresh(tenant, sameOrigin.cookie, { 'x-requested-with': 'XMLHttpRequest' }));
  });

  it('logs out: the cookie is cleared and its family is dead', async () => {
    const { tenant, admin, cookie } = await loggedIn('logout');
    const rotated = (await refresh(tenant, cookie)).cookie;
    expectOAuthError(await oauth(app(), tenant, 'logout', {}, { cookie: `bo_refresh=${rotated}` }), 403, 'invalid_request');
    const reply = await oauth(app(), tenant, 'logout', {}, { cookie: `bo_refresh=${rotated}`, ...SAME_ORIGIN });
    assert.equal(reply.status, 204);
    assert.match(reply.setCookie, /^bo_refresh=;/);
    assert.match(reply.setCookie, /Max-Age=0/);
    assert.ok(reply.setCookie.includes(`Path=/t/${tenant}/oauth`), reply.setCookie);
    expectOAuthError(await refresh(tenant, rotated), 400, 'invalid_grant');
    expectOAuthError(await refresh(tenant, cookie), 400, 'invalid_grant');
    assert.ok((await auditActions(admin, tenant)).some((entry) => entry.action === 'logout'));
  });

  it('revokes a refresh token (RFC 7009): 200, then the token and its family are refused', async () => {
    const { tenant, cookie } = await loggedIn('revoke');
    const rotated = (await refresh(tenant, cookie)).cookie as string;
    const revoked = await oauth(app(), tenant, 'revoke', { token: rotated, token_type_hint: 'refresh_token' });
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    expectOAuthError(await refresh(tenant, rotated), 400, 'invalid_grant');
    // Unknown and already revoked tokens are not errors (RFC 7009 §2.2).
    assert.equal((await oauth(app(), tenant, 'revoke', { token: rotated })).status, 200);
    assert.equal((await oauth(app(), tenant, 'revoke', { token: 'never-issued' })).status, 200);
    const access = (await login(app(), tenant, 'admin', PASSWORD)).accessToken;
    expectOAuthError(await oauth(app(), tenant, 'revoke', { token: access }), 400, 'unsupported_token_type');
  });

  it('requires client authentication for introspection and tells active tokens from inactive ones', async () => {
    const { tenant, admin, cookie } = await loggedIn('introspect');
    const other = await adminTenant(context, 'introspect');
    const client = expectStatus(await admin.post(`/t/${tenant}/clients`, { name: 'gateway', roles: [] }), 201);
    const credentials = { client_id: client.id, client_secret: client.secret };
    const access = (await login(app(), tenant, 'admin', PASSWORD)).accessToken;

    expectOAuthError(await oauth(app(), tenant, 'introspect', { token: access }), 401, 'invalid_client');
    expectOAuthError(
      await oauth(app(), tenant, 'introspect', { token: access, ...credentials, client_secret: 'wrong' }),
      401,
      'invalid_client',
    );
    expectOAuthError(await oauth(app(), other.tenant, 'introspect', { token: access, ...credentials }), 401, 'invalid_client');

    const introspect = async (token: string) => {
      const reply = await oauth(app(), tenant, 'introspect', { token, ...credentials });
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      return reply.body;
    };
    const active = await introspect(access);
    assert.deepEqual([active.active, active.sub, active.tid, active.scope], [true, 'admin', tenant, 'api']);
    const live = await introspect(cookie);
    assert.deepEqual([live.active, live.sub, live.tid], [true, 'admin', tenant]);

    const rotated = (await refresh(tenant, cookie)).cookie as string;
    assert.deepEqual(await introspect(cookie), { active: false }, 'a used refresh token');
    assert.equal((await introspect(rotated)).active, true);
    await oauth(app(), tenant, 'revoke', { token: rotated });
    assert.deepEqual(await introspect(rotated), { active: false }, 'a revoked refresh token');
    assert.deepEqual(await introspect((await login(app(), other.tenant, 'admin', PASSWORD)).accessToken), { active: false });
    assert.deepEqual(await introspect('not-a-token'), { active: false });
    assert.deepEqual(await introspect(`${access.slice(0, -4)}AAAA`), { active: false });
  });
}
