import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import fc from 'fast-check';
import pg from 'pg';
import { type AppendResult, type Consumer, type EventStore, type RecordedEvent, startConsumer } from '../../src/eventstore/index.js';
import { createPostgresEventStore } from '../../src/eventstore/postgres/store.js';
import { isAppError } from '../../src/kernel/index.js';
import { testDatabases } from '../support/postgres.js';
import { assertLogInvariants } from './contract-concurrency.js';
import {
  countingReads,
  eventually,
  lockWaiters,
  positionsOf,
  type RawAppend,
  range,
  rawAppend,
  rawClient,
  readEverything,
  sleep,
  tracked,
  within,
} from './torture.js';

/**
 * A transaction that takes its positions and commits late must neither be skipped by a consumer
 * nor stall it forever when it aborts (docs/decisions/0002). Raw SQL plays the slow writer.
 */
const newDatabase = testDatabases('late_commit');

interface Harness {
  url: string;
  stores: EventStore[];
  admin: pg.Client;
  consumer: Consumer;
  delivered: RecordedEvent[];
  /** Completed consumer polls. */
  reads(): number;
}

/** What a test opened, closed after it (before the file's databases are dropped). */
const cleanups: (() => Promise<unknown>)[] = [];

async function openHarness(storeCount: number): Promise<Harness> {
  const { url, adminUrl } = await newDatabase();
  const stores: EventStore[] = [];
  for (let i = 0; i < storeCount; i++) {
    const store = await createPostgresEventStore({ connectionString: url, poolSize: 2 });
    cleanups.push(() => store.close());
    stores.push(store);
  }
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  cleanups.push(() => admin.end());
  const counted = countingReads(stores[0] as EventStore);
  const delivered: RecordedEvent[] = [];
  const consumer = await startConsumer(counted.store, {
    name: 'torture',
    handle: (events) => void delivered.push(...events),
    batchSize: 7,
    pollIntervalMs: 10,
  });
  cleanups.push(() => consumer.stop());
  return { url, stores, admin, consumer, delivered, reads: counted.reads };
}

async function openRawClient(url: string) {
  const raw = await rawClient(url);
  cleanups.push(() => raw.client.end());
  return raw;
}

/** A few committed events, delivered, so that the late transaction does not start at position 1. */
async function prefill(harness: Harness): Promise<bigint> {
  let last = 0n;
  for (const [i, store] of harness.stores.entries()) {
    last = (await store.append({ tenant: 'acme', streamId: `early-${i}`, events: [{ type: 'Early', data: { i } }] })).lastPosition;
  }
  await within(harness.consumer.waitFor(last), 10_000, 'the consumer reading the prefill');
  return last;
}

/** Several appends per store, all in flight at once. */
function startWriters(stores: EventStore[], perStore: number) {
  return stores.flatMap((store, s) =>
    Array.from({ length: perStore }, (_, i) =>
      tracked(
        store.append({
          tenant: 'acme',
          streamId: `writer-${s}-${i % 2}`,
          events: [
            { type: 'A', data: { i } },
            { type: 'B', data: {} },
          ],
        }),
      ),
    ),
  );
}

/** While a transaction holds the log lock: every store waits for it and the consumer, polling, stays put. */
async function assertHeldBehind(harness: Harness, writes: { settled(): boolean }[], head: bigint): Promise<void> {
  await eventually(async () => (await lockWaiters(harness.admin)) === harness.stores.length, 1500, 'every store waiting on the log lock');
  const polls = harness.reads();
  await eventually(() => harness.reads() >= polls + 5, 5000, 'five more consumer polls');
  assert.equal(writes.filter((write) => write.settled()).length, 0, 'no append is acknowledged while the log lock is held');
  assert.equal(harness.consumer.position, head, 'the consumer does not move past the open transaction');
  assert.deepEqual(positionsOf(harness.delivered), range(1n, head));
  assert.equal(await harness.stores[1]?.headPosition(), head);
}

async function settleAll(harness: Harness, writes: { promise: Promise<AppendResult> }[]): Promise<AppendResult[]> {
  const results = await within(Promise.all(writes.map((write) => write.promise)), 10_000, 'the held appends');
  const head = await harness.stores[0]?.headPosition();
  assert.ok(head);
  await within(harness.consumer.waitFor(head), 10_000, 'the consumer catching up');
  return results;
}

/** The consumer delivered exactly the log, once, in order, gapless; the log holds exactly `acked`. */
async function assertDeliveredExactly(harness: Harness, acked: string[]): Promise<RecordedEvent[]> {
  const all = await readEverything(harness.stores.at(-1) as EventStore);
  assert.deepEqual(harness.delivered, all, 'the consumer delivered the log exactly once, in order');
  assertLogInvariants(all, 0n);
  assert.deepEqual(new Set(all.map((e) => e.id)), new Set(acked), 'the log holds exactly the acknowledged events');
  assert.equal(all.length, acked.length);
  return all;
}

const minFirst = (results: AppendResult[]) => results.map((r) => r.firstPosition).sort((a, b) => (a < b ? -1 : 1))[0];

const target = fc.record({
  tenant: fc.constantFrom('acme', 'globex'),
  streamId: fc.constantFrom('s1', 's2', 's3'),
  count: fc.integer({ min: 1, max: 3 }),
});

const operation = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('store' as const),
      store: fc.integer({ min: 0, max: 3 }),
      append: target,
      expectedVersion: fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined }),
      delayMs: fc.integer({ min: 0, max: 20 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('raw' as const),
      appends: fc.array(target, { minLength: 1, maxLength: 2 }),
      commit: fc.boolean(),
      delayMs: fc.integer({ min: 0, max: 20 }),
      holdMs: fc.integer({ min: 0, max: 25 }),
    }),
  },
);

describe('late commits on PostgreSQL', () => {
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  });

  it('holds later appends and the consumer behind an open transaction, then delivers everything once in order', async () => {
    const harness = await openHarness(3);
    const head = await prefill(harness);
    const { client } = await openRawClient(harness.url);
    await client.query('BEGIN');
    const [late] = await rawAppend(client, [{ tenant: 'acme', streamId: 'late', count: 3 }]);
    assert.ok(late);
    assert.deepEqual([late.firstPosition, late.lastPosition], [head + 1n, head + 3n]);
    const writes = startWriters(harness.stores, 4);
    await assertHeldBehind(harness, writes, head);

    await client.query('COMMIT');
    const results = await settleAll(harness, writes);
    assert.equal(minFirst(results), late.lastPosition + 1n, 'the held appends come after the late one');
    const earlyIds = harness.delivered.slice(0, Number(head)).map((e) => e.id);
    const all = await assertDeliveredExactly(harness, [...earlyIds, ...late.eventIds, ...results.flatMap((r) => r.eventIds)]);
    assert.deepEqual(
      all.slice(Number(head), Number(head) + 3).map((e) => e.id),
      late.eventIds,
      'the late events sit at the positions they took',
    );
  });

  it('reuses the positions of an aborted transaction and lets the consumer go on at once', async () => {
    const harness = await openHarness(3);
    const head = await prefill(harness);
    const { client } = await openRawClient(harness.url);
    await client.query('BEGIN');
    const [aborted] = await rawAppend(client, [{ tenant: 'acme', streamId: 'aborted', count: 3 }]);
    assert.ok(aborted);
    const writes = startWriters(harness.stores, 4);
    await assertHeldBehind(harness, writes, head);

    await client.query('ROLLBACK');
    const results = await settleAll(harness, writes);
    assert.equal(minFirst(results), head + 1n, 'the aborted positions are taken by the next append');
    const earlyIds = harness.delivered.slice(0, Number(head)).map((e) => e.id);
    const all = await assertDeliveredExactly(harness, [...earlyIds, ...results.flatMap((r) => r.eventIds)]);
    for (const id of aborted.eventIds) assert.ok(!all.some((e) => e.id === id), 'no event of the aborted transaction appears');
    assert.equal((await harness.stores[0]?.readStream('acme', 'aborted'))?.length, 0);
  });

  it('frees the log when the server ends a writer that hangs inside its transaction', async () => {
    const harness = await openHarness(2);
    const head = await prefill(harness);
    const { client, errors } = await openRawClient(harness.url);
    await client.query(`SET idle_in_transaction_session_timeout = '2s'`);
    await client.query('BEGIN');
    const [hung] = await rawAppend(client, [{ tenant: 'acme', streamId: 'hung', count: 2 }]);
    assert.ok(hung);
    const writes = startWriters(harness.stores, 3);
    await eventually(async () => (await lockWaiters(harness.admin)) === harness.stores.length, 1500, 'every store waiting on the log lock');
    assert.equal(writes.filter((write) => write.settled()).length, 0);

    const results = await settleAll(harness, writes);
    assert.equal((errors[0] as { code?: string } | undefined)?.code, '25P03', 'the server ended the idle transaction');
    assert.equal(minFirst(results), head + 1n);
    const earlyIds = harness.delivered.slice(0, Number(head)).map((e) => e.id);
    const all = await assertDeliveredExactly(harness, [...earlyIds, ...results.flatMap((r) => r.eventIds)]);
    for (const id of hung.eventIds) assert.ok(!all.some((e) => e.id === id));
  });

  it('delivers exactly the acknowledged events under random writers, late commits and aborts', { timeout: 25_000 }, async () => {
    const harness = await openHarness(4);
    const { url } = harness;
    const rawPool = new pg.Pool({ connectionString: url, max: 4 });
    rawPool.on('error', () => undefined);
    cleanups.push(() => rawPool.end());
    const acked: string[] = [];
    const aborted: string[] = [];
    let run = 0;

    await fc.assert(
      fc.asyncProperty(fc.array(operation, { minLength: 5, maxLength: 30 }), async (operations) => {
        run++;
        const streamOf = (append: RawAppend) => ({ ...append, streamId: `${append.streamId}-${run}` });
        await Promise.all(
          operations.map(async (op) => {
            await sleep(op.delayMs);
            if (op.kind === 'store') {
              const store = harness.stores[op.store] as EventStore;
              const { tenant, streamId, count } = streamOf(op.append);
              const events = Array.from({ length: count }, (_, i) => ({ type: 'Stored', data: { i } }));
              try {
                acked.push(...(await store.append({ tenant, streamId, events, expectedVersion: op.expectedVersion ?? 'any' })).eventIds);
              } catch (error) {
                assert.ok(isAppError(error, 'version_conflict'), String(error));
              }
              return;
            }
            const client = await rawPool.connect();
            try {
              await client.query('BEGIN');
              const ids = (await rawAppend(client, op.appends.map(streamOf))).flatMap((outcome) => outcome?.eventIds ?? []);
              await sleep(op.holdMs);
              await client.query(op.commit ? 'COMMIT' : 'ROLLBACK');
              (op.commit ? acked : aborted).push(...ids);
            } catch (error) {
              await client.query('ROLLBACK').catch(() => undefined);
              throw error;
            } finally {
              client.release();
            }
          }),
        );
        const head = await harness.stores[0]?.headPosition();
        assert.ok(head !== undefined);
        await within(harness.consumer.waitFor(head), 10_000, 'the consumer catching up');
        const all = await assertDeliveredExactly(harness, acked);
        const present = new Set(all.map((e) => e.id));
        assert.ok(!aborted.some((id) => present.has(id)), 'no aborted event is in the log');
      }),
      // The log grows across runs, so shrinking would replay on an already broken log: report the first failure as is.
      { numRuns: 25, endOnFailure: true },
    );
  });
});
