/**
 * What bench/live.ts needs on a fresh platform, made through its HTTP API: the central admin creates
 * the tenants; in each, the `sales.orders` module, a `reader` role (read) and a `masked` role (read,
 * `amount` hidden), a writer client and one client per subscriber role, and their tokens.
 */
import { type ClientCredentials, grant } from './auth-setup.js';
import { ENTITY, MODULE, MODULE_DEFINITION } from './orders.js';

/** The subscriber roles: the built-in admin, a reader, and a reader that may not see `amount`. */
export const ROLES = [
  { name: 'admin', permissions: undefined, hidden: [] as string[] },
  { name: 'reader', permissions: [{ resource: `${MODULE}.${ENTITY}`, actions: ['read'] }], hidden: [] as string[] },
  { name: 'masked', permissions: [{ resource: `${MODULE}.${ENTITY}`, actions: ['read'], hiddenFields: ['amount'] }], hidden: ['amount'] },
] as const;

export interface LiveTenant {
  id: string;
  /** A service token with the admin role: the writer's. */
  writer: string;
  /** A token per subscriber role, by role name. */
  tokens: Record<string, string>;
}

async function call(url: string, token: string, method: string, path: string, body: unknown, expect: number): Promise<unknown> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status !== expect) throw new Error(`${method} ${path}: expected ${expect}, got ${response.status} ${text}`);
  return text === '' ? undefined : JSON.parse(text);
}

export const tenantId = (index: number) => `live-${String(index).padStart(2, '0')}`;

/** Creates `count` tenants with their module, roles and clients; returns their tokens. */
export async function provisionTenants(url: string, adminPassword: string, count: number): Promise<LiveTenant[]> {
  const central = await grant(url, 'central', { grant_type: 'password', username: 'admin', password: adminPassword });
  const tenants: LiveTenant[] = [];
  for (let index = 0; index < count; index++) {
    const id = tenantId(index);
    const as = (method: string, path: string, body: unknown, expect: number) => call(url, central, method, path, body, expect);
    await as('POST', '/t/central/tenants', { id, name: `Live ${index}` }, 201);
    await as('PUT', `/t/${id}/modules/${MODULE}`, MODULE_DEFINITION, 201);
    for (const role of ROLES) if (role.permissions) await as('PUT', `/t/${id}/roles/${role.name}`, { permissions: role.permissions }, 201);
    const token = async (client: string, role: string) => {
      const created = (await as('POST', `/t/${id}/clients`, { id: client, roles: [role] }, 201)) as { secret: string };
      const credentials: ClientCredentials = { id: client, secret: created.secret };
      return grant(url, id, { grant_type: 'client_credentials' }, credentials);
    };
    const tokens: Record<string, string> = {};
    for (const role of ROLES) tokens[role.name] = await token(`sub-${role.name}`, role.name);
    tenants.push({ id, writer: await token('writer', 'admin'), tokens });
  }
  return tenants;
}
