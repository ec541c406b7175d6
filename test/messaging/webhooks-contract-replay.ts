import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Api, expectStatus, expectValidation } from '../api/client.js';
import { waitFor } from './bus-harness.js';
import { createHook, hooks, SECRET } from './webhooks-contract-api.js';
import { type Harness, type Received, type Receiver, startReceiver, verifySignature } from './webhooks-harness.js';

type Attempt = { id: string; eventId: string; position: string; attempt: number; status: string; replay: boolean };

const eventIds = (received: Received[]) => received.map((request) => request.json.id);

/** Replays from the event store, the deliveries log's pages, and dispatchers of several processes sharing a webhook. */
export function webhooksReplayContract(label: string, start: () => Promise<Harness>): void {
  describe(`webhook replays and log (${label})`, () => {
    let harness: Harness;
    let api: Api;
    const receivers: Receiver[] = [];
    const receiver = async () => {
      const started = await startReceiver();
      receivers.push(started);
      return started;
    };

    before(async () => {
      harness = await start();
      api = harness.central;
    });
    after(async () => {
      for (const started of receivers) await started.close();
      await harness.close();
    });

    it('replays the matching events from a position up to the head, signed, and marked replay in the log', async () => {
      const tenant = await harness.tenant('wh-replay');
      const target = await receiver();
      // Stored before the webhook existed, never published: only a replay can deliver them.
      const first = await harness.emit(tenant, 'order', 'OrderCreated', { n: 1 }, { publish: false });
      const second = await harness.emit(tenant, 'order', 'OrderCreated', { n: 2 }, { publish: false });
      await harness.emit(tenant, 'customer', 'CustomerCreated', { n: 3 }, { publish: false });
      const third = await harness.emit(tenant, 'order', 'OrderPaid', { n: 4 }, { publish: false });
      const hook = await createHook(api, tenant, { url: target.url() });
      const live = await harness.emit(tenant, 'order', 'OrderCreated', { n: 5 });
      await waitFor('the live delivery', () => target.received.length === 1);
      const started = expectStatus(await api.post(`${hooks(tenant)}/${hook.id}/replay`, { from: second.position.toString() }), 202);
      assert.equal(started.webhook, hook.id);
      assert.equal(started.from, second.position.toString());
      assert.ok(BigInt(started.to) >= live.position);
      await waitFor('the replayed events', () => target.received.length === 4);
      assert.deepEqual(eventIds(target.received), [live.id, second.id, third.id, live.id]);
      assert.ok(!eventIds(target.received).includes(first.id));
      assert.ok(target.received.every((request) => verifySignature(request, SECRET)));
      let entries: Attempt[] = [];
      for (let tries = 0; tries < 500 && entries.length < 4; tries++) {
        entries = expectStatus(await api.get(`${hooks(tenant)}/${hook.id}/deliveries`), 200).items;
        if (entries.length < 4) await sleep(20);
      }
      assert.deepEqual(
        entries.map((entry) => [entry.eventId, entry.replay, entry.status]),
        [
          [live.id, true, 'succeeded'],
          [third.id, true, 'succeeded'],
          [second.id, true, 'succeeded'],
          [live.id, false, 'succeeded'],
        ],
      );
      expectValidation(await api.post(`${hooks(tenant)}/${hook.id}/replay`, { from: 'soon' }), ['body/from']);
    });

    it('pages the deliveries log newest first with after and limit', async () => {
      const tenant = await harness.tenant('wh-pages');
      const target = await receiver();
      const hook = await createHook(api, tenant, { url: target.url() });
      const sent = [];
      for (let i = 0; i < 5; i++) sent.push(await harness.emit(tenant, 'order', 'OrderCreated', { n: i }));
      await waitFor('five deliveries', () => target.received.length === 5);
      const pages: Attempt[][] = [];
      let after: string | null = null;
      for (let tries = 0; tries < 500; tries++) {
        pages.length = 0;
        after = null;
        do {
          const query: string = after ? `?limit=2&after=${after}` : '?limit=2';
          const page: { items: Attempt[]; nextCursor: string | null } = expectStatus(
            await api.get(`${hooks(tenant)}/${hook.id}/deliveries${query}`),
            200,
          );
          pages.push(page.items);
          after = page.nextCursor;
        } while (after);
        if (pages.flat().length === 5) break;
        await sleep(20);
      }
      assert.deepEqual(
        pages.map((page) => page.length),
        [2, 2, 1],
      );
      const items = pages.flat();
      assert.deepEqual(
        items.map((item) => item.eventId),
        sent.map((event) => event.id).reverse(),
      );
      assert.deepEqual(
        items.map((item) => item.position),
        sent.map((event) => event.position.toString()).reverse(),
      );
      assert.deepEqual(
        items.map((item) => item.id),
        [...items.map((item) => item.id)].sort().reverse(),
      );
    });

    it('shares a webhook between the dispatchers of two processes: each event is delivered once', async () => {
      const tenant = await harness.tenant('wh-share');
      const target = await receiver();
      const second = await harness.another();
      try {
        const hook = await createHook(api, tenant, { url: target.url() });
        await waitFor('the second process to run the webhook', () => second.status().running.includes(`${tenant}/${hook.id}`));
        const sent = [];
        for (let i = 0; i < 12; i++) sent.push((await harness.emit(tenant, 'order', 'OrderCreated', { n: i })).id);
        await waitFor('every event', () => new Set(eventIds(target.received)).size === sent.length);
        assert.deepEqual([...eventIds(target.received)].sort(), [...sent].sort());
      } finally {
        await second.stop();
      }
    });
  });
}
