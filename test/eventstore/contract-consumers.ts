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

  it('reads ahead while a batch is handled without skipping, repeating or reordering, also when a batch fails', async () => {
    const streamId = newStream();
    const written = await store().append({ tenant: 'acme', streamId, events: Array.from({ length: 20 }, (_, i) => event(`E${i}`)) });
    const from = written.lastPosition - 20n;
    const delivered: bigint[] = [];
    let failures = 0;
    const consumer = await startConsumer(store(), {
      name: `ahead-${streamId}`,
      tenant: 'acme',
      batchSize: 3,
      readAhead: true,
      retryDelayMs: 5,
      pollIntervalMs: 20,
      handle: async (events) => {
        // The batch holding the 8th event fails twice: what was read ahead of it must not be used.
        if (failures < 2 && events.some((e) => e.position === from + 8n)) {
          failures++;
          throw new Error('handler not ready');
        }
        await new Promise((resolve) => setTimeout(resolve, 2));
        delivered.push(...events.filter((e) => e.streamId === streamId).map((e) => e.position));
      },
    });
    const late = await store().append({ tenant: 'acme', streamId, events: [event('Late')] });
    await consumer.waitFor(late.lastPosition);
    await consumer.stop();
    assert.equal(failures, 2);
    const mine = (await store().readStream('acme', streamId)).map((e) => e.position);
    assert.deepEqual(delivered, mine);
  });
}
