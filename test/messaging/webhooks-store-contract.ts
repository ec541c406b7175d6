import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { uuidv7 } from '../../src/kernel/index.js';
import type { DeliveryRecord, WebhookStore } from '../../src/messaging/webhooks/index.js';

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

/** The webhook store on each database: secrets, the deliveries log, pruning and tenant deletion. */
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
  });
}
