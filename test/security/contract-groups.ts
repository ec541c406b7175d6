import assert from 'node:assert/strict';
import { it } from 'node:test';
import { expectProblem, expectStatus } from '../api/client.js';
import { adminTenant, records, type SecurityContext, sleep, uniqueTenantId, userWithRole, VAULT } from './fixtures.js';

/** A role of the other tenant that reads both entities of the vault module. */
const PARTNER = {
  name: 'partner',
  permissions: [{ resource: 'vault.*', actions: ['read'] }],
};

/** Membership changes apply within this (docs/identity.md, "Tenant groups"). */
const MEMBERSHIP_CACHE_MS = 1000;

/** Entities shared with a tenant group (API.md, "Data model" `sharedWith`; docs/identity.md, "Tenant groups"). */
export function groupCases(context: SecurityContext): void {
  const app = () => context.platform().app;
  const central = () => context.central();

  it('lets the members of a group read an entity shared with it, and nobody else, until they leave', async () => {
    const a = await adminTenant(context, 'owner');
    const b = await adminTenant(context, 'member');
    const c = await adminTenant(context, 'outsider');
    const group = uniqueTenantId('group');
    expectStatus(await central().post('/t/central/tenant-groups', { id: group, name: 'Partners', members: [a.tenant, b.tenant] }), 201);
    try {
      const shared = { ...VAULT, entities: { ...VAULT.entities, secret: { ...VAULT.entities.secret, sharedWith: group } } };
      expectStatus(await a.admin.put(`/t/${a.tenant}/modules/vault`, shared), 201);
      expectStatus(await a.admin.post(records(a.tenant), { id: 's-1', title: 'shared plan' }), 201);
      expectStatus(await a.admin.post(records(a.tenant, 'note'), { id: 'n-1', text: 'private' }), 201);

      const bob = await userWithRole(app(), b.admin, b.tenant, PARTNER);
      const list = expectStatus(await bob.get(records(a.tenant)), 200);
      assert.deepEqual(
        list.items.map((item: { id: string }) => item.id),
        ['s-1'],
      );
      assert.equal(expectStatus(await bob.get(`${records(a.tenant)}/s-1`), 200).data.title, 'shared plan');
      expectProblem(await bob.post(records(a.tenant), { title: 'not allowed' }), 403, 'forbidden');
      // Not shared: the note, the module, the log.
      expectProblem(await bob.get(records(a.tenant, 'note')), 401, 'unauthorized');
      expectProblem(await bob.get(`${records(a.tenant, 'note')}/n-1`), 401, 'unauthorized');
      expectProblem(await bob.get(`/t/${a.tenant}/modules/vault`), 401, 'unauthorized');
      expectProblem(await bob.get(`/t/${a.tenant}/events`), 401, 'unauthorized');

      // A member whose roles do not allow read is forbidden, not let in.
      const idle = await userWithRole(app(), b.admin, b.tenant, {
        name: 'idle',
        permissions: [{ resource: 'identity', actions: ['read'] }],
      });
      expectProblem(await idle.get(records(a.tenant)), 403, 'forbidden');

      // Not a member: the same role, refused as a token of another tenant.
      const carl = await userWithRole(app(), c.admin, c.tenant, PARTNER);
      expectProblem(await carl.get(records(a.tenant)), 401, 'unauthorized');
      expectProblem(await carl.get(`${records(a.tenant)}/s-1`), 401, 'unauthorized');

      expectStatus(await central().patch(`/t/central/tenant-groups/${group}`, { members: [a.tenant, c.tenant] }), 200);
      await sleep(MEMBERSHIP_CACHE_MS + 200);
      expectProblem(await bob.get(records(a.tenant)), 401, 'unauthorized');
      expectProblem(await bob.get(`${records(a.tenant)}/s-1`), 401, 'unauthorized');
      expectStatus(await carl.get(records(a.tenant)), 200);
    } finally {
      expectStatus(await central().delete(`/t/central/tenant-groups/${group}`), 204);
    }
  });
}
