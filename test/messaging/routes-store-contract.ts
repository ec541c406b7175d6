import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { uuidv7 } from '../../src/kernel/index.js';
import type { RouteDocument } from '../../src/messaging/routes/index.js';
import type { MemberInput, RouteStore } from '../../src/messaging/routes/port.js';

/** Two stores on one fresh database: two processes sharing it. */
export type StoreFactory = () => Promise<{ one: RouteStore; two: RouteStore }>;

const document = (id: string, name = 'r'): RouteDocument => ({
  id,
  name,
  source: 'sales.order.*',
  targets: [{ subject: 'out' }],
  active: true,
  secretRef: null,
});

let members = 0;
const member = (tenant: string, route: string, key: string, now: number, extra: Partial<MemberInput> = {}): MemberInput => ({
  tenant,
  route,
  key,
  memberId: `m-${++members}`,
  body: { n: members },
  limit: 2,
  deadline: null,
  groupId: uuidv7(),
  now,
  ...extra,
});

/** The route store on one backend: registry, secrets, aggregation groups shared by processes. */
export function routeStoreContract(label: string, open: StoreFactory): void {
  describe(`route store (${label})`, () => {
    let one: RouteStore;
    let two: RouteStore;
    before(async () => {
      ({ one, two } = await open());
    });
    after(async () => {
      await one.close();
      await two.close();
    });

    it('keeps the newest version of each route and never moves its cursor back', async () => {
      await one.record([{ tenant: 'reg-a', id: 'r1', version: 2, document: document('r1', 'two') }], 10n);
      await two.record([{ tenant: 'reg-a', id: 'r1', version: 1, document: document('r1', 'one') }], 5n);
      await one.record([{ tenant: 'reg-b', id: 'r2', version: 1, document: document('r2') }], 12n);
      await one.record([{ tenant: 'reg-b', id: 'r2', version: 2, document: null }], 13n);
      const live = (await two.routes()).filter((row) => row.tenant.startsWith('reg-'));
      assert.deepEqual(
        live.map((row) => [row.tenant, row.id, row.version, row.document?.name]),
        [['reg-a', 'r1', 2, 'two']],
      );
      assert.equal(await two.cursor(), 13n);
      await one.record([{ tenant: 'reg-b', id: 'r2', version: 1, document: document('r2') }], 11n);
      assert.equal(
        (await one.routes()).filter((row) => row.tenant === 'reg-b').length,
        0,
        'a tombstone is never replaced by an older version',
      );
    });

    it('keeps secrets by reference and prunes only older references', async () => {
      const [old, current, inFlight] = [uuidv7(), uuidv7(), uuidv7()];
      for (const ref of [old, current, inFlight]) await one.putSecrets('sec-a', 'r1', ref, new Map([[0, `secret-${ref}`]]));
      await one.pruneSecrets('sec-a', 'r1', current);
      assert.equal((await two.secrets('sec-a', 'r1', old)).size, 0);
      assert.equal((await two.secrets('sec-a', 'r1', current)).get(0), `secret-${current}`);
      assert.equal((await two.secrets('sec-a', 'r1', inFlight)).get(0), `secret-${inFlight}`);
      assert.equal((await two.secrets('sec-b', 'r1', current)).size, 0);
    });

    it('completes a group by size, refuses a member twice, and claims it once', async () => {
      const now = Date.now();
      const first = member('grp-a', 'r1', 'ann', now);
      assert.equal(await one.addToGroup(first), 'added');
      assert.equal(await two.addToGroup({ ...first, groupId: uuidv7() }), 'duplicate');
      assert.equal(await two.addToGroup(member('grp-a', 'r1', 'bob', now)), 'added');
      assert.equal(await two.addToGroup(member('grp-a', 'r1', 'ann', now)), 'completed');
      const claimed = (await one.claimDue(now, now + 60_000, 100)).filter((g) => g.tenant === 'grp-a');
      assert.deepEqual(
        claimed.map((g) => [g.key, g.messages, g.failures]),
        [['ann', [first.body, { n: members }], 0]],
      );
      assert.equal((await two.claimDue(now, now + 60_000, 100)).filter((g) => g.tenant === 'grp-a').length, 0, 'leased');
      const group = claimed[0] as NonNullable<(typeof claimed)[0]>;
      assert.equal(await one.addToGroup(member('grp-a', 'r1', 'ann', now)), 'added', 'a new group for the key');
      await one.finish(group, now);
      assert.equal(await one.addToGroup({ ...first, groupId: uuidv7() }), 'duplicate', 'a finished member is still refused');
    });

    it('claims an open group once its deadline passed, and again after a failed emission', async () => {
      const now = Date.now();
      await one.addToGroup(member('due-a', 'r1', 'k', now, { deadline: now + 1000, limit: 10 }));
      assert.equal((await one.claimDue(now, now + 60_000, 100)).filter((g) => g.tenant === 'due-a').length, 0);
      const [group] = (await two.claimDue(now + 1000, now + 60_000, 100)).filter((g) => g.tenant === 'due-a');
      assert.ok(group);
      assert.equal(await one.addToGroup(member('due-a', 'r1', 'k', now + 1001, { deadline: now + 2001, limit: 10 })), 'added');
      await two.release(group, now + 1500, true);
      assert.equal((await one.claimDue(now + 1400, now + 60_000, 100)).filter((g) => g.groupId === group.groupId).length, 0);
      const [again] = (await one.claimDue(now + 1500, now + 60_000, 100)).filter((g) => g.groupId === group.groupId);
      assert.equal(again?.failures, 1);
      assert.equal(again?.messages.length, 1, 'the later message joined another group');
    });

    it('forgets finished members after their retention, and drops routes and tenants', async () => {
      const now = Date.now();
      const first = member('drop-a', 'r1', 'k', now, { limit: 1 });
      assert.equal(await one.addToGroup(first), 'completed');
      const [group] = (await one.claimDue(now, now + 60_000, 100)).filter((g) => g.tenant === 'drop-a');
      assert.ok(group);
      await one.finish(group, now);
      assert.ok((await one.purgeMembers(now + 1)) >= 1);
      assert.equal(await one.addToGroup({ ...first, groupId: uuidv7() }), 'completed', 'forgotten after the retention');
      await one.putSecrets('drop-a', 'r1', uuidv7(), new Map([[0, 'secret-of-drop-a']]));
      await one.addToGroup(member('drop-b', 'r1', 'k', now, { limit: 5 }));
      await one.record([{ tenant: 'drop-b', id: 'r1', version: 1, document: document('r1') }], 1n);
      await two.dropRoute('drop-a', 'r1');
      await two.dropTenant('drop-b');
      const due = await one.claimDue(now + 10_000_000, now + 20_000_000, 1000);
      assert.equal(due.filter((g) => g.tenant.startsWith('drop-')).length, 0);
      assert.equal((await one.routes()).filter((row) => row.tenant === 'drop-b').length, 0);
    });
  });
}
