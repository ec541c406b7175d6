import assert from 'node:assert/strict';
import { it } from 'node:test';
import { APPEND_LIMITS, type AppendRequest } from '../../src/eventstore/index.js';
import { type ContractContext, event, newStream, rejects } from './contract.js';

type Case = [name: string, request: () => unknown, code: string];

const circular: Record<string, unknown> = {};
circular.self = circular;

const cases: Case[] = [
  ['a malformed tenant id', () => ({ tenant: 'Acme!', streamId: 's-1', events: [event('A')] }), 'validation_failed'],
  ['a tenant id of one character', () => ({ tenant: 'a', streamId: 's-1', events: [event('A')] }), 'validation_failed'],
  ['a malformed stream id', () => ({ tenant: 'acme', streamId: '../etc', events: [event('A')] }), 'validation_failed'],
  ['an empty stream id', () => ({ tenant: 'acme', streamId: '', events: [event('A')] }), 'validation_failed'],
  ['an empty append', () => ({ tenant: 'acme', streamId: newStream(), events: [] }), 'validation_failed'],
  ['events that are not a list', () => ({ tenant: 'acme', streamId: newStream(), events: 'A' }), 'validation_failed'],
  ['a malformed event type', () => ({ tenant: 'acme', streamId: newStream(), events: [event('has space')] }), 'validation_failed'],
  ['missing data', () => ({ tenant: 'acme', streamId: newStream(), events: [{ type: 'A' }] }), 'validation_failed'],
  [
    'a function in data',
    () => ({ tenant: 'acme', streamId: newStream(), events: [{ type: 'A', data: { f: () => 1 } }] }),
    'validation_failed',
  ],
  ['a bigint in data', () => ({ tenant: 'acme', streamId: newStream(), events: [{ type: 'A', data: { n: 1n } }] }), 'validation_failed'],
  ['a circular structure', () => ({ tenant: 'acme', streamId: newStream(), events: [{ type: 'A', data: circular }] }), 'validation_failed'],
  [
    'a non-finite number',
    () => ({ tenant: 'acme', streamId: newStream(), events: [{ type: 'A', data: { n: Number.NaN } }] }),
    'validation_failed',
  ],
  [
    'a Date instance',
    () => ({ tenant: 'acme', streamId: newStream(), events: [{ type: 'A', data: { at: new Date() } }] }),
    'validation_failed',
  ],
  [
    'an undefined field',
    () => ({ tenant: 'acme', streamId: newStream(), events: [{ type: 'A', data: { x: undefined } }] }),
    'validation_failed',
  ],
  [
    'a NUL character',
    () => ({ tenant: 'acme', streamId: newStream(), events: [{ type: 'A', data: { s: 'a\u0000b' } }] }),
    'validation_failed',
  ],
  [
    'a lone surrogate',
    () => ({ tenant: 'acme', streamId: newStream(), events: [{ type: 'A', data: { s: '\ud800' } }] }),
    'validation_failed',
  ],
  [
    'an invalid schema version',
    () => ({ tenant: 'acme', streamId: newStream(), events: [{ type: 'A', data: {}, schemaVersion: 0 }] }),
    'validation_failed',
  ],
  [
    'a malformed event id',
    () => ({ tenant: 'acme', streamId: newStream(), events: [{ type: 'A', data: {}, id: 'nope' }] }),
    'validation_failed',
  ],
  [
    'the same event id twice',
    () => {
      const id = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c';
      return {
        tenant: 'acme',
        streamId: newStream(),
        events: [
          { type: 'A', data: {}, id },
          { type: 'B', data: {}, id },
        ],
      };
    },
    'validation_failed',
  ],
  [
    'a negative expected version',
    () => ({ tenant: 'acme', streamId: newStream(), events: [event('A')], expectedVersion: -1 }),
    'validation_failed',
  ],
  [
    'an unknown expected version',
    () => ({ tenant: 'acme', streamId: newStream(), events: [event('A')], expectedVersion: 'latest' }),
    'validation_failed',
  ],
  [
    'an idempotency key with spaces',
    () => ({ tenant: 'acme', streamId: newStream(), events: [event('A')], idempotencyKey: 'a b' }),
    'validation_failed',
  ],
  [
    'an over-long idempotency key',
    () => ({ tenant: 'acme', streamId: newStream(), events: [event('A')], idempotencyKey: 'k'.repeat(201) }),
    'validation_failed',
  ],
  [
    'a malformed traceparent',
    () => ({ tenant: 'acme', streamId: newStream(), events: [event('A')], metadata: { traceparent: 'x' } }),
    'validation_failed',
  ],
  [
    'an event over the size limit',
    () => ({ tenant: 'acme', streamId: newStream(), events: [event('Big', { blob: 'x'.repeat(APPEND_LIMITS.maxEventBytes) })] }),
    'payload_too_large',
  ],
  [
    'too many events in one append',
    () => ({
      tenant: 'acme',
      streamId: newStream(),
      events: Array.from({ length: APPEND_LIMITS.maxEventsPerAppend + 1 }, () => event('A')),
    }),
    'payload_too_large',
  ],
  [
    'an append over the total size limit',
    () => ({
      tenant: 'acme',
      streamId: newStream(),
      events: Array.from({ length: 9 }, () => event('Big', { blob: 'x'.repeat(APPEND_LIMITS.maxEventBytes - 100) })),
    }),
    'payload_too_large',
  ],
];

export function badInputCases({ store }: ContractContext): void {
  for (const [name, request, code] of cases) {
    it(`rejects ${name} with ${code} and writes nothing`, async () => {
      const head = await store().headPosition();
      await rejects(store().append(request() as AppendRequest), code);
      assert.equal(await store().headPosition(), head);
    });
  }

  it('rejects malformed read arguments', async () => {
    await rejects(store().readStream('acme', 's', { limit: 0 }), 'validation_failed');
    await rejects(store().readStream('acme', 's', { fromVersion: 0 }), 'validation_failed');
    await rejects(store().readAll({ limit: 100_000 }), 'validation_failed');
    await rejects(store().readAll({ after: -1n }), 'validation_failed');
    await rejects(store().readTenant('NOT VALID'), 'validation_failed');
    await rejects(store().readStream('acme', 'bad stream'), 'validation_failed');
  });
}
