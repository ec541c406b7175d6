import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RecordedEvent } from '../../src/eventstore/index.js';
import type { Delivery } from '../../src/messaging/port.js';
import { type Api, expectStatus } from '../api/client.js';
import { waitFor } from './bus-harness.js';
import { createHook, hooks, SECRET } from './webhooks-contract-api.js';
import { type Harness, type Received, type Receiver, startReceiver, verifySignature } from './webhooks-harness.js';

type Attempt = { eventId: string; attempt: number; status: string; httpStatus: number | null; replay: boolean; error: string | null };

const eventIds = (received: Received[]) => received.map((request) => request.json.id ?? request.json.eventId);

/** Deliveries: signature, selection, retries, dead letters, isolation, pause, replay and the log. */
export function webhooksDeliveryContract(label: string, start: () => Promise<Harness>): void {
  describe(`webhook deliveries (${label})`, () => {
    let harness: Harness;
    let api: Api;
    const receivers: Receiver[] = [];
    const receiver = async (...args: Parameters<typeof startReceiver>) => {
      const started = await startReceiver(...args);
      receivers.push(started);
      return started;
    };
    /** The deliveries log, once it holds `count` attempts (they are logged just after the endpoint answers). */
    const log = async (tenant: string, id: string, count: number): Promise<Attempt[]> => {
      for (let tries = 0; ; tries++) {
        const items: Attempt[] = expectStatus(await api.get(`${hooks(tenant)}/${id}/deliveries`), 200).items;
        if (items.length >= count || tries > 500) return items;
        await sleep(20);
      }
    };

    before(async () => {
      harness = await start();
      api = harness.central;
    });
    after(async () => {
      for (const started of receivers) await started.close();
      await harness.close();
    });

    it('posts the event envelope signed with the secret, with event id, delivery id and timestamp headers', async () => {
      const tenant = await harness.tenant('wh-sign');
      const target = await receiver();
      const hook = await createHook(api, tenant, { url: target.url() });
      const event = await harness.emit(tenant, 'order', 'OrderCreated', { customer: 'ann', amount: 12 });
      await waitFor('the delivery', () => target.received.length === 1);
      const [request] = target.received as [Received];
      assert.ok(verifySignature(request, SECRET), 'the signature does not verify');
      assert.ok(!verifySignature(request, 'another-secret-0123456789'), 'any secret verifies');
      assert.equal(request.headers['x-backoffice-event-id'], event.id);
      assert.match(String(request.headers['x-backoffice-delivery']), /^[0-9a-f-]{36}$/);
      assert.ok(!Number.isNaN(Date.parse(String(request.headers['x-backoffice-timestamp']))));
      assert.equal(request.headers['content-type'], 'application/json');
      assert.deepEqual(
        [
          request.json.id,
          request.json.position,
          request.json.tenant,
          request.json.module,
          request.json.entity,
          request.json.type,
          request.json.data,
        ],
        [event.id, event.position.toString(), tenant, 'sales', 'order', 'OrderCreated', { customer: 'ann', amount: 12 }],
      );
      const [entry] = await log(tenant, hook.id, 1);
      assert.deepEqual(
        [entry?.eventId, entry?.attempt, entry?.status, entry?.httpStatus, entry?.replay],
        [event.id, 1, 'succeeded', 200, false],
      );
      assert.equal((entry as unknown as { id: string }).id, request.headers['x-backoffice-delivery']);
    });

    it('delivers only the events its patterns and filter select, as its JSONata transform shapes them', async () => {
      const tenant = await harness.tenant('wh-select');
      const target = await receiver();
      await createHook(api, tenant, {
        url: target.url(),
        events: ['sales.order.OrderCreated', 'sales.*.Marker'],
        filter: { $or: [{ amount: { $gte: 100 } }, { marker: true }], tags: { $ne: 'test' } },
        transform: '{ "eventId": id, "kind": type, "amount": data.amount }',
      });
      await harness.emit(tenant, 'order', 'OrderCreated', { amount: 50 });
      await harness.emit(tenant, 'order', 'OrderUpdated', { amount: 500 });
      await harness.emit(tenant, 'customer', 'CustomerCreated', { amount: 500 });
      await harness.emit(tenant, 'order', 'OrderCreated', { amount: 150, tags: 'test' });
      const wanted = await harness.emit(tenant, 'order', 'OrderCreated', { amount: 150 });
      const marker = await harness.emit(tenant, 'customer', 'Marker', { marker: true });
      await waitFor('the marker', () => eventIds(target.received).includes(marker.id));
      assert.deepEqual(
        target.received.map((request) => request.json),
        [
          { eventId: wanted.id, kind: 'OrderCreated', amount: 150 },
          { eventId: marker.id, kind: 'Marker' },
        ],
      );
      assert.ok(target.received.every((request) => verifySignature(request, SECRET)));
    });

    it('retries a failing endpoint with backoff until it answers 2xx, logging every attempt', async () => {
      const tenant = await harness.tenant('wh-retry');
      const target = await receiver((_request, n) => (n <= 2 ? 500 : 204));
      const hook = await createHook(api, tenant, { url: target.url() });
      const event = await harness.emit(tenant, 'order', 'OrderCreated', { amount: 1 });
      await waitFor('three attempts', () => target.received.length === 3);
      assert.deepEqual(eventIds(target.received), [event.id, event.id, event.id]);
      assert.equal(new Set(target.received.map((request) => request.headers['x-backoffice-delivery'])).size, 3);
      assert.ok(target.received.every((request) => verifySignature(request, SECRET)));
      assert.deepEqual(
        (await log(tenant, hook.id, 3)).map((entry) => [entry.attempt, entry.status, entry.httpStatus, entry.error]),
        [
          [3, 'succeeded', 204, null],
          [2, 'failed', 500, 'HTTP 500'],
          [1, 'failed', 500, 'HTTP 500'],
        ],
      );
    });

    it('dead-letters an event after the last attempt: logged dead and published on the dead letter subject', async () => {
      const tenant = await harness.tenant('wh-dead');
      const target = await receiver(() => 503);
      const hook = await createHook(api, tenant, { url: target.url() });
      const letters: Delivery[] = [];
      const subscription = await harness.bus.consume({
        name: `dl-${tenant}`,
        subject: `${harness.bus.root}.${tenant}.deadletter.*`,
        handle: async (delivery) => void letters.push(delivery),
      });
      try {
        const event = await harness.emit(tenant, 'order', 'OrderCreated', { amount: 1 });
        await waitFor('the dead letter', () => letters.length === 1);
        assert.equal(target.received.length, 3);
        const [letter] = letters as [Delivery];
        assert.equal(letter.subject, `${harness.bus.root}.${tenant}.deadletter.webhook-${hook.id}`);
        assert.deepEqual(
          [letter.headers['Bo-Webhook'], letter.headers['Bo-Dead-Letter-Reason'], letter.headers['Bo-Attempts']],
          [hook.id, 'HTTP 503', '3'],
        );
        const body = JSON.parse(Buffer.from(letter.data).toString());
        assert.deepEqual([body.webhook, body.reason, body.attempts, body.event.id], [hook.id, 'HTTP 503', 3, event.id]);
        assert.deepEqual(
          (await log(tenant, hook.id, 3)).map((entry) => [entry.attempt, entry.status]),
          [
            [3, 'dead'],
            [2, 'failed'],
            [1, 'failed'],
          ],
        );
      } finally {
        await subscription.stop();
      }
    });

    it("keeps delivering to one webhook while another webhook's endpoint hangs", async () => {
      const tenant = await harness.tenant('wh-isolate');
      const stuck = await receiver(() => 'hang');
      const healthy = await receiver();
      await createHook(api, tenant, { url: stuck.url() });
      await createHook(api, tenant, { url: healthy.url() });
      const sent: RecordedEvent[] = [];
      for (let i = 0; i < 5; i++) sent.push(await harness.emit(tenant, 'order', 'OrderCreated', { n: i }));
      await waitFor('every event at the healthy endpoint', () => healthy.received.length === 5);
      assert.deepEqual(
        eventIds(healthy.received),
        sent.map((event) => event.id),
      );
      // maxInFlight is 1: the hanging endpoint holds its first event and has seen nothing else.
      assert.deepEqual(eventIds(stuck.received), [sent[0]?.id]);
      await stuck.close();
    });

    it('starts and stops dispatchers as webhooks are created, paused, resumed and deleted', async () => {
      const tenant = await harness.tenant('wh-pause');
      const target = await receiver();
      const hook = await createHook(api, tenant, { url: target.url() });
      const key = `${tenant}/${hook.id}`;
      assert.ok(harness.webhooks.status().running.includes(key));
      expectStatus(await api.patch(`${hooks(tenant)}/${hook.id}`, { active: false }), 200);
      assert.ok(!harness.webhooks.status().running.includes(key));
      const whilePaused = await harness.emit(tenant, 'order', 'OrderCreated', { n: 1 });
      expectStatus(await api.patch(`${hooks(tenant)}/${hook.id}`, { active: true }), 200);
      await waitFor('the event sent while paused', () => target.received.length === 1);
      assert.deepEqual(eventIds(target.received), [whilePaused.id]);
      expectStatus(await api.delete(`${hooks(tenant)}/${hook.id}`), 200);
      assert.ok(!harness.webhooks.status().running.includes(key));
      const other = await receiver();
      await createHook(api, tenant, { url: other.url() });
      const marker = await harness.emit(tenant, 'order', 'OrderCreated', { n: 2 });
      await waitFor('the marker at the other webhook', () => other.received.length === 1);
      assert.deepEqual(eventIds(other.received), [marker.id]);
      assert.equal(target.received.length, 1, 'a deleted webhook delivered');
    });

    it('signs with the new secret once it is changed', async () => {
      const tenant = await harness.tenant('wh-rotate');
      const target = await receiver();
      const hook = await createHook(api, tenant, { url: target.url() });
      const rotated = 'whsec-rotated-0123456789-abcdefg';
      expectStatus(await api.patch(`${hooks(tenant)}/${hook.id}`, { secret: rotated }), 200);
      await harness.emit(tenant, 'order', 'OrderCreated', {});
      await waitFor('the delivery', () => target.received.length === 1);
      assert.ok(verifySignature(target.received[0] as Received, rotated));
    });
  });
}
