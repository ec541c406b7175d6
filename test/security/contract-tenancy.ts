import assert from 'node:assert/strict';
import { it } from 'node:test';
import { decodeJwt } from 'jose';
import { apiClient, expectProblem, expectStatus } from '../api/client.js';
import { login } from '../support/platform.js';
import {
  adminTenant,
  expectGrant,
  expectOAuthError,
  oauth,
  PASSWORD,
  PUBLIC_URL,
  records,
  type SecurityContext,
  vaultTenant,
} from './fixtures.js';

/** Suspension, deletion and a new tenant's one-time admin password (API.md, "Tenancy"; docs/identity.md). */
export function tenancyCases(context: SecurityContext): void {
  const app = () => context.platform().app;
  const central = () => context.central();
  const password = (tenant: string, username: string, extra: Record<string, string> = {}) =>
    oauth(app(), tenant, 'token', { grant_type: 'password', username, password: PASSWORD, ...extra });

  it('answers 403 tenant_suspended to the tokens of a suspended tenant at once, refuses its logins, and resumes', async () => {
    const { tenant, admin } = await adminTenant(context, 'suspend');
    const { refreshToken } = await login(app(), tenant, 'admin', PASSWORD);
    const client = expectStatus(await admin.post(`/t/${tenant}/clients`, { name: 'robot', roles: ['admin'] }), 201);
    expectStatus(await admin.get(`/t/${tenant}/modules`), 200);

    expectStatus(await central().patch(`/t/central/tenants/${tenant}`, { status: 'suspended' }), 200);
    expectProblem(await admin.get(`/t/${tenant}/modules`), 403, 'tenant_suspended');
    expectProblem(await admin.get(`/t/${tenant}/users`), 403, 'tenant_suspended');
    expectOAuthError(await password(tenant, 'admin'), 400, 'invalid_grant');
    expectOAuthError(
      await oauth(app(), tenant, 'token', { grant_type: 'refresh_token', refresh_token: refreshToken as string }),
      400,
      'invalid_grant',
    );
    expectOAuthError(
      await oauth(app(), tenant, 'token', { grant_type: 'client_credentials', client_id: client.id, client_secret: client.secret }),
      400,
      'invalid_grant',
    );
    assert.equal(expectStatus(await central().get(`/t/central/tenants/${tenant}`), 200).status, 'suspended');

    expectStatus(await central().patch(`/t/central/tenants/${tenant}`, { status: 'active' }), 200);
    expectStatus(await admin.get(`/t/${tenant}/modules`), 200);
    expectStatus(await apiClient(app(), expectGrant(await password(tenant, 'admin'))).get(`/t/${tenant}/modules`), 200);
  });

  it('destroys a deleted tenant: its tokens 401, its JWKS and discovery 404, its keys, events and audit gone', async () => {
    const { tenant, admin } = await vaultTenant(context, 'doomed');
    expectStatus(await admin.post(records(tenant), { title: 'classified' }), 201);
    const { platform } = context;
    const kids = (await platform().security.vault.list(tenant)).map((key) => key.kid);
    assert.equal(kids.length, 2);
    assert.ok((await platform().storage.events.readTenant(tenant)).length > 0);

    expectStatus(await central().delete(`/t/central/tenants/${tenant}`), 204);
    expectProblem(await admin.get(`/t/${tenant}/modules`), 401, 'unauthorized');
    expectProblem(await admin.get(records(tenant)), 401, 'unauthorized');
    const anonymous = apiClient(app());
    expectProblem(await anonymous.get(`/t/${tenant}/.well-known/jwks.json`), 404, 'not_found');
    expectProblem(await anonymous.get(`/t/${tenant}/.well-known/openid-configuration`), 404, 'not_found');
    expectProblem(await central().get(`/t/central/tenants/${tenant}`), 404, 'not_found');
    expectProblem(await central().get(`/t/${tenant}/modules`), 404, 'not_found');
    const loginReply = await password(tenant, 'admin');
    assert.deepEqual([loginReply.status, loginReply.body.code], [404, 'not_found']);

    assert.deepEqual(await platform().security.vault.list(tenant), []);
    for (const kid of kids) await assert.rejects(platform().security.vault.sign(tenant, kid, Buffer.from('x')), { code: 'not_found' });
    assert.deepEqual(await platform().storage.events.readTenant(tenant), []);
    assert.deepEqual(await platform().security.identity.store.audit.list(tenant, { limit: 10 }), []);
    assert.equal(await platform().security.identity.store.credentials.get(tenant, 'user', 'admin'), undefined);
  });

  it("never gives a deleted tenant's id again, so that its tokens cannot come back to life", async () => {
    const { tenant, admin } = await adminTenant(context, 'reborn');
    const unused = (await login(app(), tenant, 'admin', PASSWORD)).accessToken;
    expectStatus(await admin.get(`/t/${tenant}/modules`), 200);
    expectStatus(await central().delete(`/t/central/tenants/${tenant}`), 204);
    expectProblem(await central().post('/t/central/tenants', { id: tenant, name: 'Reborn' }), 409, 'already_exists');
    expectProblem(await admin.get(`/t/${tenant}/modules`), 401, 'unauthorized');
    expectProblem(await apiClient(app(), unused).get(`/t/${tenant}/modules`), 401, 'unauthorized');
  });

  it("limits a new tenant admin's one-time password to changing it, then logs in normally", async () => {
    const tenant = context.tenantId('fresh');
    const created = expectStatus(await central().post('/t/central/tenants', { id: tenant, name: 'Fresh' }), 201);
    assert.equal(created.admin.username, 'admin');
    const oneTime = created.admin.password as string;
    assert.ok(oneTime.length >= 12);

    const first = await oauth(app(), tenant, 'token', { grant_type: 'password', username: 'admin', password: oneTime });
    const token = expectGrant(first);
    assert.equal(first.cookie, undefined, 'no refresh token before the change');
    assert.equal(decodeJwt(token).scope, 'password_change');
    const api = apiClient(app(), token);
    expectProblem(await api.get(`/t/${tenant}/modules`), 403, 'password_change_required');
    expectProblem(await api.get(`/t/${tenant}/users`), 403, 'password_change_required');
    expectProblem(await api.get(`/t/${tenant}/users/admin`), 403, 'password_change_required');
    expectProblem(
      await api.post(`/t/${tenant}/users`, { username: 'x', password: PASSWORD, roles: ['admin'] }),
      403,
      'password_change_required',
    );
    expectProblem(await api.put(`/t/${tenant}/modules/vault`, { entities: {} }), 403, 'password_change_required');
    expectProblem(await api.post(`/t/${tenant}/keys/rotate`), 403, 'password_change_required');
    expectProblem(await api.get(`/t/${tenant}/audit`), 403, 'password_change_required');

    const change = (body: unknown) => api.post(`/t/${tenant}/users/admin/password`, body);
    expectProblem(await change({ currentPassword: 'not-the-password', newPassword: PASSWORD }), 400, 'validation_failed');
    expectProblem(await change({ currentPassword: oneTime, newPassword: 'short' }), 400, 'validation_failed');
    expectStatus(await change({ currentPassword: oneTime, newPassword: PASSWORD }), 204);

    expectOAuthError(
      await oauth(app(), tenant, 'token', { grant_type: 'password', username: 'admin', password: oneTime }),
      400,
      'invalid_grant',
    );
    const normal = await password(tenant, 'admin');
    const full = expectGrant(normal);
    assert.equal(decodeJwt(full).scope, 'api');
    assert.ok(normal.cookie, 'a refresh token now');
    expectStatus(await apiClient(app(), full).get(`/t/${tenant}/modules`), 200);
    expectGrant(
      await oauth(app(), tenant, 'token', { grant_type: 'refresh_token' }, { cookie: `bo_refresh=${normal.cookie}`, origin: PUBLIC_URL }),
    );
  });
}
