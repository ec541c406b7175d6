import assert from 'node:assert/strict';
import { it } from 'node:test';
import { type Api, expectProblem, expectStatus } from '../api/client.js';
import { records, type SecurityContext, userWithRole, vaultTenant } from './fixtures.js';

type LogItem = { streamId: string; type: string; data: Record<string, unknown> };

/** The tenant's log as the caller sees it. */
async function visibleEvents(api: Api, tenant: string): Promise<LogItem[]> {
  return expectStatus(await api.get(`/t/${tenant}/events?limit=1000`), 200).items;
}

const ofEntity = (items: LogItem[], entity: string) => items.filter((item) => item.streamId.startsWith(`vault.${entity}:`));
const query = (filter: unknown) => encodeURIComponent(JSON.stringify(filter));

/** Roles enforced on the data routes, with tokens of users who logged in (API.md, "Identity"; docs/datamodel.md). */
export function permissionCases(context: SecurityContext): void {
  const app = () => context.platform().app;

  /** A tenant with the vault module, a secret of alice's and one of bob's (with salaries), and a note. */
  async function seeded(label: string) {
    const { tenant, admin } = await vaultTenant(context, label);
    expectStatus(await admin.post(records(tenant), { id: 'a-1', title: "alice's", owner: 'alice', salary: 100 }), 201);
    expectStatus(await admin.post(records(tenant), { id: 'b-1', title: "bob's", owner: 'bob', salary: 200 }), 201);
    expectStatus(await admin.patch(`${records(tenant)}/b-1`, { salary: 250 }), 200);
    expectStatus(await admin.post(records(tenant, 'note'), { id: 'n-1', text: 'hello' }), 201);
    return { tenant, admin };
  }

  it('answers 403 forbidden to a role without read on the entity, and hides its events', async () => {
    const { tenant, admin } = await seeded('noread');
    const user = await userWithRole(app(), admin, tenant, {
      name: 'notes',
      permissions: [{ resource: 'vault.note', actions: ['read'] }],
    });
    expectProblem(await user.get(records(tenant)), 403, 'forbidden');
    expectProblem(await user.get(`${records(tenant)}/a-1`), 403, 'forbidden');
    expectProblem(await user.get(`${records(tenant)}/a-1/history`), 403, 'forbidden');
    expectProblem(await user.get(`${records(tenant)}/aggregate?measures=count`), 403, 'forbidden');
    expectProblem(await user.get(`${records(tenant)}/missing`), 403, 'forbidden');
    const events = await visibleEvents(user, tenant);
    assert.deepEqual(ofEntity(events, 'secret'), []);
    assert.equal(ofEntity(events, 'note').length, 1, 'the events it may read are there');
    assert.ok(ofEntity(await visibleEvents(admin, tenant), 'secret').length >= 3);
  });

  it('never shows hidden fields: not in list, get, history or events, and refuses to group, measure, filter or sort by them', async () => {
    const { tenant, admin } = await seeded('hidden');
    const user = await userWithRole(app(), admin, tenant, {
      name: 'auditor',
      permissions: [{ resource: 'vault.secret', actions: ['read'], hiddenFields: ['salary'] }],
    });
    const list = expectStatus(await user.get(records(tenant)), 200);
    assert.equal(list.items.length, 2);
    for (const item of list.items) assert.ok(!('salary' in item.data) && 'title' in item.data, JSON.stringify(item));
    const one = expectStatus(await user.get(`${records(tenant)}/b-1`), 200);
    assert.deepEqual(Object.keys(one.data).sort(), ['owner', 'status', 'title']);
    const history = expectStatus(await user.get(`${records(tenant)}/b-1/history`), 200);
    assert.equal(history.length, 2);
    for (const event of history) assert.ok(!('salary' in event.data), JSON.stringify(event));
    const events = ofEntity(await visibleEvents(user, tenant), 'secret');
    assert.equal(events.length, 3);
    for (const event of events) assert.ok(!('salary' in event.data), JSON.stringify(event));

    expectProblem(await user.get(`${records(tenant)}/aggregate?groupBy=salary`), 403, 'forbidden');
    expectProblem(await user.get(`${records(tenant)}/aggregate?measures=sum:salary`), 403, 'forbidden');
    expectProblem(
      await user.get(`${records(tenant)}/aggregate?measures=count&filter=${query({ salary: { $gt: 200 } })}`),
      403,
      'forbidden',
    );
    expectProblem(await user.get(`${records(tenant)}?filter=${query({ salary: { $gt: 200 } })}`), 403, 'forbidden');
    expectProblem(await user.get(`${records(tenant)}?sort=-salary`), 403, 'forbidden');
    expectProblem(await user.get(`${records(tenant)}?fields=title,salary`), 403, 'forbidden');
    const groups = expectStatus(await user.get(`${records(tenant)}/aggregate?groupBy=owner&measures=count`), 200).groups;
    assert.ok(!JSON.stringify(groups).includes('salary'));
  });

  it('hides the rows of others under where owner = $user: 404 on get, absent from list, aggregate and events', async () => {
    const { tenant, admin } = await seeded('owner');
    const alice = await userWithRole(
      app(),
      admin,
      tenant,
      { name: 'owner', permissions: [{ resource: 'vault.secret', actions: ['read'], where: { owner: '$user' } }] },
      'alice',
    );
    const list = expectStatus(await alice.get(records(tenant)), 200);
    assert.deepEqual(
      list.items.map((item: { id: string }) => item.id),
      ['a-1'],
    );
    expectStatus(await alice.get(`${records(tenant)}/a-1`), 200);
    expectProblem(await alice.get(`${records(tenant)}/b-1`), 404, 'not_found');
    expectProblem(await alice.get(`${records(tenant)}/b-1/history`), 404, 'not_found');
    const found = expectStatus(await alice.get(`${records(tenant)}?filter=${query({ owner: 'bob' })}`), 200);
    assert.deepEqual(found.items, []);
    const counted = expectStatus(await alice.get(`${records(tenant)}/aggregate?measures=count`), 200).groups;
    assert.equal(
      counted.reduce((sum: number, group: { count: number }) => sum + group.count, 0),
      1,
    );
    const streams = ofEntity(await visibleEvents(alice, tenant), 'secret').map((event) => event.streamId);
    assert.deepEqual(streams, ['vault.secret:a-1']);
  });

  it('answers 403 forbidden to writes a role with read only does not allow', async () => {
    const { tenant, admin } = await seeded('readonly');
    const user = await userWithRole(app(), admin, tenant, {
      name: 'reader',
      permissions: [{ resource: 'vault.*', actions: ['read'] }],
    });
    expectStatus(await user.get(records(tenant)), 200);
    expectProblem(await user.post(records(tenant), { title: 'mine' }), 403, 'forbidden');
    expectProblem(await user.patch(`${records(tenant)}/a-1`, { title: 'changed' }), 403, 'forbidden');
    expectProblem(await user.delete(`${records(tenant)}/a-1`), 403, 'forbidden');
    expectProblem(await user.put(`/t/${tenant}/modules/vault`, { entities: {} }), 403, 'forbidden');
    expectProblem(
      await user.post(`/t/${tenant}/users`, { username: 'x', password: 'long-enough-passphrase', roles: ['admin'] }),
      403,
      'forbidden',
    );
    assert.equal(expectStatus(await admin.get(`${records(tenant)}/a-1`), 200).data.title, "alice's");
    assert.equal(expectStatus(await admin.get(records(tenant)), 200).items.length, 2);
  });
}
