import assert from 'node:assert/strict';
import { it } from 'node:test';
import fc from 'fast-check';
import type { EventStore, ExpectedVersion, RecordedEvent } from '../../src/eventstore/index.js';
import { isAppError } from '../../src/kernel/index.js';
import { type ContractContext, event, newStream } from './contract.js';
import { createModel, type ModelAppend } from './model.js';

/** Invariants of any log: gapless positions in order, and per stream contiguous versions in position order. */
export function assertLogInvariants(events: RecordedEvent[], from: bigint): void {
  events.forEach((e, i) => {
    assert.equal(e.position, from + BigInt(i) + 1n, 'positions are gapless and ordered');
  });
  const versions = new Map<string, number>();
  for (const e of events) {
    const key = `${e.tenant}/${e.streamId}`;
    const previous = versions.get(key);
    if (previous !== undefined) assert.equal(e.streamVersion, previous + 1, `stream ${key} versions are contiguous`);
    versions.set(key, e.streamVersion);
  }
}

async function readEverything(store: EventStore, after: bigint): Promise<RecordedEvent[]> {
  const all: RecordedEvent[] = [];
  for (;;) {
    const page = await store.readAll({ after: all.at(-1)?.position ?? after, limit: 1000 });
    all.push(...page);
    if (page.length < 1000) return all;
  }
}

const appendArbitrary = fc.record({
  tenant: fc.constantFrom('t-one', 't-two'),
  stream: fc.constantFrom('a', 'b', 'c'),
  types: fc.array(fc.constantFrom('Created', 'Updated', 'Deleted'), { minLength: 1, maxLength: 4 }),
  expectedVersion: fc.oneof(fc.constantFrom<ExpectedVersion>('any', 'no_stream', 'exists'), fc.integer({ min: 0, max: 6 })),
});

export function concurrencyCases({ store, fresh }: ContractContext): void {
  it('groups 16 concurrent writers into gapless, ordered positions', async () => {
    const start = await store().headPosition();
    const streams = Array.from({ length: 16 }, () => newStream('writer'));
    await Promise.all(
      streams.map(async (streamId) => {
        for (let i = 0; i < 20; i++) await store().append({ tenant: 'acme', streamId, events: [event('Tick', { i })], expectedVersion: i });
      }),
    );
    const events = await readEverything(store(), start);
    assert.equal(events.length, 16 * 20);
    assertLogInvariants(events, start);
  });

  it('lets exactly one of many concurrent writers win an expected version', async () => {
    const streamId = newStream();
    await store().append({ tenant: 'acme', streamId, events: [event('Created')] });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) =>
        store().append({ tenant: 'acme', streamId, events: [event('Update', { i })], expectedVersion: 1 }),
      ),
    );
    assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1);
    for (const o of outcomes) if (o.status === 'rejected') assert.ok(isAppError(o.reason, 'version_conflict'));
    assert.equal((await store().readStream('acme', streamId)).length, 2);
  });

  it('orders concurrent appends to one stream without losing any', async () => {
    const streamId = newStream();
    await Promise.all(
      Array.from({ length: 30 }, (_, i) => store().append({ tenant: 'acme', streamId, events: [event('E', { i }), event('F', { i })] })),
    );
    const events = await store().readStream('acme', streamId);
    assert.deepEqual(
      events.map((e) => e.streamVersion),
      Array.from({ length: 60 }, (_, i) => i + 1),
    );
    for (let i = 0; i < 60; i += 2) {
      assert.equal(events[i + 1]?.position, (events[i]?.position ?? 0n) + 1n, 'one append stays contiguous');
    }
  });

  it('agrees with the reference model on random sequences of appends', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(appendArbitrary, { minLength: 1, maxLength: 25 }), async (appends) => {
        const { store: db } = await fresh();
        try {
          const model = createModel();
          for (const a of appends) {
            const request: ModelAppend = { tenant: a.tenant, streamId: a.stream, types: a.types, expectedVersion: a.expectedVersion };
            const expected = model.append(request);
            const actual = await db
              .append({ tenant: a.tenant, streamId: a.stream, events: a.types.map((t) => event(t)), expectedVersion: a.expectedVersion })
              .then((r) => ({ ok: true as const, streamVersion: r.streamVersion, lastPosition: Number(r.lastPosition) }))
              .catch((e: unknown) => ({ ok: false as const, code: isAppError(e) ? e.code : String(e) }));
            assert.deepEqual(actual, expected);
          }
          const log = await readEverything(db, 0n);
          assert.deepEqual(
            log.map((e) => ({ tenant: e.tenant, streamId: e.streamId, type: e.type, streamVersion: e.streamVersion })),
            model.log,
          );
        } finally {
          await db.close();
        }
      }),
      { numRuns: 15 },
    );
  });

  it('keeps the log invariants under random concurrent appends', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(appendArbitrary, { minLength: 5, maxLength: 40 }), async (appends) => {
        const start = await store().headPosition();
        const suffix = newStream('p');
        const outcomes = await Promise.allSettled(
          appends.map((a) =>
            store().append({
              tenant: a.tenant,
              streamId: `${a.stream}-${suffix}`,
              events: a.types.map((t) => event(t)),
              expectedVersion: a.expectedVersion,
            }),
          ),
        );
        const written = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? (appends[i]?.types ?? []) : []));
        for (const o of outcomes) if (o.status === 'rejected') assert.ok(isAppError(o.reason, 'version_conflict'));
        const events = await readEverything(store(), start);
        assert.equal(events.length, written.length);
        assertLogInvariants(events, start);
        for (const o of outcomes) {
          if (o.status !== 'fulfilled') continue;
          const mine = events.filter((e) => e.position >= o.value.firstPosition && e.position <= o.value.lastPosition);
          assert.deepEqual(
            mine.map((e) => e.id),
            o.value.eventIds,
          );
        }
      }),
      { numRuns: 15 },
    );
  });
}
