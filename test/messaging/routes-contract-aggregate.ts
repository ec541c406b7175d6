import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Api, expectStatus } from '../api/client.js';
import { routesOf } from './routes-contract-api.js';
import { body, type Harness, type HarnessOptions, waitFor } from './routes-harness.js';

const BATCHES = {
  name: 'batches',
  source: 'sales.order.OrderPlaced',
  transform: '{ "customer": data.customer, "amount": data.amount }',
  targets: [{ subject: 'batches' }],
};

type Batch = { key: string; messages: { customer: string; amount: number }[] };

/** Aggregation: completion by size and by timeout, open groups across restarts, processes sharing a route. */
export function routesAggregateContract(label: string, start: (options?: HarnessOptions) => Promise<Harness>): void {
  describe(`routes aggregation (${label})`, () => {
    let harness: Harness;
    let api: Api;
    before(async () => {
      harness = await start();
      api = harness.central;
    });
    after(() => harness.close());

    const create = async (tenant: string, aggregate: Record<string, unknown>) =>
      expectStatus(await api.post(routesOf(tenant), { ...BATCHES, aggregate: { correlation: 'customer', ...aggregate } }), 201);
    const order = (tenant: string, customer: string, amount: number) => harness.emit(tenant, 'order', 'OrderPlaced', { customer, amount });
    const batches = (out: { data: Uint8Array }[]) => out.map((d) => body(d) as Batch);

    it('emits a group once it holds `size` messages, in arrival order', async () => {
      const tenant = await harness.tenant('rsize');
      await create(tenant, { size: 2 });
      const out = await harness.listen(tenant, 'routed', 'batches');
      await order(tenant, 'ann', 1);
      await order(tenant, 'bob', 2);
      await order(tenant, 'ann', 3);
      await waitFor('ann’s batch', () => out.length >= 1);
      assert.deepEqual(batches(out), [
        {
          key: 'ann',
          messages: [
            { customer: 'ann', amount: 1 },
            { customer: 'ann', amount: 3 },
          ],
        },
      ]);
    });

    it('emits a group once its timeout passed', async () => {
      const tenant = await harness.tenant('rtimeout');
      await create(tenant, { timeoutMs: 200 });
      const out = await harness.listen(tenant, 'routed', 'batches');
      await order(tenant, 'ann', 1);
      await order(tenant, 'ann', 2);
      await waitFor('the batch', () => out.length >= 1);
      const [batch] = batches(out);
      assert.equal(batch?.key, 'ann');
      assert.ok((batch?.messages.length ?? 0) >= 1);
      await order(tenant, 'ann', 3);
      await waitFor('every message in a batch', () => batches(out).flatMap((b) => b.messages).length >= 3);
    });

    it('keeps open groups across a restart, completed by size and by timeout afterwards', async () => {
      const tenant = await harness.tenant('rrestart');
      await create(tenant, { size: 3 });
      const timed = await harness.tenant('rrestart');
      await create(timed, { timeoutMs: 1500 });
      const [out, timedOut] = [await harness.listen(tenant, 'routed', 'batches'), await harness.listen(timed, 'routed', 'batches')];
      const handled = harness.routes.counters.handled;
      await order(tenant, 'ann', 1);
      await order(tenant, 'ann', 2);
      await order(timed, 'bob', 1);
      await waitFor('three messages recorded in their groups', () => harness.routes.counters.handled >= handled + 3);
      await harness.routes.close();
      const restarted = await harness.another();
      await waitFor('the timed-out group', () => timedOut.length >= 1);
      assert.deepEqual(batches(timedOut), [{ key: 'bob', messages: [{ customer: 'bob', amount: 1 }] }]);
      await order(tenant, 'ann', 3);
      await waitFor('the full group', () => out.length >= 1);
      assert.deepEqual(
        batches(out)[0]?.messages.map((m) => m.amount),
        [1, 2, 3],
      );
      assert.ok(restarted.counters.groupsEmitted >= 1, 'the restarted process emitted the full group');
    });
  });

  describe(`routes in several processes (${label})`, () => {
    let harness: Harness;
    before(async () => {
      harness = await start();
    });
    after(() => harness.close());

    it('shares a route between two processes: each message is handled once', async () => {
      const tenant = await harness.tenant('rshare');
      expectStatus(
        await harness.central.post(routesOf(tenant), { name: 'shared', source: 'sales.*.*', targets: [{ subject: 'shared' }] }),
        201,
      );
      const second = await harness.another();
      const out = await harness.listen(tenant, 'routed', 'shared');
      for (let n = 0; n < 20; n++) await harness.emit(tenant, 'order', 'OrderPlaced', { n });
      await waitFor('twenty messages', () => out.length >= 20);
      assert.equal(new Set(out.map((d) => body(d).data.n)).size, 20);
      assert.equal(harness.routes.counters.handled + second.counters.handled, 20);
    });
  });
}

/** A process that serves the API but runs no route, and tenant deletion. */
export function routesProcessesContract(label: string, start: (options?: HarnessOptions) => Promise<Harness>): void {
  describe(`routes across process roles (${label})`, () => {
    let harness: Harness;
    before(async () => {
      harness = await start({ run: false });
    });
    after(() => harness.close());

    it('keeps every message from a route’s creation for the process that runs it, even one started later', async () => {
      const tenant = await harness.tenant('rroles');
      expectStatus(
        await harness.central.post(routesOf(tenant), { name: 'early', source: 'sales.*.*', targets: [{ subject: 'early' }] }),
        201,
      );
      const out = await harness.listen(tenant, 'routed', 'early');
      for (let n = 0; n < 3; n++) await harness.emit(tenant, 'order', 'OrderPlaced', { n });
      const runner = await harness.another();
      await waitFor('the messages sent before a process ran the route', () => out.length >= 3);
      assert.deepEqual(
        out.map((d) => body(d).data.n),
        [0, 1, 2],
      );
      assert.equal(runner.counters.handled, 3);
    });

    it('drops a deleted tenant’s routes', async () => {
      const tenant = await harness.tenant('rgone');
      const created = expectStatus(
        await harness.central.post(routesOf(tenant), { ...BATCHES, aggregate: { correlation: 'customer', size: 5 } }),
        201,
      );
      assert.ok((await harness.inspect.routes()).some((row) => row.id === created.id));
      expectStatus(await harness.central.delete(`/t/central/tenants/${tenant}`), 204);
      await harness.routes.dropTenant(tenant);
      assert.equal((await harness.inspect.routes()).filter((row) => row.tenant === tenant).length, 0);
    });
  });
}
