import assert from 'node:assert/strict';
import { it } from 'node:test';
import { apiClient, expectProblem, expectStatus } from '../api/client.js';
import { login } from '../support/platform.js';
import { adminTenant, auditActions, expectGrant, expectOAuthError, oauth, PASSWORD, type SecurityContext, sleep } from './fixtures.js';

const WRONG = 'wrong-horse-battery-staple';

/** Disabled users, lockout and the audit log (docs/identity.md, "Authorization server", "Audit log"). */
export function userCases(context: SecurityContext): void {
  const app = () => context.platform().app;
  const attempt = (tenant: string, username: string, password: string) =>
    oauth(app(), tenant, 'token', { grant_type: 'password', username, password });

  it('refuses logins of a disabled user with invalid_grant and kills its refresh tokens', async () => {
    const { tenant, admin } = await adminTenant(context, 'disabled');
    expectStatus(await admin.post(`/t/${tenant}/users`, { username: 'bob', password: PASSWORD, roles: ['admin'] }), 201);
    const { refreshToken } = await login(app(), tenant, 'bob', PASSWORD);
    assert.ok(refreshToken);

    expectStatus(await admin.patch(`/t/${tenant}/users/bob`, { disabled: true }), 200);
    const refused = await attempt(tenant, 'bob', PASSWORD);
    expectOAuthError(refused, 400, 'invalid_grant');
    const unknown = await attempt(tenant, 'nobody', PASSWORD);
    assert.equal(refused.body.error_description, unknown.body.error_description, 'a disabled user looks like a wrong password');
    expectOAuthError(
      await oauth(app(), tenant, 'token', { grant_type: 'refresh_token', refresh_token: refreshToken }),
      400,
      'invalid_grant',
    );

    expectStatus(await admin.patch(`/t/${tenant}/users/bob`, { disabled: false }), 200);
    expectOAuthError(
      await oauth(app(), tenant, 'token', { grant_type: 'refresh_token', refresh_token: refreshToken }),
      400,
      'invalid_grant',
    );
    expectGrant(await attempt(tenant, 'bob', PASSWORD));
  });

  it("gives a refreshed token the user's current roles, and ends the user's sessions when the password changes", async () => {
    const { tenant, admin } = await adminTenant(context, 'sessions');
    expectStatus(await admin.post(`/t/${tenant}/users`, { username: 'frank', password: PASSWORD, roles: ['admin'] }), 201);
    const { refreshToken } = await login(app(), tenant, 'frank', PASSWORD);
    expectStatus(await admin.patch(`/t/${tenant}/users/frank`, { roles: [] }), 200);
    const refreshed = await oauth(app(), tenant, 'token', { grant_type: 'refresh_token', refresh_token: refreshToken as string });
    const demoted = apiClient(app(), expectGrant(refreshed));
    expectProblem(await demoted.get(`/t/${tenant}/users`), 403, 'forbidden');

    const newPassword = 'another-horse-battery-staple';
    expectStatus(await demoted.post(`/t/${tenant}/users/frank/password`, { currentPassword: PASSWORD, newPassword }), 204);
    expectOAuthError(
      await oauth(app(), tenant, 'token', { grant_type: 'refresh_token', refresh_token: refreshed.cookie as string }),
      400,
      'invalid_grant',
    );
    expectOAuthError(await attempt(tenant, 'frank', PASSWORD), 400, 'invalid_grant');
    expectGrant(await attempt(tenant, 'frank', newPassword));
  });

  it('locks a user out after repeated wrong passwords: 429 rate_limited with Retry-After, even for the right password', async () => {
    const { tenant, admin } = await adminTenant(context, 'brute');
    expectStatus(await admin.post(`/t/${tenant}/users`, { username: 'carol', password: PASSWORD, roles: [] }), 201);
    for (let i = 1; i <= 5; i++) expectOAuthError(await attempt(tenant, 'carol', `${WRONG}-${i}`), 400, 'invalid_grant');
    // The 5th failure locks the user for 1 s (docs/identity.md, "Lockout").
    const locked = await attempt(tenant, 'carol', PASSWORD);
    expectOAuthError(locked, 429, 'rate_limited');
    const retryAfter = Number(locked.headers['retry-after']);
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After: ${locked.headers['retry-after']}`);
    expectOAuthError(await attempt(tenant, 'carol', WRONG), 429, 'rate_limited');
    // Another user of the tenant is not locked.
    expectGrant(await attempt(tenant, 'admin', PASSWORD));

    await sleep(retryAfter * 1000 + 100);
    expectGrant(await attempt(tenant, 'carol', PASSWORD));
    const entries = (await auditActions(admin, tenant)).filter((entry) => entry.target === 'carol');
    assert.deepEqual(
      entries.map((entry) => entry.action),
      ['user_created', 'login_failed', 'login_failed', 'login_failed', 'login_failed', 'login_failed', 'lockout', 'login'],
    );
  });

  it('audits logins, failed logins, lockouts, password and role changes, key rotations and central access', async () => {
    const { tenant, admin } = await adminTenant(context, 'audit');
    expectStatus(await admin.put(`/t/${tenant}/roles/clerk`, { permissions: [{ resource: 'modules', actions: ['read'] }] }), 201);
    expectStatus(await admin.post(`/t/${tenant}/users`, { username: 'dave', password: PASSWORD, roles: ['clerk'] }), 201);
    expectStatus(await admin.patch(`/t/${tenant}/users/dave`, { roles: [] }), 200);
    expectStatus(await admin.put(`/t/${tenant}/roles/clerk`, { permissions: [{ resource: 'keys', actions: ['read'] }] }), 200);
    for (let i = 0; i < 5; i++) await attempt(tenant, 'dave', WRONG);
    expectStatus(await admin.post(`/t/${tenant}/users/dave/password`, { newPassword: 'a-reset-passphrase-42' }), 204);
    const rotated = expectStatus(await admin.post(`/t/${tenant}/keys/rotate`), 200);
    const current = rotated.items.find((key: { state: string }) => key.state === 'current');
    expectStatus(await context.central().get(`/t/${tenant}/modules`), 200);

    const entries = await auditActions(admin, tenant);
    const has = (action: string, actor: string, target: string | null) =>
      assert.ok(
        entries.some((entry) => entry.action === action && entry.actor === actor && entry.target === target),
        `no ${action} by ${actor} on ${target} in ${JSON.stringify(entries)}`,
      );
    has('login', `${tenant}/admin`, 'admin');
    has('password_changed', `${tenant}/admin`, 'admin');
    has('role_changed', `${tenant}/admin`, 'clerk');
    has('user_changed', `${tenant}/admin`, 'dave');
    has('login_failed', `${tenant}/dave`, 'dave');
    has('lockout', 'system', 'dave');
    has('password_reset', `${tenant}/admin`, 'dave');
    has('key_rotated', `${tenant}/admin`, current.kid);
    has('central_access', 'central/admin', `GET /t/${tenant}/modules`);
    assert.equal(entries.filter((entry) => entry.action === 'role_changed' && entry.target === 'clerk').length, 2);
    const text = JSON.stringify(entries);
    for (const secret of [PASSWORD, WRONG, 'a-reset-passphrase-42']) assert.ok(!text.includes(secret), 'no password in the audit log');

    const reader = apiClient(app(), (await login(app(), tenant, 'admin', PASSWORD)).accessToken);
    expectStatus(await admin.post(`/t/${tenant}/users`, { username: 'erin', password: PASSWORD, roles: [] }), 201);
    const erin = apiClient(app(), (await login(app(), tenant, 'erin', PASSWORD)).accessToken);
    expectProblem(await erin.get(`/t/${tenant}/audit`), 403, 'forbidden');
    expectStatus(await reader.get(`/t/${tenant}/audit?limit=1`), 200);
  });
}
