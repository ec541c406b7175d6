/**
 * What bench/auth.ts needs on a fresh platform, made through its HTTP API as an operator would: the
 * central admin logs in, creates the tenant, defines `sales.orders`, a `reader` role, two service
 * clients and a user; then the records are created with a client's token.
 */
import autocannon from 'autocannon';
import { generatePassword } from '../src/identity/passwords.js';
import { collectionPath, MODULE, MODULE_DEFINITION, order } from './orders.js';

export const TENANT = 'acme';
export const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const SEED_CONNECTIONS = 32;

export interface ClientCredentials {
  id: string;
  secret: string;
}

export interface Provisioned {
  /** A client with the built-in `admin` role: the same access as the authentication-off baseline. */
  admin: ClientCredentials;
  /** A client with the `reader` role (read on `sales.*`): its permissions are resolved per request. */
  reader: ClientCredentials;
  user: { username: string; password: string };
}

async function call(url: string, method: string, path: string, init: { token?: string; body?: unknown; expect: number }) {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { ...(init.token ? { authorization: `Bearer ${init.token}` } : {}), 'content-type': 'application/json' },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  const text = await response.text();
  if (response.status !== init.expect) throw new Error(`${method} ${path}: expected ${init.expect}, got ${response.status} ${text}`);
  return text === '' ? undefined : JSON.parse(text);
}

/** A token from the token endpoint; the body is form-encoded, client credentials go in HTTP Basic. */
export async function grant(url: string, tenant: string, form: Record<string, string>, client?: ClientCredentials): Promise<string> {
  const response = await fetch(`${url}/t/${tenant}/oauth/token`, {
    method: 'POST',
    headers: { ...FORM, ...(client ? { authorization: basicAuth(client) } : {}) },
    body: new URLSearchParams(form).toString(),
  });
  const body = (await response.json()) as { access_token?: string };
  if (!response.ok || !body.access_token) throw new Error(`${form.grant_type} grant: ${response.status} ${JSON.stringify(body)}`);
  return body.access_token;
}

/** RFC 6749 §2.3.1: both parts form-encoded, then base64. */
export const basicAuth = (client: ClientCredentials) =>
  `Basic ${Buffer.from(`${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret)}`).toString('base64')}`;

export const clientToken = (url: string, client: ClientCredentials) => grant(url, TENANT, { grant_type: 'client_credentials' }, client);

export async function provision(url: string, adminPassword: string): Promise<Provisioned> {
  const central = await grant(url, 'central', { grant_type: 'password', username: 'admin', password: adminPassword });
  const as = (method: string, path: string, body: unknown, expect: number) => call(url, method, path, { token: central, body, expect });
  await as('POST', '/t/central/tenants', { id: TENANT, name: 'Acme' }, 201);
  await as('PUT', `/t/${TENANT}/modules/${MODULE}`, MODULE_DEFINITION, 201);
  await as('PUT', `/t/${TENANT}/roles/reader`, { permissions: [{ resource: `${MODULE}.*`, actions: ['read'] }] }, 201);
  const client = async (id: string, roles: string[]): Promise<ClientCredentials> => {
    const created = (await as('POST', `/t/${TENANT}/clients`, { id, roles }, 201)) as { secret: string };
    return { id, secret: created.secret };
  };
  const user = { username: 'bench-user', password: generatePassword() };
  await as('POST', `/t/${TENANT}/users`, { ...user, roles: ['reader'] }, 201);
  return { admin: await client('bench-admin', ['admin']), reader: await client('bench-reader', ['reader']), user };
}

/** Creates `count` orders through `POST`, SEED_CONNECTIONS at a time; their ids, and the time it took. */
export async function seedOrders(url: string, token: string, count: number): Promise<{ ids: string[]; seconds: number }> {
  const ids: string[] = [];
  let next = 0;
  let failed = 0;
  const started = process.hrtime.bigint();
  await new Promise<void>((resolve, reject) => {
    autocannon(
      {
        url,
        connections: SEED_CONNECTIONS,
        amount: count,
        timeout: 30,
        requests: [
          {
            method: 'POST',
            path: collectionPath(TENANT),
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            setupRequest: (request) => ({ ...request, body: JSON.stringify(order(next++)) }),
            onResponse: (status, body) => {
              if (status === 201) ids.push((JSON.parse(body) as { id: string }).id);
              else failed++;
            },
          },
        ],
      },
      (error) => (error ? reject(error) : resolve()),
    );
  });
  if (failed > 0 || ids.length !== count) throw new Error(`seeding: ${ids.length} of ${count} orders created, ${failed} refused`);
  return { ids, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}
