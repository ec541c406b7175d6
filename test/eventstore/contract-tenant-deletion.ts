import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { AppendRequest, EventStore, RecordedEvent } from '../../src/eventstore/index.js';
import { type ContractContext, event, newStream, rejects } from './contract.js';
import { readEverything } from './torture.js';

const ORDER = { module: 'shop', entity: 'order' };
const summary = (events: RecordedEvent[]) => events.map((e) => [e.position, e.tenant, e.streamId, e.streamVersion, e.id, e.data]);

/** An append that projects the order document `id` (a second version of it when the stream goes on). */
const orderAppend = (tenant: string, streamId: string, id: string, n: number, idempotencyKey?: string): AppendRequest => ({
  tenant,
  streamId,
  events: [event('OrderChanged', { n })],
  document: { ...ORDER, id, data: { n } },
  ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
});

/** Deleting a tenant: each case opens its own store, since it leaves gaps in the log on purpose. */
export function tenantDeletionCases({ fresh }: ContractContext): void {
  async function withFreshStore(work: (store: EventStore, reopen: () => Promise<EventStore>) => Promise<void>): Promise<void> {
    const { store, reopen } = await fresh();
    try {
      await work(store, reopen);
    } finally {
      await store.close();
    }
  }

  it("deletes a tenant's events, documents and idempotency keys and leaves other tenants' events as they were", async () => {
    await withFreshStore(async (store) => {
      const doomed = newStream();
      const kept = newStream();
      await store.append(orderAppend('doomed', doomed, 'o-1', 1, 'key-1'));
      await store.append(orderAppend('kept', kept, 'o-1', 1, 'key-1'));
      await store.append(orderAppend('doomed', doomed, 'o-1', 2, 'key-2'));
      await store.append(orderAppend('kept', kept, 'o-1', 2));
      await store.append({ tenant: 'doomed', streamId: newStream(), events: [event('Other')] });
      const before = await readEverything(store);
      const keptBefore = await store.readTenant('kept');
      const head = await store.headPosition();

      await store.deleteTenant('doomed');

      assert.deepEqual(await store.readTenant('doomed'), []);
      assert.deepEqual(await store.readStream('doomed', doomed), []);
      assert.equal(await store.findIdempotent('doomed', 'key-1'), undefined);
      assert.deepEqual(summary(await store.readTenant('kept')), summary(keptBefore));
      assert.deepEqual(
        summary(await readEverything(store)),
        summary(before.filter((e) => e.tenant !== 'doomed')),
        'the log holds the other tenants’ events at their positions, and nothing else',
      );
      assert.equal(await store.headPosition(), head);
      assert.equal((await store.findIdempotent('kept', 'key-1'))?.result.streamVersion, 1);
    });
  });

  it("starts the deleted tenant's streams again from version 1, past every position given before", async () => {
    await withFreshStore(async (store, reopen) => {
      const streamId = newStream();
      await store.append(orderAppend('kept', newStream(), 'o-1', 1));
      await store.append(orderAppend('doomed', streamId, 'o-1', 1, 'key-1'));
      const last = await store.append(orderAppend('doomed', streamId, 'o-1', 2));

      await store.deleteTenant('doomed');
      assert.equal(await store.headPosition(), last.lastPosition, 'the head stays where the deleted events left it');

      // Stored document versions 1 and 2 of the order would collide with the new version 1.
      const again = await store.append({ ...orderAppend('doomed', streamId, 'o-1', 3, 'key-1'), expectedVersion: 'no_stream' });
      assert.equal(again.streamVersion, 1);
      assert.equal(again.duplicate, false, 'the idempotency key was forgotten with its tenant');
      assert.equal(again.firstPosition, last.lastPosition + 1n);
      assert.deepEqual(
        (await store.readStream('doomed', streamId)).map((e) => [e.position, e.streamVersion, e.data]),
        [[again.firstPosition, 1, { n: 3 }]],
      );
      await store.append(orderAppend('doomed', streamId, 'o-1', 4));
      assert.deepEqual(
        (await store.readTenant('doomed')).map((e) => e.streamVersion),
        [1, 2],
      );
      const reopened = await reopen();
      try {
        assert.equal(await reopened.headPosition(), again.firstPosition + 1n);
      } finally {
        await reopened.close();
      }
    });
  });

  it('never gives a deleted position again, even when every event of the log was deleted', async () => {
    await withFreshStore(async (store) => {
      await store.append({ tenant: 'first', streamId: newStream(), events: [event('A')] });
      const last = await store.append({ tenant: 'second', streamId: newStream(), events: [event('B'), event('C')] });
      await store.deleteTenant('second');
      await store.deleteTenant('first');
      await store.deleteTenant('never-written');
      assert.deepEqual(await store.readAll(), []);
      assert.equal(await store.headPosition(), last.lastPosition);
      const next = await store.append({ tenant: 'first', streamId: newStream(), events: [event('D')] });
      assert.equal(next.firstPosition, last.lastPosition + 1n);
      assert.ok(next.recordedAt >= last.recordedAt, 'recorded times still follow positions');
    });
  });

  it('rejects deleting a malformed tenant id', async () => {
    await withFreshStore(async (store) => {
      for (const tenant of ['', '*', 'Acme', "x'; --"]) await rejects(store.deleteTenant(tenant), 'validation_failed');
    });
  });
}
