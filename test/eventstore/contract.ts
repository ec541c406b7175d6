import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AppendRequest, EventStore } from '../../src/eventstore/index.js';
import { APPEND_LIMITS } from '../../src/eventstore/index.js';
import { isAppError } from '../../src/kernel/index.js';
import { badInputCases } from './contract-bad-input.js';
import { concurrencyCases } from './contract-concurrency.js';
import { consumerCases } from './contract-consumers.js';
import { tenantDeletionCases } from './contract-tenant-deletion.js';

export interface StoreOptions {
  idempotencyTtlMs?: number;
}

/** Opens a store on a fresh, empty database; `reopen` opens another instance on the same database. */
export type StoreFactory = (options?: StoreOptions) => Promise<{ store: EventStore; reopen(): Promise<EventStore> }>;

export interface ContractContext {
  store(): EventStore;
  fresh: StoreFactory;
}

let streamCounter = 0;
export const newStream = (prefix = 'order') => `${prefix}-${++streamCounter}-${Date.now()}`;

export function event(type: string, data: AppendRequest['events'][number]['data'] = {}) {
  return { type, data };
}

export async function rejects(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isAppError(error), `expected an AppError, got ${String(error)}`);
    assert.equal(error.code, code);
    return true;
  });
}

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The behaviour every event store adapter must have; run unchanged on each of them. */
export function eventStoreContract(backend: string, fresh: StoreFactory): void {
  describe(`event store contract on ${backend}`, () => {
    let store: EventStore;
    before(async () => {
      store = (await fresh()).store;
    });
    after(async () => {
      await store.close();
    });
    const context: ContractContext = { store: () => store, fresh };

    it('appends events and reads them back with their full envelope', async () => {
      const streamId = newStream();
      const result = await store.append({
        tenant: 'acme',
        streamId,
        events: [event('OrderPlaced', { amount: 12.5, lines: [{ sku: 'a' }], note: 'ünïcødé ✓' })],
        expectedVersion: 'no_stream',
        metadata: {
          correlationId: 'corr-1',
          causationId: 'cause-1',
          actor: 'alice',
          traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        },
      });
      assert.equal(result.streamVersion, 1);
      assert.equal(result.duplicate, false);
      assert.equal(result.firstPosition, result.lastPosition);
      const [stored] = await store.readStream('acme', streamId);
      assert.ok(stored);
      assert.match(stored.id, UUID_V7);
      assert.equal(stored.id, result.eventIds[0]);
      assert.equal(stored.position, result.firstPosition);
      assert.equal(stored.streamVersion, 1);
      assert.equal(stored.type, 'OrderPlaced');
      assert.equal(stored.schemaVersion, 1);
      assert.deepEqual(stored.data, { amount: 12.5, lines: [{ sku: 'a' }], note: 'ünïcødé ✓' });
      assert.deepEqual(stored.metadata, {
        tenant: 'acme',
        correlationId: 'corr-1',
        causationId: 'cause-1',
        actor: 'alice',
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      });
      assert.equal(stored.recordedAt.getTime(), result.recordedAt.getTime());
      assert.ok(Math.abs(stored.recordedAt.getTime() - Date.now()) < 60_000);
    });

    it('generates a correlation id when none is given and keeps schema versions', async () => {
      const streamId = newStream();
      await store.append({ tenant: 'acme', streamId, events: [{ type: 'V2Event', data: null, schemaVersion: 2 }] });
      const [stored] = await store.readStream('acme', streamId);
      assert.equal(stored?.schemaVersion, 2);
      assert.equal(stored?.data, null);
      assert.match(stored?.metadata.correlationId ?? '', UUID_V7);
      assert.equal(stored?.metadata.causationId, null);
      assert.equal(stored?.metadata.actor, null);
    });

    it('writes a multi-event append atomically with contiguous versions and positions', async () => {
      const streamId = newStream();
      const events = Array.from({ length: 10 }, (_, i) => event('LineAdded', { i }));
      const result = await store.append({ tenant: 'acme', streamId, events });
      assert.equal(result.streamVersion, 10);
      assert.equal(result.lastPosition - result.firstPosition, 9n);
      const stored = await store.readStream('acme', streamId);
      assert.deepEqual(
        stored.map((e) => e.streamVersion),
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
      );
      assert.deepEqual(
        stored.map((e) => e.position),
        stored.map((_, i) => result.firstPosition + BigInt(i)),
      );
      assert.deepEqual(
        stored.map((e) => e.data),
        events.map((e) => e.data),
      );
    });

    it('enforces every kind of expected version', async () => {
      const streamId = newStream();
      await rejects(store.append({ tenant: 'acme', streamId, events: [event('A')], expectedVersion: 'exists' }), 'version_conflict');
      await rejects(store.append({ tenant: 'acme', streamId, events: [event('A')], expectedVersion: 1 }), 'version_conflict');
      await store.append({ tenant: 'acme', streamId, events: [event('A')], expectedVersion: 'no_stream' });
      await rejects(store.append({ tenant: 'acme', streamId, events: [event('B')], expectedVersion: 'no_stream' }), 'version_conflict');
      await store.append({ tenant: 'acme', streamId, events: [event('B')], expectedVersion: 'exists' });
      await store.append({ tenant: 'acme', streamId, events: [event('C')], expectedVersion: 2 });
      await rejects(store.append({ tenant: 'acme', streamId, events: [event('D')], expectedVersion: 2 }), 'version_conflict');
      await store.append({ tenant: 'acme', streamId, events: [event('D')], expectedVersion: 'any' });
      const stored = await store.readStream('acme', streamId);
      assert.deepEqual(
        stored.map((e) => e.type),
        ['A', 'B', 'C', 'D'],
      );
    });

    it('reports the actual version in a conflict and writes nothing', async () => {
      const streamId = newStream();
      await store.append({ tenant: 'acme', streamId, events: [event('A'), event('B')] });
      const head = await store.headPosition();
      const error = await store.append({ tenant: 'acme', streamId, events: [event('C')], expectedVersion: 5 }).catch((e) => e);
      assert.ok(isAppError(error, 'version_conflict'));
      assert.equal(error.details.actual, 2);
      assert.equal(error.details.expected, 5);
      assert.equal(await store.headPosition(), head);
    });

    it('reads a stream from a version with a limit', async () => {
      const streamId = newStream();
      await store.append({ tenant: 'acme', streamId, events: Array.from({ length: 6 }, (_, i) => event('E', { i })) });
      const page = await store.readStream('acme', streamId, { fromVersion: 3, limit: 2 });
      assert.deepEqual(
        page.map((e) => e.streamVersion),
        [3, 4],
      );
      assert.deepEqual(await store.readStream('acme', 'no-such-stream'), []);
    });

    it('reads the whole log and a tenant log in position order from a position', async () => {
      const start = await store.headPosition();
      const a = newStream();
      const b = newStream();
      await store.append({ tenant: 'tenant-a', streamId: a, events: [event('A1'), event('A2')] });
      await store.append({ tenant: 'tenant-b', streamId: b, events: [event('B1')] });
      await store.append({ tenant: 'tenant-a', streamId: a, events: [event('A3')] });
      const all = await store.readAll({ after: start });
      assert.deepEqual(
        all.map((e) => e.type),
        ['A1', 'A2', 'B1', 'A3'],
      );
      assert.deepEqual(
        all.map((e) => e.position),
        [1n, 2n, 3n, 4n].map((n) => start + n),
      );
      const tenantA = await store.readTenant('tenant-a', { after: start });
      assert.deepEqual(
        tenantA.map((e) => e.type),
        ['A1', 'A2', 'A3'],
      );
      const limited = await store.readAll({ after: start + 1n, limit: 2 });
      assert.deepEqual(
        limited.map((e) => e.type),
        ['A2', 'B1'],
      );
      // The data-only read: the same events, without their ids, metadata and times.
      assert.deepEqual(
        await store.readAllData({ after: start + 1n, limit: 2 }),
        limited.map(({ id: _id, metadata: _metadata, recordedAt: _recordedAt, ...data }) => data),
      );
      assert.equal(await store.headPosition(), start + 4n);
    });

    it('never returns one tenant’s events to another, even for the same stream id', async () => {
      const streamId = newStream('shared');
      await store.append({ tenant: 'alpha', streamId, events: [event('Secret', { owner: 'alpha' })] });
      await store.append({ tenant: 'beta', streamId, events: [event('Other', { owner: 'beta' })], expectedVersion: 'no_stream' });
      const alpha = await store.readStream('alpha', streamId);
      const beta = await store.readStream('beta', streamId);
      assert.deepEqual(
        alpha.map((e) => [e.tenant, e.streamVersion]),
        [['alpha', 1]],
      );
      assert.deepEqual(
        beta.map((e) => [e.tenant, e.streamVersion]),
        [['beta', 1]],
      );
      for (const e of await store.readTenant('beta', { limit: 10_000 })) assert.equal(e.tenant, 'beta');
      for (const e of await store.readTenant('alpha', { limit: 10_000 })) assert.equal(e.tenant, 'alpha');
    });

    it('returns the original result for a repeated idempotency key and writes nothing', async () => {
      const streamId = newStream();
      const request = { tenant: 'acme', streamId, events: [event('Paid', { amount: 5 })], idempotencyKey: 'pay-1' };
      const first = await store.append(request);
      const head = await store.headPosition();
      const second = await store.append({ ...request, metadata: { correlationId: 'retry' } });
      assert.equal(second.duplicate, true);
      assert.deepEqual({ ...second, duplicate: false }, first);
      assert.equal(await store.headPosition(), head);
      assert.equal((await store.readStream('acme', streamId)).length, 1);
    });

    it('returns the original result after the first reply was lost, from another store instance', async () => {
      const { store: first, reopen } = await fresh();
      const request = { tenant: 'acme', streamId: newStream(), events: [event('Paid')], idempotencyKey: 'lost-reply' };
      const original = await first.append(request);
      await first.close();
      const second = await reopen();
      try {
        const retried = await second.append(request);
        assert.equal(retried.duplicate, true);
        assert.equal(retried.lastPosition, original.lastPosition);
        assert.deepEqual(retried.eventIds, original.eventIds);
        assert.equal(await second.headPosition(), original.lastPosition);
      } finally {
        await second.close();
      }
    });

    it('rejects an idempotency key reused for a different append, and scopes keys per tenant', async () => {
      const streamId = newStream();
      await store.append({ tenant: 'acme', streamId, events: [event('A', { n: 1 })], idempotencyKey: 'k-1' });
      await rejects(
        store.append({ tenant: 'acme', streamId, events: [event('A', { n: 2 })], idempotencyKey: 'k-1' }),
        'idempotency_key_reused',
      );
      const other = await store.append({ tenant: 'other', streamId, events: [event('A', { n: 2 })], idempotencyKey: 'k-1' });
      assert.equal(other.duplicate, false);
    });

    it('writes once when the same idempotent append arrives concurrently', async () => {
      const streamId = newStream();
      const request = { tenant: 'acme', streamId, events: [event('Once')], idempotencyKey: 'concurrent-1' };
      const results = await Promise.all(Array.from({ length: 8 }, () => store.append(request)));
      assert.equal(results.filter((r) => !r.duplicate).length, 1);
      assert.equal(new Set(results.map((r) => r.lastPosition)).size, 1);
      assert.equal((await store.readStream('acme', streamId)).length, 1);
    });

    it('forgets idempotency keys after their time to live', async () => {
      const { store: shortLived } = await fresh({ idempotencyTtlMs: 50 });
      try {
        const request = { tenant: 'acme', streamId: newStream(), events: [event('A')], idempotencyKey: 'ttl' };
        await shortLived.append(request);
        await new Promise((resolve) => setTimeout(resolve, 120));
        const again = await shortLived.append(request);
        assert.equal(again.duplicate, false);
        assert.equal(again.streamVersion, 2);
        await shortLived.append({ ...request, idempotencyKey: 'ttl-2', streamId: newStream() });
        await new Promise((resolve) => setTimeout(resolve, 120));
        assert.equal(await shortLived.purgeIdempotencyKeys(), 2);
        assert.equal(await shortLived.findIdempotent('acme', 'ttl-2'), undefined);
      } finally {
        await shortLived.close();
      }
    });

    it('keeps client-supplied event ids unique per tenant', async () => {
      const id = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b';
      await store.append({ tenant: 'acme', streamId: newStream(), events: [{ type: 'A', data: {}, id }] });
      const head = await store.headPosition();
      await rejects(store.append({ tenant: 'acme', streamId: newStream(), events: [{ type: 'B', data: {}, id }] }), 'already_exists');
      assert.equal(await store.headPosition(), head);
      await store.append({ tenant: 'other', streamId: newStream(), events: [{ type: 'B', data: {}, id }] });
    });

    it('stores and loads checkpoints', async () => {
      assert.equal(await store.checkpoints.load('never-saved'), 0n);
      await store.checkpoints.save('reader', 42n);
      await store.checkpoints.save('reader', 43n);
      assert.equal(await store.checkpoints.load('reader'), 43n);
    });

    it('answers a ping', async () => {
      await store.ping();
    });

    it('documents its limits', () => {
      assert.equal(APPEND_LIMITS.maxEventBytes, 1024 * 1024);
    });

    badInputCases(context);
    concurrencyCases(context);
    consumerCases(context);
    tenantDeletionCases(context);
  });
}
