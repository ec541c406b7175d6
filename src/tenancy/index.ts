import type { DocumentStore } from '../documents/port.js';
import type { EventStore } from '../eventstore/index.js';
import type { Authenticate } from '../http/index.js';
import { entityLog, type RequestAuditor } from '../identity/index.js';
import type { RequestContext } from '../kernel/index.js';
import { createGroupService, type GroupDocument } from './groups.js';
import { tenancyRoutes } from './http-tenancy.js';
import { CENTRAL, createTenantService, type TenantDocument } from './tenants.js';

export type { GroupService } from './groups.js';
export { CENTRAL, type TenantService, type TenantStatus } from './tenants.js';

export interface TenancyDeps {
  events: EventStore;
  documents: DocumentStore;
  audit: RequestAuditor;
  provision(context: RequestContext, tenant: string): Promise<{ username: string; password: string }>;
  destroy(tenant: string): Promise<void>;
}

/** The tenancy context: tenants and tenant groups, kept as objects of `central`. */
export function createTenancyContext(deps: TenancyDeps) {
  const tenants = createTenantService({
    tenants: entityLog<TenantDocument>(deps, { module: '_tenancy', entity: 'tenant', prefix: 'tenant', noun: 'tenant' }),
    provision: deps.provision,
    destroy: deps.destroy,
    audit: deps.audit,
  });
  const groups = createGroupService({
    groups: entityLog<GroupDocument>(deps, { module: '_tenancy', entity: 'group', prefix: 'tenant-group', noun: 'tenant group' }),
    tenantExists: async (tenant) => (await tenants.status(tenant)) !== undefined,
    audit: (context, action, target, detail) => deps.audit(context, CENTRAL, action, target, detail),
  });
  return { tenants, groups, routes: (authenticate: Authenticate) => tenancyRoutes({ tenants, groups, authenticate }) };
}

export type TenancyContext = ReturnType<typeof createTenancyContext>;
