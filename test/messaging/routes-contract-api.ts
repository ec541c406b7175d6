import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Api, expectProblem, expectStatus, expectValidation, UUID_V7 } from '../api/client.js';
import { userWithRole } from '../security/fixtures.js';
import type { Harness, HarnessOptions } from './routes-harness.js';

export const SECRET = 'route-webhook-secret-0123456789';
export const routesOf = (tenant: string) => `/t/${tenant}/routes`;

/** The documented example: a filter, a translation, a webhook for very big orders and a subject for all of them. */
export const BIG_ORDERS = {
  name: 'big-orders',
  source: 'sales.order.OrderPlaced',
  filter: { amount: { $gt: 100 } },
  transform: '{ "customer": data.customer, "total": data.amount }',
  targets: [{ when: { total: { $gte: 1000 } }, webhook: { url: 'https://example.com/hook', secret: SECRET } }, { subject: 'big-orders' }],
};

/** The tenant's events, as stored (what history, `/events` and the bus see). */
const logText = async (harness: Harness, tenant: string) =>
  JSON.stringify(await harness.storage.events.readTenant(tenant, { limit: 10_000 }), (_key, value) =>
    typeof value === 'bigint' ? value.toString() : value,
  );

/** Definitions: create, read, change, delete, validation and permissions. */
export function routesApiContract(label: string, start: (options?: HarnessOptions) => Promise<Harness>): void {
  describe(`routes API (${label})`, () => {
    let harness: Harness;
    let api: Api;
    before(async () => {
      harness = await start();
      api = harness.central;
    });
    after(() => harness.close());

    it('creates, reads, lists, changes and deletes a route, never showing or storing its secret in events', async () => {
      const tenant = await harness.tenant('rapi');
      const created = expectStatus(await api.post(routesOf(tenant), BIG_ORDERS), 201);
      assert.match(created.id, UUID_V7);
      assert.equal(created.version, 1);
      assert.equal(created.active, true);
      assert.match(created.position, /^[0-9]+$/);
      assert.deepEqual(created.targets[0], { when: { total: { $gte: 1000 } }, webhook: { url: 'https://example.com/hook' } });
      assert.equal(created.secretRef, undefined);
      const url = `${routesOf(tenant)}/${created.id}`;
      const read = expectStatus(await api.get(url), 200);
      assert.deepEqual({ ...read, position: created.position }, created);
      assert.deepEqual(
        expectStatus(await api.get(routesOf(tenant)), 200).items.map((r: { id: string }) => r.id),
        [created.id],
      );

      const changed = expectStatus(await api.patch(url, { name: 'renamed', filter: null, active: false }), 200);
      assert.equal(changed.version, 2);
      assert.equal(changed.name, 'renamed');
      assert.equal(changed.filter, undefined);
      assert.equal(changed.active, false);
      assert.equal(changed.transform, BIG_ORDERS.transform, 'members not named stay');
      expectProblem(await api.patch(url, { name: 'again' }, { 'if-match': '"1"' }), 409, 'version_conflict');
      assert.ok(!(await logText(harness, tenant)).includes(SECRET), 'the secret is in no event');

      expectStatus(await api.delete(url), 200);
      expectProblem(await api.get(url), 404, 'not_found');
      assert.equal(expectStatus(await api.get(routesOf(tenant)), 200).items.length, 0);
    });

    it('refuses an invalid route with every problem at once, and writes nothing', async () => {
      const tenant = await harness.tenant('rbad');
      const before = await logText(harness, tenant);
      const reply = await api.post(routesOf(tenant), {
        name: '',
        source: 'sales.order',
        split: 'data.lines[',
        aggregate: { correlation: 'customer', size: 0 },
        targets: [{ webhook: { url: 'ftp://example.com' } }, { command: { entity: 'sales.order', command: 'pay' } }, { subject: 'a.b' }],
      });
      expectValidation(reply, [
        'name',
        'source',
        'split',
        'aggregate/size',
        'targets/0/webhook/url',
        'targets/1/command/id',
        'targets/2/subject',
      ]);
      expectValidation(
        await api.post(routesOf(tenant), { name: 'x', source: 'sales.*.*', split: 'data.lines[', targets: [{ subject: 'a' }] }),
        ['split'],
      );
      expectValidation(
        await api.post(routesOf(tenant), { name: 'x', source: 'sales.*.*', targets: [{ webhook: { url: 'https://example.com' } }] }),
        ['targets/0/webhook/secret'],
      );
      expectValidation(
        await api.post(routesOf(tenant), {
          name: 'x',
          source: 'sales.*.*',
          filter: { amount: { $gt: 'a', $lt: 1 } },
          targets: [{ subject: 'a' }],
        }),
        ['filter/amount/$lt'],
      );
      assert.equal(await logText(harness, tenant), before);
    });

    it('keeps a webhook secret through changes that do not give it again, and refuses a bad change', async () => {
      const tenant = await harness.tenant('rkeep');
      const created = expectStatus(await api.post(routesOf(tenant), BIG_ORDERS), 201);
      const url = `${routesOf(tenant)}/${created.id}`;
      const targets = [{ webhook: { url: 'https://example.com/hook' } }];
      expectStatus(await api.patch(url, { targets }), 200);
      expectValidation(await api.patch(url, { targets: [{ webhook: { url: 'https://example.com/other' } }] }), [
        'targets/0/webhook/secret',
      ]);
      expectValidation(await api.patch(url, { source: 'nope' }), ['source']);
      assert.equal(expectStatus(await api.get(url), 200).version, 2);
    });

    it('needs the messaging permission: 401 without a token, 403 without the grant, read may look but not change', async () => {
      const tenant = await harness.tenant('rperm');
      const role = { name: 'reporter', permissions: [{ resource: 'reports', actions: ['read'] }] };
      const reporter = await userWithRole(harness.app, api, tenant, role, 'reporter');
      expectProblem(await reporter.get(routesOf(tenant)), 403, 'forbidden');
      expectProblem(await reporter.post(routesOf(tenant), BIG_ORDERS), 403, 'forbidden');
      const anonymous = await harness.app.inject({ method: 'GET', url: routesOf(tenant) });
      assert.equal(anonymous.statusCode, 401);
      assert.equal(expectStatus(await api.get(routesOf(tenant)), 200).items.length, 0);
      const watcher = await userWithRole(
        harness.app,
        api,
        tenant,
        { name: 'watcher', permissions: [{ resource: 'messaging', actions: ['read'] }] },
        'watcher',
      );
      assert.equal(expectStatus(await watcher.get(routesOf(tenant)), 200).items.length, 0);
      expectProblem(await watcher.post(routesOf(tenant), BIG_ORDERS), 403, 'forbidden');
    });
  });
}
