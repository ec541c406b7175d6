import type { EntityLog } from '../identity/index.js';
import { AppError, assertTenantId, type RequestContext, validationFailed } from '../kernel/index.js';

/** The super-tenant: it administers the platform and may act in any tenant (audited). */
export const CENTRAL = 'central';

export type TenantStatus = 'active' | 'suspended';
export type TenantDocument = { id: string; name: string; status: TenantStatus };

const STATUS_TTL_MS = 1000;
const MAX_CACHED = 10_000;

export interface TenantDeps {
  tenants: EntityLog<TenantDocument>;
  /** Makes the new tenant usable: signing keys and an `admin` user; returns the admin's one-time password. */
  provision(context: RequestContext, tenant: string): Promise<{ username: string; password: string }>;
  /** Destroys everything of the tenant: keys (crypto-shredding), events, documents, identity rows. */
  destroy(tenant: string): Promise<void>;
  audit(
    context: RequestContext,
    tenant: string,
    action: 'tenant_created' | 'tenant_changed' | 'tenant_deleted',
    target: string,
    detail?: Record<string, unknown>,
  ): Promise<void>;
}

function checkName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > 200)
    throw validationFailed('Invalid tenant name', [{ path: '/name', message: 'must be a string of 1 to 200 characters' }]);
  return name;
}

/** Tenants, as objects of `central`. Their status is read on every request, so it is cached for one second. */
export function createTenantService(deps: TenantDeps) {
  const { tenants } = deps;
  const statuses = new Map<string, { status: TenantStatus | undefined; at: number }>();

  async function status(tenant: string): Promise<TenantStatus | undefined> {
    if (tenant === CENTRAL) return 'active';
    const cached = statuses.get(tenant);
    if (cached && Date.now() - cached.at < STATUS_TTL_MS) return cached.status;
    const found = await tenants.find(CENTRAL, tenant);
    const current = found && !found.deleted ? found.data.status : undefined;
    statuses.delete(tenant);
    statuses.set(tenant, { status: current, at: Date.now() });
    if (statuses.size > MAX_CACHED) statuses.delete(statuses.keys().next().value as string);
    return current;
  }

  return {
    status,
    async create(context: RequestContext, input: { id?: unknown; name?: unknown }) {
      const { id } = input;
      try {
        assertTenantId(id);
      } catch {
        throw validationFailed('Invalid tenant id', [{ path: '/id', message: 'must match ^[a-z][a-z0-9-]{1,62}$' }]);
      }
      if (id === CENTRAL) throw new AppError('already_exists', 'Tenant central already exists');
      const name = checkName(input.name ?? id);
      const existing = await tenants.find(CENTRAL, id);
      if (existing && !existing.deleted) throw new AppError('already_exists', `Tenant ${id} already exists`);
      // A deleted tenant's id is never given again: a token it issued must not come back to life.
      if (existing) throw new AppError('already_exists', `Tenant id ${id} belonged to a deleted tenant; ids are never reused`);
      const document: TenantDocument = { id, name, status: 'active' };
      await tenants.write(context, CENTRAL, id, { type: 'TenantCreated', data: { id, name } }, document, existing);
      statuses.delete(id);
      const admin = await deps.provision(context, id);
      await deps.audit(context, id, 'tenant_created', id, { name });
      return { tenant: document, admin };
    },
    async list(after?: string): Promise<TenantDocument[]> {
      return tenants.list(CENTRAL, after);
    },
    async get(id: string): Promise<TenantDocument> {
      if (id === CENTRAL) return { id, name: 'Central', status: 'active' };
      return (await tenants.get(CENTRAL, id)).data;
    },
    async update(context: RequestContext, id: string, input: { name?: unknown; status?: unknown }): Promise<TenantDocument> {
      if (id === CENTRAL) throw new AppError('forbidden', 'The central tenant cannot be changed');
      if (input.status !== undefined && input.status !== 'active' && input.status !== 'suspended')
        throw validationFailed('Invalid tenant status', [{ path: '/status', message: 'must be active or suspended' }]);
      const current = await tenants.get(CENTRAL, id);
      const next: TenantDocument = {
        id,
        name: input.name === undefined ? current.data.name : checkName(input.name),
        status: (input.status as TenantStatus | undefined) ?? current.data.status,
      };
      if (next.name === current.data.name && next.status === current.data.status) return next;
      const type =
        next.status === current.data.status ? 'TenantChanged' : next.status === 'suspended' ? 'TenantSuspended' : 'TenantResumed';
      await tenants.write(context, CENTRAL, id, { type, data: { name: next.name, status: next.status } }, next, current);
      statuses.delete(id);
      await deps.audit(context, id, 'tenant_changed', id, { name: next.name, status: next.status });
      return next;
    },
    /** The tenant is gone from central first (its tokens stop at once), then its keys and data are destroyed. */
    async remove(context: RequestContext, id: string): Promise<void> {
      if (id === CENTRAL) throw new AppError('forbidden', 'The central tenant cannot be deleted');
      const current = await tenants.get(CENTRAL, id);
      await tenants.write(context, CENTRAL, id, { type: 'TenantDeleted', data: {} }, null, current);
      statuses.delete(id);
      await deps.destroy(id);
      await deps.audit(context, CENTRAL, 'tenant_deleted', id);
    },
  };
}

export type TenantService = ReturnType<typeof createTenantService>;
