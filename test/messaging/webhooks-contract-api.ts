import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Api, expectProblem, expectStatus, expectValidation } from '../api/client.js';
import { userWithRole } from '../security/fixtures.js';
import type { Harness } from './webhooks-harness.js';

export const SECRET = 'whsec-test-0123456789-abcdefghij';
export const hooks = (tenant: string) => `/t/${tenant}/webhooks`;

export async function createHook(api: Api, tenant: string, body: Record<string, unknown>) {
  return expectStatus(await api.post(hooks(tenant), { secret: SECRET, events: ['sales.order.*'], ...body }), 201);
}

/** The webhook stream's events, as stored: what history, `/events` and exports would show. */
async function storedEvents(harness: Harness, tenant: string): Promise<string> {
  const events = await harness.storage.events.readTenant(tenant);
  return JSON.stringify(events.filter((event) => event.streamId.startsWith('webhook:')).map((event) => event.data));
}

/** Definitions, validation, permissions (API.md, "Messaging"); `start` gives a running harness. */
export function webhooksApiContract(label: string, start: () => Promise<Harness>): void {
  describe(`webhooks API (${label})`, () => {
    let harness: Harness;
    let api: Api;
    before(async () => {
      harness = await start();
      api = harness.central;
    });
    after(() => harness.close());

    it('creates, reads, lists, changes and deletes a webhook, never showing its secret', async () => {
      const tenant = await harness.tenant('wh-crud');
      const created = await createHook(api, tenant, { url: 'https://example.com/hook', filter: { amount: { $gt: 10 } } });
      assert.equal(created.version, 1);
      assert.match(created.position, /^[0-9]+$/);
      assert.deepEqual(
        { url: created.url, events: created.events, filter: created.filter, transform: created.transform, active: created.active },
        { url: 'https://example.com/hook', events: ['sales.order.*'], filter: { amount: { $gt: 10 } }, transform: null, active: true },
      );
      const read = expectStatus(await api.get(`${hooks(tenant)}/${created.id}`), 200);
      assert.equal(read.version, 1);
      const list = expectStatus(await api.get(hooks(tenant)), 200);
      assert.deepEqual(
        list.items.map((item: { id: string }) => item.id),
        [created.id],
      );
      const changed = expectStatus(
        await api.patch(
          `${hooks(tenant)}/${created.id}`,
          { active: false, transform: '{ "t": type }', filter: null },
          { 'if-match': '"1"' },
        ),
        200,
      );
      assert.deepEqual([changed.version, changed.active, changed.transform, changed.filter], [2, false, '{ "t": type }', null]);
      for (const reply of [created, read, list, changed]) assert.ok(!JSON.stringify(reply).includes(SECRET), 'the secret was shown');
      const deleted = expectStatus(await api.delete(`${hooks(tenant)}/${created.id}`), 200);
      assert.deepEqual([deleted.id, deleted.version], [created.id, 3]);
      expectProblem(await api.get(`${hooks(tenant)}/${created.id}`), 404, 'not_found');
      assert.deepEqual(expectStatus(await api.get(hooks(tenant)), 200).items, []);
    });

    it('keeps the secret out of every event and document, also when it changes', async () => {
      const tenant = await harness.tenant('wh-secret');
      const created = await createHook(api, tenant, { url: 'https://example.com/hook' });
      const rotated = 'whsec-rotated-0123456789-abcdefg';
      expectStatus(await api.patch(`${hooks(tenant)}/${created.id}`, { secret: rotated }), 200);
      const events = await storedEvents(harness, tenant);
      assert.ok(events.includes(created.id));
      assert.ok(!events.includes(SECRET) && !events.includes(rotated), 'a secret is in the log');
      const document = await harness.storage.documents.get({ tenant, module: '_webhooks', entity: 'webhook', id: created.id });
      assert.ok(document && !JSON.stringify(document.data).includes(rotated));
    });

    it('refuses bad definitions with every path, and writes nothing', async () => {
      const tenant = await harness.tenant('wh-bad');
      const before = await storedEvents(harness, tenant);
      const bad = {
        url: 'ftp://example.com/x',
        events: ['sales.order', 'sales.*.OrderPaid', 'a.b.c.d', 'Sales.order.*'],
        filter: { amount: { $gt: 'x', $lt: 5 }, $nope: 1 },
        transform: '$$ := (',
        secret: SECRET,
      };
      expectValidation(await api.post(hooks(tenant), bad), [
        'body/url',
        'body/events/0',
        'body/events/2',
        'body/events/3',
        'body/filter',
        'body/transform',
      ]);
      const missing = await api.post(hooks(tenant), { url: 'https://x.example', events: ['sales.order.*'] });
      expectValidation(missing, ['body']);
      assert.match(missing.text, /secret/);
      expectValidation(await api.post(hooks(tenant), { url: 'https://x.example', events: ['sales.order.*'], secret: 'short' }), [
        'body/secret',
      ]);
      expectValidation(await api.post(hooks(tenant), { url: 'https://x.example', events: [], secret: SECRET }), ['body/events']);
      expectValidation(await api.post(hooks(tenant), { url: 'https://u:p@x.example', events: ['*.*.*'], secret: SECRET, extra: 1 }), [
        'body',
      ]);
      expectValidation(await api.post(hooks(tenant), { url: 'https://u:p@x.example', events: ['*.*.*'], secret: SECRET }), ['body/url']);
      assert.equal(await storedEvents(harness, tenant), before);
      assert.deepEqual(expectStatus(await api.get(hooks(tenant)), 200).items, []);

      const created = await createHook(api, tenant, { url: 'https://example.com/hook' });
      expectValidation(await api.patch(`${hooks(tenant)}/${created.id}`, { transform: '(', filter: { tags: { $contains: 1, $eq: 2 } } }), [
        'body/transform',
        'body/filter/tags',
      ]);
      const unchanged = expectStatus(await api.get(`${hooks(tenant)}/${created.id}`), 200);
      assert.deepEqual([unchanged.version, unchanged.transform, unchanged.filter], [1, null, null]);
    });

    it('answers already_exists, version_conflict and not_found', async () => {
      const tenant = await harness.tenant('wh-codes');
      await createHook(api, tenant, { id: 'orders', url: 'https://example.com/hook' });
      expectProblem(
        await api.post(hooks(tenant), { id: 'orders', url: 'https://example.com/2', events: ['*.*.*'], secret: SECRET }),
        409,
        'already_exists',
      );
      expectProblem(await api.patch(`${hooks(tenant)}/orders`, { active: false }, { 'if-match': '"7"' }), 409, 'version_conflict');
      expectProblem(await api.delete(`${hooks(tenant)}/orders`, { 'if-match': '"7"' }), 409, 'version_conflict');
      for (const path of ['nothing', 'nothing/deliveries', 'nothing/replays'])
        expectProblem(await api.get(`${hooks(tenant)}/${path}`), 404, 'not_found');
      expectProblem(await api.patch(`${hooks(tenant)}/nothing`, { active: false }), 404, 'not_found');
      expectProblem(await api.post(`${hooks(tenant)}/nothing/replay`, { from: '1' }), 404, 'not_found');
      expectStatus(await api.get(`${hooks(tenant)}/orders`), 200);
    });

    it('lets read look and admin change on resource messaging; refuses others with 403 and no token with 401', async () => {
      const tenant = await harness.tenant('wh-perm');
      const hook = await createHook(api, tenant, { url: 'https://example.com/hook' });
      const outsider = await userWithRole(harness.app, api, tenant, {
        name: 'reporter',
        permissions: [{ resource: 'reports', actions: ['admin'] }],
      });
      const reader = await userWithRole(harness.app, api, tenant, {
        name: 'reader',
        permissions: [{ resource: 'messaging', actions: ['read'] }],
      });
      const body = { url: 'https://example.com/x', events: ['*.*.*'], secret: SECRET };
      for (const reply of [
        await outsider.get(hooks(tenant)),
        await outsider.get(`${hooks(tenant)}/${hook.id}`),
        await outsider.get(`${hooks(tenant)}/${hook.id}/deliveries`),
        await outsider.get(`${hooks(tenant)}/${hook.id}/replays`),
        await outsider.post(hooks(tenant), body),
        await reader.post(hooks(tenant), body),
        await reader.patch(`${hooks(tenant)}/${hook.id}`, { active: false }),
        await reader.delete(`${hooks(tenant)}/${hook.id}`),
        await reader.post(`${hooks(tenant)}/${hook.id}/replay`, { from: '1' }),
      ])
        expectProblem(reply, 403, 'forbidden');
      expectStatus(await reader.get(hooks(tenant)), 200);
      expectStatus(await reader.get(`${hooks(tenant)}/${hook.id}/deliveries`), 200);
      expectStatus(await reader.get(`${hooks(tenant)}/${hook.id}/replays`), 200);
      const anonymous = await harness.app.inject({ method: 'GET', url: hooks(tenant) });
      assert.equal(anonymous.statusCode, 401);
      assert.equal(anonymous.json().code, 'unauthorized');
      const stillThere = expectStatus(await api.get(`${hooks(tenant)}/${hook.id}`), 200);
      assert.deepEqual([stillThere.version, stillThere.active], [1, true]);
    });
  });
}
