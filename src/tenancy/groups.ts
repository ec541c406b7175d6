import type { EntityLog } from '../identity/index.js';
import { AppError, type RequestContext, TENANT_ID, validationFailed } from '../kernel/index.js';
import { CENTRAL } from './tenants.js';

export type GroupDocument = { id: string; name: string; members: string[] };

const CACHE_TTL_MS = 1000;
const MAX_MEMBERS = 1000;

export interface GroupDeps {
  groups: EntityLog<GroupDocument>;
  tenantExists(tenant: string): Promise<boolean>;
  audit(
    context: RequestContext,
    action: 'group_changed' | 'group_deleted',
    target: string,
    detail?: Record<string, unknown>,
  ): Promise<void>;
}

/** Tenant groups (objects of `central`): an entity declared `sharedWith` a group is open to every member. */
export function createGroupService(deps: GroupDeps) {
  const { groups } = deps;
  const cache = new Map<string, { members: ReadonlySet<string>; at: number }>();

  async function checkMembers(members: unknown): Promise<string[]> {
    if (!Array.isArray(members) || members.length > MAX_MEMBERS)
      throw validationFailed('Invalid members', [{ path: '/members', message: `must be an array of at most ${MAX_MEMBERS} tenant ids` }]);
    const issues = [];
    for (const [index, member] of members.entries()) {
      if (typeof member !== 'string' || !TENANT_ID.test(member) || !(await deps.tenantExists(member)))
        issues.push({ path: `/members/${index}`, message: 'must be the id of an existing tenant' });
    }
    if (issues.length > 0) throw validationFailed('Unknown members', issues);
    return [...new Set(members as string[])].sort();
  }

  function checkName(name: unknown, fallback: string): string {
    const value = name ?? fallback;
    if (typeof value !== 'string' || value.length === 0 || value.length > 200)
      throw validationFailed('Invalid group name', [{ path: '/name', message: 'must be a string of 1 to 200 characters' }]);
    return value;
  }

  return {
    /** The members of the group (empty when it does not exist), cached for one second. */
    async members(id: string): Promise<ReadonlySet<string>> {
      const cached = cache.get(id);
      if (cached && Date.now() - cached.at < CACHE_TTL_MS) return cached.members;
      const found = await groups.find(CENTRAL, id);
      const members = new Set(found && !found.deleted ? found.data.members : []);
      cache.set(id, { members, at: Date.now() });
      if (cache.size > 10_000) cache.delete(cache.keys().next().value as string);
      return members;
    },
    async create(context: RequestContext, input: { id?: unknown; name?: unknown; members?: unknown }): Promise<GroupDocument> {
      if (typeof input.id !== 'string' || !TENANT_ID.test(input.id))
        throw validationFailed('Invalid group id', [{ path: '/id', message: 'must match ^[a-z][a-z0-9-]{1,62}$' }]);
      const existing = await groups.find(CENTRAL, input.id);
      if (existing && !existing.deleted) throw new AppError('already_exists', `Tenant group ${input.id} already exists`);
      const document: GroupDocument = {
        id: input.id,
        name: checkName(input.name, input.id),
        members: await checkMembers(input.members ?? []),
      };
      await groups.write(context, CENTRAL, input.id, { type: 'TenantGroupDefined', data: document }, document, existing);
      cache.delete(input.id);
      await deps.audit(context, 'group_changed', input.id, { members: document.members });
      return document;
    },
    async list(after?: string): Promise<GroupDocument[]> {
      return groups.list(CENTRAL, after);
    },
    async get(id: string): Promise<GroupDocument> {
      return (await groups.get(CENTRAL, id)).data;
    },
    async update(context: RequestContext, id: string, input: { name?: unknown; members?: unknown }): Promise<GroupDocument> {
      const current = await groups.get(CENTRAL, id);
      const document: GroupDocument = {
        id,
        name: checkName(input.name, current.data.name),
        members: input.members === undefined ? current.data.members : await checkMembers(input.members),
      };
      await groups.write(context, CENTRAL, id, { type: 'TenantGroupDefined', data: document }, document, current);
      cache.delete(id);
      await deps.audit(context, 'group_changed', id, { members: document.members });
      return document;
    },
    async remove(context: RequestContext, id: string): Promise<void> {
      const current = await groups.get(CENTRAL, id);
      await groups.write(context, CENTRAL, id, { type: 'TenantGroupDeleted', data: {} }, null, current);
      cache.delete(id);
      await deps.audit(context, 'group_deleted', id);
    },
  };
}

export type GroupService = ReturnType<typeof createGroupService>;
