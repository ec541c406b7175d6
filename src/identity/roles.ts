import { AppError, type JsonValue, type RequestContext, validationFailed } from '../kernel/index.js';
import type { EntityLog } from './entity-log.js';
import { ADMIN_ROLE, checkRoleDefinition, type RoleDefinition } from './permissions.js';

export type RoleDocument = RoleDefinition & { [key: string]: JsonValue };

const CACHE_TTL_MS = 1000;
const MAX_CACHED_TENANTS = 10_000;

export interface RoleDeps {
  roles: EntityLog<RoleDocument>;
  audit(
    context: RequestContext,
    tenant: string,
    action: 'role_changed' | 'role_deleted',
    target: string,
    detail?: Record<string, unknown>,
  ): Promise<void>;
}

/**
 * Roles of one tenant. Every request resolves its token's roles here, so a tenant's roles are
 * cached together: a change made by this process is seen at once, one made by another within a second.
 */
export function createRoleService(deps: RoleDeps) {
  const { roles } = deps;
  const cache = new Map<string, { roles: Map<string, RoleDefinition>; loadedAt: number }>();
  const loading = new Map<string, Promise<Map<string, RoleDefinition>>>();

  async function load(tenant: string): Promise<Map<string, RoleDefinition>> {
    const all = new Map<string, RoleDefinition>();
    let after: string | undefined;
    for (;;) {
      const page = await roles.list(tenant, after);
      for (const role of page) all.set(role.name, { name: role.name, permissions: role.permissions });
      if (page.length < 1000) break;
      after = page.at(-1)?.name;
    }
    cache.delete(tenant);
    cache.set(tenant, { roles: all, loadedAt: Date.now() });
    if (cache.size > MAX_CACHED_TENANTS) cache.delete(cache.keys().next().value as string);
    return all;
  }

  function definitions(tenant: string): Promise<Map<string, RoleDefinition>> {
    const cached = cache.get(tenant);
    if (cached && Date.now() - cached.loadedAt < CACHE_TTL_MS) return Promise.resolve(cached.roles);
    const inFlight = loading.get(tenant);
    if (inFlight) return inFlight;
    const promise = load(tenant).finally(() => loading.delete(tenant));
    loading.set(tenant, promise);
    return promise;
  }

  return {
    definitions,
    async exists(tenant: string, name: string): Promise<boolean> {
      return name === ADMIN_ROLE || (await definitions(tenant)).has(name);
    },
    /** The definitions of the named roles that exist (the built-in admin has none: it is implied). */
    async resolve(tenant: string, names: readonly string[]): Promise<RoleDefinition[]> {
      const all = await definitions(tenant);
      return names.flatMap((name) => all.get(name) ?? []);
    },
    async list(tenant: string): Promise<RoleDefinition[]> {
      return [{ name: ADMIN_ROLE, permissions: [{ resource: '*', actions: ['admin'] }] }, ...(await definitions(tenant)).values()];
    },
    async get(tenant: string, name: string): Promise<RoleDefinition> {
      if (name === ADMIN_ROLE) return { name, permissions: [{ resource: '*', actions: ['admin'] }] };
      const { data } = await roles.get(tenant, name);
      return { name: data.name, permissions: data.permissions };
    },
    /** Creates (`create: true`: fails when it exists) or replaces a role. */
    async put(context: RequestContext, tenant: string, input: unknown, options: { name?: string; create?: boolean } = {}) {
      const issues = checkRoleDefinition(input);
      if (issues.length > 0) throw validationFailed('Invalid role', issues);
      const definition = input as RoleDefinition;
      if (options.name !== undefined && definition.name !== options.name)
        throw validationFailed('The role name does not match the path', [{ path: '/name', message: `must be ${options.name}` }]);
      const existing = await roles.find(tenant, definition.name);
      if (options.create && existing && !existing.deleted) throw new AppError('already_exists', `Role ${definition.name} already exists`);
      const document = { name: definition.name, permissions: definition.permissions } as RoleDocument;
      const created = !existing || existing.deleted;
      await roles.write(context, tenant, definition.name, { type: 'RoleDefined', data: document }, document, existing);
      cache.delete(tenant);
      await deps.audit(context, tenant, 'role_changed', definition.name, { permissions: definition.permissions });
      return { role: { name: document.name, permissions: document.permissions }, created };
    },
    async remove(context: RequestContext, tenant: string, name: string): Promise<void> {
      if (name === ADMIN_ROLE) throw new AppError('forbidden', 'The built-in admin role cannot be deleted');
      const current = await roles.get(tenant, name);
      await roles.write(context, tenant, name, { type: 'RoleDeleted', data: {} }, null, current);
      cache.delete(tenant);
      await deps.audit(context, tenant, 'role_deleted', name);
    },
    forget(tenant: string): void {
      cache.delete(tenant);
    },
  };
}

export type RoleService = ReturnType<typeof createRoleService>;
