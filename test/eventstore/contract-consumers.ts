import assert from 'node:assert/strict';
import { it } from 'node:test';
import { type RecordedEvent, startConsumer } from '../../src/eventstore/index.js';
import { type ContractContext, event, newStream } from './contract.js';

export function consumerCases({ store }: ContractContext): void {
  it('delivers every event once, in order, and resumes after a restart from its checkpoint', async () => {
    const streamId = newStream();
    const name = `consumer-${streamId}`;
    const seen: RecordedEvent[] = [];
    const handle = (events: RecordedEvent[]) => void seen.push(...events);
    await store().append({ tenant: 'acme', streamId, events: [event('A'), event('B')] });
    let consumer = await startConsumer(store(), { name, handle, batchSize: 3, pollIntervalMs: 20 });
    const first = await store().append({ tenant: 'acme', streamId, events: [event('C')] });
    await consumer.waitFor(first.lastPosition);
    await consumer.stop();
    const stoppedAt = consumer.position;
    const second = await store().append({ tenant: 'acme', streamId, events: [event('D'), event('E')] });
    consumer = await startConsumer(store(), { name, handle, batchSize: 3, pollIntervalMs: 20 });
    await consumer.waitFor(second.lastPosition);
    await consumer.stop();
    assert.equal(stoppedAt, first.lastPosition);
    const positions = seen.map((e) => e.position);
    assert.deepEqual(positions, [...new Set(positions)], 'no event is delivered twice');
    assert.deepEqual(
      positions,
      [...positions].sort((a, b) => (a < b ? -1 : 1)),
      'events arrive in order',
    );
    const all = await store().readAll({ limit: 10_000 });
    assert.deepEqual(
      positions,
      all.filter((e) => e.position <= second.lastPosition).map((e) => e.position),
      'none is missing',
    );
  });

  it('wakes up on new appends without waiting for its poll interval', async () => {
    const consumer = await startConsumer(store(), { name: `waker-${newStream()}`, handle: () => undefined, pollIntervalMs: 60_000 });
    await consumer.waitFor(await store().headPosition());
    const started = Date.now();
    const result = await store().append({ tenant: 'acme', streamId: newStream(), events: [event('Ping')] });
    await consumer.waitFor(result.lastPosition);
    await consumer.stop();
    assert.ok(Date.now() - started < 10_000);
  });

  it('delivers only its tenant’s events when given a tenant', async () => {
    const seen: RecordedEvent[] = [];
    const consumer = await startConsumer(store(), {
      name: `tenant-only-${newStream()}`,
      tenant: 'gamma',
      handle: (e) => void seen.push(...e),
      pollIntervalMs: 20,
    });
    await store().append({ tenant: 'delta', streamId: newStream(), events: [event('NotMine')] });
    const mine = await store().append({ tenant: 'gamma', streamId: newStream(), events: [event('Mine')] });
    await consumer.waitFor(mine.lastPosition);
    await consumer.stop();
    assert.ok(seen.length > 0);
    for (const e of seen) assert.equal(e.tenant, 'gamma');
  });

  it('retries a failing batch without skipping it', async () => {
    const streamId = newStream();
    const result = await store().append({ tenant: 'acme', streamId, events: [event('Fragile')] });
    let failures = 0;
    const delivered: bigint[] = [];
    const consumer = await startConsumer(store(), {
      name: `retry-${streamId}`,
      handle: (events) => {
        if (failures < 2 && events.some((e) => e.position === result.lastPosition)) {
          failures++;
          throw new Error('handler not ready');
        }
        delivered.push(...events.map((e) => e.position));
      },
      retryDelayMs: 5,
      pollIntervalMs: 20,
    });
    await consumer.waitFor(result.lastPosition);
    await consumer.stop();
    assert.equal(failures, 2);
    assert.equal(delivered.filter((p) => p === result.lastPosition).length, 1);
  });
}
