import { createHmac, createPublicKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { it } from 'node:test';
import type { JWK } from 'jose';
import { apiClient, expectProblem, expectStatus } from '../api/client.js';
import { login } from '../support/platform.js';
import { adminTenant, forgeToken, issuer, PASSWORD, type SecurityContext } from './fixtures.js';

const base64url = (value: unknown) =>
  (Buffer.isBuffer(value) ? value : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value))).toString('base64url');
const parts = (token: string) => token.split('.') as [string, string, string];
const decode = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));

/** The resource-server check (API.md, "Conventions"; docs/identity.md, "Resource server"). */
export function tokenCases(context: SecurityContext): void {
  const app = () => context.platform().app;
  const now = () => Math.floor(Date.now() / 1000);

  /** 401 unauthorized on a tenant route, for each token. */
  async function refused(tenant: string, ...tokens: string[]) {
    for (const token of tokens) expectProblem(await apiClient(app(), token).get(`/t/${tenant}/modules`), 401, 'unauthorized');
  }

  it('accepts a token forged with the real key and valid claims (the control of the cases below)', async () => {
    const { tenant } = await adminTenant(context, 'control');
    expectStatus(await apiClient(app(), await forgeToken(context, tenant)).get(`/t/${tenant}/modules`), 200);
  });

  it('rejects alg none, with or without a signature', async () => {
    const { tenant } = await adminTenant(context, 'none');
    const [header, payload, signature] = parts(await forgeToken(context, tenant));
    const kid = decode(header).kid;
    const tokens = ['none', 'None', 'NONE'].flatMap((alg) => {
      const unsigned = base64url({ alg, typ: 'at+jwt', kid });
      return [`${unsigned}.${payload}.`, `${unsigned}.${payload}.${signature}`, `${unsigned}.${payload}`];
    });
    await refused(tenant, ...tokens);
  });

  it("rejects HS256 tokens keyed with the tenant's public key (algorithm confusion)", async () => {
    const { tenant } = await adminTenant(context, 'hmac');
    const [header, payload] = parts(await forgeToken(context, tenant));
    const kid = decode(header).kid;
    const jwks = expectStatus(await apiClient(app()).get(`/t/${tenant}/.well-known/jwks.json`), 200);
    const jwk = (jwks.keys as JWK[]).find((key) => key.kid === kid) as JWK & { x: string; y: string };
    const publicKey = createPublicKey({ key: jwk as never, format: 'jwk' });
    const secrets = [
      publicKey.export({ type: 'spki', format: 'pem' }),
      publicKey.export({ type: 'spki', format: 'der' }),
      Buffer.concat([Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]),
      Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]),
      JSON.stringify(jwk),
    ];
    const tokens = secrets.flatMap((secret) =>
      ['HS256', 'HS512'].map((alg) => {
        const input = `${base64url({ alg, typ: 'at+jwt', kid })}.${payload}`;
        const mac = createHmac(alg === 'HS256' ? 'sha256' : 'sha512', secret)
          .update(input)
          .digest();
        return `${input}.${base64url(mac)}`;
      }),
    );
    await refused(tenant, ...tokens);
  });

  it("rejects a token signed with another tenant's key that claims this tenant", async () => {
    const { tenant } = await adminTenant(context, 'victim');
    const attacker = await adminTenant(context, 'attacker');
    const theirs = await forgeToken(context, tenant, {}, {}, attacker.tenant);
    const ownKid = (await context.platform().security.keyring.signingKey(tenant)).kid;
    const borrowedKid = await forgeToken(context, tenant, {}, { kid: ownKid }, attacker.tenant);
    await refused(tenant, theirs, borrowedKid);
    // The attacker's own tenant does not accept it either: its claims name the victim.
    await refused(attacker.tenant, theirs);
  });

  it("answers 401 unauthorized to a valid token of tenant A on tenant B's routes", async () => {
    const a = await adminTenant(context, 'tenant-a');
    const b = await adminTenant(context, 'tenant-b');
    const token = (await login(app(), a.tenant, 'admin', PASSWORD)).accessToken;
    const api = apiClient(app(), token);
    expectStatus(await api.get(`/t/${a.tenant}/modules`), 200);
    expectStatus(
      await b.admin.put(`/t/${b.tenant}/modules/vault`, { entities: { secret: { fields: { title: { type: 'string' } } } } }),
      201,
    );
    expectProblem(await api.get(`/t/${b.tenant}/modules`), 401, 'unauthorized');
    expectProblem(await api.get(`/t/${b.tenant}/users`), 401, 'unauthorized');
    expectProblem(await api.get(`/t/${b.tenant}/data/vault/secret`), 401, 'unauthorized');
    expectProblem(await api.post(`/t/${b.tenant}/data/vault/secret`, { title: 'x' }), 401, 'unauthorized');
    expectProblem(await api.get(`/t/${b.tenant}/events`), 401, 'unauthorized');
    expectProblem(await api.post(`/t/${b.tenant}/keys/rotate`), 401, 'unauthorized');
    expectProblem(await api.get('/t/central/tenants'), 401, 'unauthorized');
  });

  it('rejects a wrong issuer, a wrong audience, a missing tenant claim', async () => {
    const { tenant } = await adminTenant(context, 'claims');
    const other = await adminTenant(context, 'claims');
    await refused(
      tenant,
      await forgeToken(context, tenant, { iss: `https://evil.example/t/${tenant}` }),
      await forgeToken(context, tenant, { iss: issuer(other.tenant) }),
      await forgeToken(context, tenant, { iss: undefined }),
      await forgeToken(context, tenant, { aud: 'someone-else' }),
      await forgeToken(context, tenant, { aud: ['someone-else'] }),
      await forgeToken(context, tenant, { aud: undefined }),
      await forgeToken(context, tenant, { tid: undefined }),
      await forgeToken(context, tenant, { tid: other.tenant }),
    );
  });

  it('rejects an expired token', async () => {
    const { tenant } = await adminTenant(context, 'expired');
    const t = now();
    await refused(tenant, await forgeToken(context, tenant, { iat: t - 1000, nbf: t - 1000, exp: t - 60 }));
    await refused(tenant, await forgeToken(context, tenant, { exp: undefined }));
  });

  it('rejects a token not yet valid: nbf or iat in the future beyond the clock tolerance', async () => {
    const { tenant } = await adminTenant(context, 'early');
    const t = now();
    await refused(
      tenant,
      await forgeToken(context, tenant, { nbf: t + 120, exp: t + 600 }),
      await forgeToken(context, tenant, { iat: t + 120, nbf: t + 120, exp: t + 600 }),
      await forgeToken(context, tenant, { iat: t + 120, nbf: undefined, exp: t + 600 }),
    );
  });

  it('rejects a token whose payload was changed after signing (roles raised)', async () => {
    const { tenant, admin } = await adminTenant(context, 'tamper');
    expectStatus(await admin.post(`/t/${tenant}/users`, { username: 'plain', password: PASSWORD, roles: [] }), 201);
    const token = (await login(app(), tenant, 'plain', PASSWORD)).accessToken;
    expectProblem(await apiClient(app(), token).get(`/t/${tenant}/users`), 403, 'forbidden');
    const [header, payload, signature] = parts(token);
    const raised = base64url({ ...decode(payload), roles: ['admin'] });
    const renamed = base64url({ ...decode(payload), sub: 'admin' });
    await refused(tenant, `${header}.${raised}.${signature}`, `${header}.${renamed}.${signature}`);
  });

  it('answers 401 to a flood of tokens with unknown kids or tenants and keeps serving', async () => {
    const { tenant, admin } = await adminTenant(context, 'flood');
    const tokens = await Promise.all(
      Array.from({ length: 200 }, () => forgeToken(context, tenant, {}, { kid: randomBytes(12).toString('base64url') })),
    );
    // Tokens naming tenants that do not exist: each looks up keys that are not there.
    for (let i = 0; i < 50; i++) {
      const nowhere = `nowhere-${randomBytes(6).toString('hex')}`;
      tokens.push(await forgeToken(context, tenant, { tid: nowhere, iss: issuer(nowhere) }));
    }
    for (let i = 0; i < tokens.length; i += 50) {
      const replies = await Promise.all(tokens.slice(i, i + 50).map((token) => apiClient(app(), token).get(`/t/${tenant}/modules`)));
      for (const reply of replies) expectProblem(reply, 401, 'unauthorized');
    }
    expectStatus(await admin.get(`/t/${tenant}/modules`), 200);
    expectStatus(await apiClient(app()).get('/healthz'), 200);
    expectStatus(await apiClient(app(), await forgeToken(context, tenant)).get(`/t/${tenant}/modules`), 200);
  });

  it("ignores jku, x5u and embedded jwk headers that point to an attacker's key", async () => {
    const { tenant } = await adminTenant(context, 'jku');
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const attackerJwk = { ...(publicKey.export({ format: 'jwk' }) as JWK), kid: 'attacker-1', alg: 'ES256', use: 'sig' };
    const [, payload] = parts(await forgeToken(context, tenant));
    const ownKid = (await context.platform().security.keyring.signingKey(tenant)).kid;
    const signed = (header: Record<string, unknown>) => {
      const input = `${base64url({ alg: 'ES256', typ: 'at+jwt', ...header })}.${payload}`;
      return `${input}.${base64url(sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }))}`;
    };
    await refused(
      tenant,
      signed({ kid: 'attacker-1', jku: 'https://attacker.example/jwks.json' }),
      signed({ kid: 'attacker-1', x5u: 'https://attacker.example/cert.pem' }),
      signed({ kid: 'attacker-1', jwk: attackerJwk }),
      signed({ jwk: attackerJwk }),
      signed({ kid: ownKid, jwk: attackerJwk }),
      signed({ kid: ownKid, jku: 'https://attacker.example/jwks.json', x5u: 'https://attacker.example/cert.pem' }),
    );
  });

  it('rejects malformed bearer credentials', async () => {
    const { tenant } = await adminTenant(context, 'malformed');
    const api = apiClient(app());
    const token = await forgeToken(context, tenant);
    for (const authorization of ['', 'Bearer', `Basic ${token}`, `Bearer ${token}x`, 'Bearer a.b.c', `Bearer ${token} ${token}`])
      expectProblem(await api.get(`/t/${tenant}/modules`, { authorization }), 401, 'unauthorized');
    expectProblem(await api.get(`/t/${tenant}/modules`), 401, 'unauthorized');
  });
}
