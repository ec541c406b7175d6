import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { uuidv7 } from '../../src/kernel/index.js';
import type { DeliveryRecord, ReplayRecord, WebhookStore } from '../../src/messaging/webhooks/index.js';

const DAY_MS = 86_400_000;

function attempt(tenant: string, webhook: string, overrides: Partial<DeliveryRecord> = {}): DeliveryRecord {
  return {
    id: uuidv7(),
    tenant,
    webhook,
    eventId: uuidv7(),
    position: 42n,
    attempt: 1,
    status: 'succeeded',
    httpStatus: 200,
    durationMs: 12,
    error: null,
    replay: false,
    at: new Date(),
    ...overrides,
  };
}

/** A replay request of positions 10 to 90 (nothing done yet: progress 9). */
async function newReplay(store: WebhookStore, tenant: string, webhook: string): Promise<string> {
  const id = uuidv7();
  await store.createReplay({ id, tenant, webhook, from: 10n, to: 90n, progress: 9n });
  return id;
}

const shown = (replay: ReplayRecord | undefined) => replay && [replay.tenant, replay.webhook, replay.id, replay.progress, replay.status];

/** Claims every replay nobody holds (what other tests left too), by `owner`, for `leaseMs`. */
async function claimAll(store: WebhookStore, owner: string, leaseMs: number): Promise<ReplayRecord[]> {
  const claimed: ReplayRecord[] = [];
  for (let replay = await store.claimReplay(owner, leaseMs); replay; replay = await store.claimReplay(owner, leaseMs)) claimed.push(replay);
  return claimed;
}

/** The webhook store on each database: secrets, the deliveries log, replays, pruning and tenant deletion. */
export function webhookStoreContract(label: string, open: () => Promise<WebhookStore>): void {
  describe(`webhook store (${label})`, () => {
    let store: WebhookStore;
    before(async () => {
      store = await open();
    });
    after(() => store.close());

    it('claims a secret once, replaces it on request, and lists every webhook of every tenant', async () => {
      assert.equal(await store.insertSecret('acme', 'h1', 'first-secret-0123456789'), true);
      assert.equal(await store.insertSecret('acme', 'h1', 'other-secret-0123456789'), false);
      assert.equal(await store.secret('acme', 'h1'), 'first-secret-0123456789');
      await store.putSecret('acme', 'h1', 'rotated-secret-012345678');
      assert.equal(await store.secret('acme', 'h1'), 'rotated-secret-012345678');
      await store.putSecret('beta', 'h1', 'beta-secret-0123456789');
      assert.equal(await store.secret('acme', 'nothing'), undefined);
      assert.deepEqual(await store.webhooks(), [
        { tenant: 'acme', id: 'h1' },
        { tenant: 'beta', id: 'h1' },
      ]);
    });

    it('pages the deliveries log newest first, per tenant and webhook', async () => {
      const records = Array.from({ length: 5 }, (_, i) =>
        attempt('acme', 'log', {
          attempt: i + 1,
          status: i === 4 ? 'dead' : 'failed',
          httpStatus: i === 0 ? null : 500,
          error: 'HTTP 500',
          replay: i === 2,
        }),
      );
      for (const record of records) await store.record(record);
      await store.record(attempt('beta', 'log'));
      await store.record(attempt('acme', 'other'));
      const first = await store.deliveries('acme', 'log', { limit: 3 });
      const rest = await store.deliveries('acme', 'log', { limit: 3, before: first.at(-1)?.id as string });
      assert.deepEqual([...first, ...rest], [...records].reverse());
      assert.equal(rest.length, 2);
    });

    it('prunes attempts older than the retention, and deletes a webhook and a tenant with their rows', async () => {
      const old = attempt('acme', 'prune', { at: new Date(Date.now() - 8 * DAY_MS) });
      const recent = attempt('acme', 'prune');
      await store.record(old);
      await store.record(recent);
      assert.ok((await store.prune(new Date(Date.now() - 7 * DAY_MS))) >= 1);
      assert.deepEqual(await store.deliveries('acme', 'prune', { limit: 10 }), [recent]);

      await store.insertSecret('gamma', 'g1', 'gamma-secret-0123456789');
      await store.record(attempt('gamma', 'g1'));
      await store.insertSecret('gamma', 'g2', 'gamma-secret-0123456789');
      await store.deleteWebhook('gamma', 'g1');
      assert.equal(await store.secret('gamma', 'g1'), undefined);
      assert.deepEqual(await store.deliveries('gamma', 'g1', { limit: 10 }), []);
      await store.record(attempt('gamma', 'g2'));
      await store.deleteTenant('gamma');
      assert.equal(await store.secret('gamma', 'g2'), undefined);
      assert.deepEqual(await store.deliveries('gamma', 'g2', { limit: 10 }), []);
      assert.ok((await store.webhooks()).every((row) => row.tenant !== 'gamma'));
    });

    it('records a replay running, lists replays newest first, and lets one owner at a time claim it', async () => {
      const first = await newReplay(store, 'acme', 'replayed');
      const second = await newReplay(store, 'acme', 'replayed');
      await newReplay(store, 'beta', 'replayed');
      const listed = await store.replays('acme', 'replayed', 10);
      assert.deepEqual(
        listed.map((replay) => [replay.id, replay.from, replay.to, replay.progress, replay.status]),
        [
          [second, 10n, 90n, 9n, 'running'],
          [first, 10n, 90n, 9n, 'running'],
        ],
      );
      assert.ok(listed.every((replay) => replay.createdAt instanceof Date && replay.updatedAt >= replay.createdAt));
      assert.deepEqual(
        (await store.replays('acme', 'replayed', 1)).map((replay) => replay.id),
        [second],
      );

      const claimed = await claimAll(store, 'one', 60_000);
      assert.deepEqual(
        claimed.map(shown),
        [
          ['acme', 'replayed', first, 9n, 'running'],
          ['acme', 'replayed', second, 9n, 'running'],
          ['beta', 'replayed', claimed[2]?.id, 9n, 'running'],
        ],
        'the oldest first, each once',
      );
      assert.equal(await store.claimReplay('two', 60_000), undefined, 'held by its owner');
      await store.cancelReplays('beta');
    });

    it('renews the lease with the progress, releases it, and hands over a replay whose lease ran out', async () => {
      const id = await newReplay(store, 'acme', 'leased');
      const [claimed] = await claimAll(store, 'one', 60_000);
      assert.equal(claimed?.id, id);
      const one = { tenant: 'acme', id, owner: 'one' };
      assert.equal(await store.renewReplay(one, 40n, 60_000), true);
      assert.equal(await store.claimReplay('two', 60_000), undefined);
      // A lease of 0 releases: the next claim resumes from the saved progress.
      assert.equal(await store.renewReplay(one, 41n, 0), true);
      assert.deepEqual(shown(await store.claimReplay('two', 0)), ['acme', 'leased', id, 41n, 'running']);
      // Owner two's lease ran out at once: three takes the replay over, and two's writes are refused.
      assert.deepEqual(shown(await store.claimReplay('three', 60_000)), ['acme', 'leased', id, 41n, 'running']);
      const two = { ...one, owner: 'two' };
      assert.equal(await store.renewReplay(two, 80n, 60_000), false);
      assert.equal(await store.finishReplay(two), false);
      const three = { ...one, owner: 'three' };
      assert.equal(await store.finishReplay(three), true);
      const [finished] = await store.replays('acme', 'leased', 10);
      assert.deepEqual([finished?.status, finished?.progress], ['finished', 90n]);
      assert.equal(await store.renewReplay(three, 50n, 60_000), false, 'a finished replay stays finished');
      assert.equal(await store.claimReplay('four', 60_000), undefined, 'a finished replay is never claimed');
    });

    it('cancels the running replays of a webhook or a tenant, and deletes them with their webhook or tenant', async () => {
      const kept = await newReplay(store, 'delta', 'keep');
      const cancelled = await newReplay(store, 'delta', 'stop');
      assert.deepEqual(
        (await claimAll(store, 'one', 60_000)).map((replay) => replay.id),
        [kept, cancelled],
      );
      const one = { tenant: 'delta', id: kept, owner: 'one' };
      assert.equal(await store.finishReplay(one), true);
      await store.cancelReplays('delta', 'stop');
      assert.deepEqual(
        (await store.replays('delta', 'stop', 10)).map((replay) => [replay.id, replay.status]),
        [[cancelled, 'cancelled']],
      );
      assert.equal((await store.replays('delta', 'keep', 10))[0]?.status, 'finished', 'an ended replay is not cancelled');
      assert.equal(await store.claimReplay('two', 60_000), undefined);

      const running = await newReplay(store, 'delta', 'keep');
      await claimAll(store, 'one', 60_000);
      await store.cancelReplays('delta');
      assert.equal(await store.renewReplay({ tenant: 'delta', id: running, owner: 'one' }, 20n, 60_000), false, 'its owner learns it');
      assert.deepEqual(
        (await store.replays('delta', 'keep', 10)).map((replay) => replay.status),
        ['cancelled', 'finished'],
      );

      await store.deleteWebhook('delta', 'stop');
      assert.deepEqual(await store.replays('delta', 'stop', 10), []);
      await store.deleteTenant('delta');
      assert.deepEqual(await store.replays('delta', 'keep', 10), []);
    });

    it('prunes replays that ended before the retention, never running ones', async () => {
      await newReplay(store, 'epsilon', 'h');
      await store.cancelReplays('epsilon');
      const running = await newReplay(store, 'epsilon', 'h');
      assert.ok((await store.prune(new Date(Date.now() + 60_000))) >= 1);
      assert.deepEqual(
        (await store.replays('epsilon', 'h', 10)).map((replay) => [replay.id, replay.status]),
        [[running, 'running']],
      );
    });
  });
}
