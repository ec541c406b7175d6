import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Platform } from '../../src/platform/platform.js';
import { type Api, apiClient, expectStatus } from '../api/client.js';
import { login } from '../support/platform.js';

export interface SecurityContext {
  platform(): Platform;
  /** A client acting as `central`'s admin. */
  central(): Api;
  /** A tenant id unique to this run (the HSM token is shared by runs), deleted when the suite ends. */
  tenantId(label: string): string;
}

/** The password every tenant admin and user of the suite sets (it meets the password policy). */
export const PASSWORD = 'correct-horse-battery-staple';

/** Lasts longer than any test: a nonce of the run, so that tenant ids never collide on a shared HSM token. */
const RUN = randomBytes(3).toString('hex');
let count = 0;
export const uniqueTenantId = (label: string) => `${label}-${++count}-${RUN}`;

/** A module with an entity to lock down, an entity left open, and an owner field for `$user` filters. */
export const VAULT = {
  title: 'Vault',
  entities: {
    secret: {
      fields: {
        title: { type: 'string', required: true },
        owner: { type: 'string' },
        salary: { type: 'number' },
        status: { type: 'enum', values: ['open', 'closed'], default: 'open' },
      },
    },
    note: { fields: { text: { type: 'string' } } },
  },
};

export const records = (tenant: string, entity = 'secret') => `/t/${tenant}/data/vault/${entity}`;

/** The platforms' public URL (config `publicUrl`): issuers are `<PUBLIC_URL>/t/{tenant}`, and it is the origin of their pages. */
export const PUBLIC_URL = 'https://backoffice.test';
export const issuer = (tenant: string) => `${PUBLIC_URL}/t/${tenant}`;

/**
 * A new tenant whose admin has changed the one-time password; returns a client of that admin.
 * The tenant is created by central's admin (`central`).
 */
export async function adminTenant(context: SecurityContext, label: string): Promise<{ tenant: string; admin: Api }> {
  const tenant = context.tenantId(label);
  const created = expectStatus(await context.central().post('/t/central/tenants', { id: tenant, name: tenant }), 201);
  const { app } = context.platform();
  const first = await login(app, tenant, 'admin', created.admin.password);
  expectStatus(
    await apiClient(app, first.accessToken).post(`/t/${tenant}/users/admin/password`, {
      currentPassword: created.admin.password,
      newPassword: PASSWORD,
    }),
    204,
  );
  return { tenant, admin: apiClient(app, (await login(app, tenant, 'admin', PASSWORD)).accessToken) };
}

/** A tenant with the vault module, as `adminTenant`. */
export async function vaultTenant(context: SecurityContext, label: string) {
  const created = await adminTenant(context, label);
  expectStatus(await created.admin.put(`/t/${created.tenant}/modules/vault`, VAULT), 201);
  return created;
}

/** Defines a role, creates a user holding it, logs the user in: a client with the user's token. */
export async function userWithRole(
  app: FastifyInstance,
  admin: Api,
  tenant: string,
  role: { name: string; permissions: unknown[] },
  username = `${role.name}-user`,
): Promise<Api> {
  expectStatus(await admin.put(`/t/${tenant}/roles/${role.name}`, { permissions: role.permissions }), 201);
  expectStatus(await admin.post(`/t/${tenant}/users`, { username, password: PASSWORD, roles: [role.name] }), 201);
  return apiClient(app, (await login(app, tenant, username, PASSWORD)).accessToken);
}

export interface TokenReply {
  status: number;
  headers: Record<string, unknown>;
  body: Record<string, unknown>;
  /** The `bo_refresh` cookie's value, when the reply sets one. */
  cookie: string | undefined;
  setCookie: string;
}

/** A form POST to one of the tenant's OAuth endpoints (`token`, `revoke`, `introspect`, `logout`). */
export async function oauth(
  app: FastifyInstance,
  tenant: string,
  endpoint: string,
  form: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<TokenReply> {
  const response = await app.inject({
    method: 'POST',
    url: `/t/${tenant}/oauth/${endpoint}`,
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    payload: new URLSearchParams(form).toString(),
  });
  const setCookie = String(response.headers['set-cookie'] ?? '');
  return {
    status: response.statusCode,
    headers: response.headers,
    body: response.body === '' ? {} : response.json(),
    cookie: /bo_refresh=([^;]*)/.exec(setCookie)?.[1],
    setCookie,
  };
}

/** An RFC 6749 error answer (§5.2): the status and `error`, a description, JSON, never cached. */
export function expectOAuthError(reply: TokenReply, status: number, error: string): void {
  assert.equal(reply.status, status, `expected ${status} ${error}, got ${reply.status} ${JSON.stringify(reply.body)}`);
  assert.equal(reply.body.error, error, JSON.stringify(reply.body));
  assert.equal(typeof reply.body.error_description, 'string');
  assert.match(String(reply.headers['content-type']), /^application\/json/);
  assert.equal(reply.headers['cache-control'], 'no-store');
}

/** A successful grant: a Bearer access token. */
export function expectGrant(reply: TokenReply): string {
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  assert.equal(reply.body.token_type, 'Bearer');
  assert.equal(typeof reply.body.access_token, 'string');
  return reply.body.access_token as string;
}

const base64url = (value: unknown) =>
  (value instanceof Uint8Array ? Buffer.from(value) : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value))).toString(
    'base64url',
  );

/**
 * A token signed by the tenant's real current key with claims of our choosing: only the claims can
 * make it invalid. `claims` and `header` are merged over those of a valid admin token of `tenant`.
 */
export async function forgeToken(
  context: SecurityContext,
  tenant: string,
  claims: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
  signer = tenant,
): Promise<string> {
  const { security } = context.platform();
  const { kid } = await security.keyring.signingKey(signer);
  const now = Math.floor(Date.now() / 1000);
  const payload = {
    iss: issuer(tenant),
    sub: 'admin',
    aud: 'backoffice',
    iat: now,
    nbf: now,
    exp: now + 300,
    jti: randomUUID(),
    tid: tenant,
    roles: ['admin'],
    scope: 'api',
    ...claims,
  };
  const input = `${base64url({ alg: 'ES256', typ: 'at+jwt', kid, ...header })}.${base64url(payload)}`;
  const signature = await security.vault.sign(signer, kid, Buffer.from(input));
  return `${input}.${base64url(signature)}`;
}

/** The actions of the tenant's audit log, oldest first, as its admin (or central) reads them. */
export async function auditActions(api: Api, tenant: string): Promise<{ action: string; actor: string; target: string | null }[]> {
  const items: { id: string; action: string; actor: string; target: string | null }[] = [];
  for (let after = '0'; ; ) {
    const page = expectStatus(await api.get(`/t/${tenant}/audit?after=${after}&limit=1000`), 200);
    items.push(...page.items);
    if (page.items.length < 1000) return items;
    after = page.items.at(-1).id;
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
