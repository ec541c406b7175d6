import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WebhooksContext } from '../../src/messaging/webhooks/index.js';
import { type Api, expectProblem, expectStatus, expectValidation } from '../api/client.js';
import { waitFor } from './bus-harness.js';
import { createHook, hooks, SECRET } from './webhooks-contract-api.js';
import { type Harness, type Received, type Receiver, type Respond, startReceiver, verifySignature } from './webhooks-harness.js';

type Attempt = { id: string; eventId: string; position: string; attempt: number; status: string; replay: boolean };
type Replay = { replay: string; from: string; to: string; progress: string; status: string; createdAt: string; updatedAt: string };

const eventIds = (received: Received[]) => received.map((request) => request.json.id);

/** The webhook's replays as `GET …/replays` lists them. */
async function replaysOf(api: Api, tenant: string, hook: string): Promise<Replay[]> {
  return expectStatus(await api.get(`${hooks(tenant)}/${hook}/replays`), 200).items;
}

/** The replay once it has the status, asking again meanwhile. */
async function replayWhen(api: Api, tenant: string, hook: string, status: string): Promise<Replay> {
  for (let tries = 0; tries < 750; tries++) {
    const [latest] = await replaysOf(api, tenant, hook);
    if (latest?.status === status) return latest;
    await sleep(20);
  }
  assert.fail(`the replay is not ${status}`);
}

/**
 * Replays from the event store, run by the processes that deliver and resumed by another when one stops; the
 * deliveries log's pages, and dispatchers of several processes sharing a webhook.
 */
export function webhooksReplayContract(label: string, start: () => Promise<Harness>): void {
  describe(`webhook replays and log (${label})`, () => {
    let harness: Harness;
    let api: Api;
    const receivers: Receiver[] = [];
    const receiver = async (respond?: Respond) => {
      const started = await startReceiver(respond);
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

    it('runs a replay recorded by a process that delivers nothing (role api) in a process that delivers', async () => {
      const tenant = await harness.tenant('wh-replay-api');
      const target = await receiver();
      const sent = [];
      for (let i = 0; i < 3; i++) sent.push(await harness.emit(tenant, 'order', 'OrderCreated', { n: i }, { publish: false }));
      const hook = await createHook(api, tenant, { url: target.url() });
      const front = await harness.apiOnly();
      try {
        const from = sent[0]?.position.toString();
        const requested = expectStatus(await front.api.post(`${hooks(tenant)}/${hook.id}/replay`, { from }), 202);
        await waitFor('the replayed events', () => target.received.length === 3);
        assert.deepEqual(
          eventIds(target.received),
          sent.map((event) => event.id),
        );
        assert.equal(front.webhooks.status().replays, 0);
        const finished = await replayWhen(front.api, tenant, hook.id, 'finished');
        assert.deepEqual(
          { ...finished, createdAt: undefined, updatedAt: undefined },
          {
            replay: requested.replay,
            from,
            to: requested.to,
            progress: requested.to,
            status: 'finished',
            createdAt: undefined,
            updatedAt: undefined,
          },
        );
        assert.ok(Date.parse(finished.updatedAt) >= Date.parse(finished.createdAt));
        expectProblem(await front.api.get(`${hooks(tenant)}/nothing/replays`), 404, 'not_found');
      } finally {
        await front.close();
      }
    });

    it('resumes a replay from its progress in another process when the one running it stops', async () => {
      const tenant = await harness.tenant('wh-replay-resume');
      const target = await receiver(async () => {
        await sleep(40);
        return 200;
      });
      const sent = [];
      for (let i = 0; i < 20; i++) sent.push(await harness.emit(tenant, 'order', 'OrderCreated', { n: i }, { publish: false }));
      const hook = await createHook(api, tenant, { url: target.url() });
      const second = await harness.another();
      const processes = [harness.webhooks, second];
      let stopped: WebhooksContext | undefined;
      try {
        const from = sent[0]?.position.toString();
        expectStatus(await api.post(`${hooks(tenant)}/${hook.id}/replay`, { from }), 202);
        await waitFor('a few replayed events', () => target.received.length >= 5);
        stopped = processes.find((process) => process.status().replays === 1);
        assert.ok(stopped, 'one process runs the replay');
        await stopped.stop();
        const [halfway] = await replaysOf(api, tenant, hook.id);
        assert.equal(halfway?.status, 'running');
        const progress = BigInt(halfway?.progress ?? 0);
        assert.ok(progress >= (sent[4]?.position ?? 0n) && progress < (sent[19]?.position ?? 0n), `progress ${progress}`);

        const finished = await replayWhen(api, tenant, hook.id, 'finished');
        assert.equal(finished.progress, finished.to);
        const received = eventIds(target.received);
        assert.deepEqual(new Set(received), new Set(sent.map((event) => event.id)), 'every event at least once');
        for (const event of sent.filter((event) => event.position <= progress))
          assert.equal(received.filter((id) => id === event.id).length, 1, 'an event done before the stop is not delivered again');
      } finally {
        if (stopped === harness.webhooks) await harness.webhooks.start();
        await second.stop();
      }
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
