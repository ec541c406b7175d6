import assert from 'node:assert/strict';
import { it } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { apiClient, expectProblem, expectStatus } from '../api/client.js';
import {
  adminTenant,
  expectGrant,
  expectOAuthError,
  issuer as issuerOf,
  oauth,
  PASSWORD,
  type SecurityContext,
  uniqueTenantId,
} from './fixtures.js';

const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

/** Discovery, the grants' answers and the refresh cookie (API.md, "Authorization server"). */
export function oauthCases(context: SecurityContext): void {
  const app = () => context.platform().app;

  it('publishes the issuer, its endpoints, jwks_uri, grants and algorithms in the discovery document', async () => {
    const { tenant } = await adminTenant(context, 'disco');
    const api = apiClient(app());
    const discovery = expectStatus(await api.get(`/t/${tenant}/.well-known/openid-configuration`), 200);
    const issuer = issuerOf(tenant);
    assert.equal(discovery.issuer, issuer);
    assert.equal(discovery.token_endpoint, `${issuer}/oauth/token`);
    assert.equal(discovery.revocation_endpoint, `${issuer}/oauth/revoke`);
    assert.equal(discovery.introspection_endpoint, `${issuer}/oauth/introspect`);
    assert.equal(discovery.jwks_uri, `${issuer}/.well-known/jwks.json`);
    assert.deepEqual([...discovery.grant_types_supported].sort(), ['client_credentials', 'password', 'refresh_token']);
    assert.deepEqual(discovery.access_token_signing_alg_values_supported, ['ES256']);

    const jwks = expectStatus(await api.get(new URL(discovery.jwks_uri).pathname), 200);
    assert.ok(jwks.keys.length >= 2);
    for (const key of jwks.keys) {
      assert.deepEqual([key.kty, key.crv], ['EC', 'P-256']);
      assert.equal(key.d, undefined, 'no private part');
    }
    const token = decodeJwt(
      (await oauth(app(), tenant, 'token', { grant_type: 'password', username: 'admin', password: PASSWORD })).body.access_token as string,
    );
    assert.equal(token.iss, issuer, 'tokens carry the issuer that discovery announces');
    expectProblem(await api.get(`/t/${uniqueTenantId('nobody')}/.well-known/openid-configuration`), 404, 'not_found');
  });

  it('issues an ES256 access token with the documented claims for the password grant', async () => {
    const { tenant } = await adminTenant(context, 'claims');
    const reply = await oauth(app(), tenant, 'token', { grant_type: 'password', username: 'admin', password: PASSWORD });
    const token = expectGrant(reply);
    assert.equal(reply.body.refresh_token, undefined, 'the refresh token is only in the cookie');
    assert.equal(reply.headers['cache-control'], 'no-store');
    const header = decodeProtectedHeader(token);
    assert.deepEqual([header.alg, header.typ, typeof header.kid], ['ES256', 'at+jwt', 'string']);
    const claims = decodeJwt(token);
    assert.deepEqual([claims.sub, claims.aud, claims.tid, claims.roles, claims.scope], ['admin', 'backoffice', tenant, ['admin'], 'api']);
    assert.equal(Number(claims.exp) - Number(claims.iat), reply.body.expires_in);
    assert.equal(typeof claims.jti, 'string');

    const json = await apiClient(app()).post(`/t/${tenant}/oauth/token`, { grant_type: 'password', username: 'admin', password: PASSWORD });
    assert.equal(json.status, 200, json.text);
    assert.equal(decodeJwt(json.body.access_token).sub, 'admin', 'a JSON body works as the form');
  });

  it('sets the bo_refresh cookie HttpOnly, Secure, SameSite=Strict on the tenant oauth path only', async () => {
    const { tenant } = await adminTenant(context, 'cookie');
    const reply = await oauth(app(), tenant, 'token', { grant_type: 'password', username: 'admin', password: PASSWORD });
    expectGrant(reply);
    const [pair, ...attributes] = reply.setCookie.split(';').map((part) => part.trim());
    assert.match(pair ?? '', /^bo_refresh=[A-Za-z0-9_-]{40,}$/);
    const names = attributes.map((attribute) => attribute.split('=')[0]?.toLowerCase());
    assert.ok(names.includes('httponly'), reply.setCookie);
    assert.ok(names.includes('secure'), reply.setCookie);
    assert.ok(attributes.includes('SameSite=Strict'), reply.setCookie);
    assert.ok(attributes.includes(`Path=/t/${tenant}/oauth`), reply.setCookie);
    assert.ok(!attributes.some((attribute) => /^domain=/i.test(attribute)), 'host-only');
  });

  it('grants client_credentials with the secret in the body or in HTTP Basic, without a refresh token', async () => {
    const { tenant, admin } = await adminTenant(context, 'client');
    const client = expectStatus(await admin.post(`/t/${tenant}/clients`, { name: 'exporter', roles: ['admin'] }), 201);
    const body = await oauth(app(), tenant, 'token', {
      grant_type: 'client_credentials',
      client_id: client.id,
      client_secret: client.secret,
    });
    const viaBody = expectGrant(body);
    assert.equal(body.cookie, undefined, 'no refresh token for a client');
    assert.equal(decodeJwt(viaBody).sub, client.id);
    expectStatus(await apiClient(app(), viaBody).get(`/t/${tenant}/modules`), 200);

    const viaBasic = await oauth(
      app(),
      tenant,
      'token',
      { grant_type: 'client_credentials' },
      { authorization: basic(client.id, client.secret) },
    );
    expectStatus(await apiClient(app(), expectGrant(viaBasic)).get(`/t/${tenant}/modules`), 200);
    assert.equal(viaBasic.cookie, undefined);
  });

  it('refuses a wrong client secret with 401 invalid_client, in the body and in HTTP Basic', async () => {
    const { tenant, admin } = await adminTenant(context, 'badclient');
    const client = expectStatus(await admin.post(`/t/${tenant}/clients`, { name: 'exporter', roles: [] }), 201);
    const wrong = `${client.secret.slice(0, -2)}xx`;
    expectOAuthError(
      await oauth(app(), tenant, 'token', { grant_type: 'client_credentials', client_id: client.id, client_secret: wrong }),
      401,
      'invalid_client',
    );
    const viaBasic = await oauth(app(), tenant, 'token', { grant_type: 'client_credentials' }, { authorization: basic(client.id, wrong) });
    expectOAuthError(viaBasic, 401, 'invalid_client');
    assert.match(String(viaBasic.headers['www-authenticate']), /^Basic /);
    expectOAuthError(
      await oauth(app(), tenant, 'token', { grant_type: 'client_credentials', client_id: 'nobody', client_secret: client.secret }),
      401,
      'invalid_client',
    );
    expectOAuthError(await oauth(app(), tenant, 'token', { grant_type: 'client_credentials' }), 401, 'invalid_client');
    const other = await adminTenant(context, 'badclient');
    expectOAuthError(
      await oauth(app(), other.tenant, 'token', { grant_type: 'client_credentials', client_id: client.id, client_secret: client.secret }),
      401,
      'invalid_client',
    );
  });

  it('answers 400 unsupported_grant_type for a grant it does not implement', async () => {
    const { tenant } = await adminTenant(context, 'grant');
    for (const grant of ['authorization_code', 'implicit', 'urn:ietf:params:oauth:grant-type:jwt-bearer', 'PASSWORD'])
      expectOAuthError(await oauth(app(), tenant, 'token', { grant_type: grant, code: 'x' }), 400, 'unsupported_grant_type');
  });

  it('answers 400 invalid_request when a required field is missing', async () => {
    const { tenant } = await adminTenant(context, 'missing');
    expectOAuthError(await oauth(app(), tenant, 'token', {}), 400, 'invalid_request');
    expectOAuthError(await oauth(app(), tenant, 'token', { grant_type: 'password', username: 'admin' }), 400, 'invalid_request');
    expectOAuthError(await oauth(app(), tenant, 'token', { grant_type: 'password', password: PASSWORD }), 400, 'invalid_request');
    expectOAuthError(
      await oauth(app(), tenant, 'token', { grant_type: 'password', username: '', password: PASSWORD }),
      400,
      'invalid_request',
    );
    expectOAuthError(await oauth(app(), tenant, 'token', { grant_type: 'refresh_token' }), 400, 'invalid_request');
    expectOAuthError(await oauth(app(), tenant, 'revoke', {}), 400, 'invalid_request');
  });
}
