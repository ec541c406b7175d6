import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { createLogger, isAppError } from '../../src/kernel/index.js';
import { openBus } from '../../src/messaging/bus.js';
import type { EventEnvelope } from '../../src/messaging/event-message.js';
import { compileWebhook, mergeDefinition, type WebhookDocument } from '../../src/messaging/webhooks/definition.js';
import { backoffDelay, createDeliverer } from '../../src/messaging/webhooks/deliver.js';
import { inferFields } from '../../src/messaging/webhooks/event-filter.js';
import { openWebhookStore } from '../../src/messaging/webhooks/index.js';
import { createWatermark } from '../../src/messaging/webhooks/replay.js';
import { compileTransform } from '../../src/messaging/webhooks/transform.js';
import { startReceiver } from './webhooks-harness.js';

const envelope = (overrides: Partial<EventEnvelope> = {}): EventEnvelope => ({
  position: '7',
  id: '01900000-0000-7000-8000-000000000001',
  tenant: 'acme',
  streamId: 'sales.order:o1',
  module: 'sales',
  entity: 'order',
  recordId: 'o1',
  version: 1,
  type: 'OrderCreated',
  schemaVersion: 1,
  data: { amount: 150, status: 'open', tags: [1, 2] },
  metadata: { tenant: 'acme', correlationId: 'c', causationId: null, actor: 'ann' },
  recordedAt: '2024-05-01T10:00:00.000Z',
  ...overrides,
});

const document = (overrides: Partial<WebhookDocument> = {}): WebhookDocument =>
  ({
    ...mergeDefinition('h1', undefined, { url: 'https://example.com/hook', events: ['sales.order.*'], secret: 'x'.repeat(16) }, new Date()),
    ...overrides,
  }) as WebhookDocument;

describe('webhook definitions', () => {
  it('infers the kinds of event data fields from the values a filter compares them with', () => {
    assert.deepEqual(
      inferFields({ amount: { $gte: 10 }, $or: [{ status: 'open' }, { paid: true }], tags: { $contains: 2 }, note: { $exists: true } }),
      {
        amount: { type: 'number' },
        status: { type: 'string' },
        paid: { type: 'boolean' },
        tags: { type: 'array', items: { type: 'number' } },
        note: { type: 'string' },
      },
    );
  });

  it('selects record events by pattern and filter, never module definitions or platform objects', () => {
    const webhook = compileWebhook(
      'acme',
      document({ events: ['*.*.*'], filter: { amount: { $gt: 100 }, tags: { $contains: 2 }, id: 'o1' } }),
    );
    assert.equal(webhook.wants(envelope()), true);
    assert.equal(webhook.wants(envelope({ data: { amount: 50, tags: [2] } })), false);
    assert.equal(webhook.wants(envelope({ recordId: 'o2' })), false);
    assert.equal(webhook.wants(envelope({ module: '_platform', entity: 'user' })), false);
    assert.equal(webhook.wants(envelope({ entity: '_module' })), false);
    const typed = compileWebhook('acme', document({ events: ['sales.*.OrderPaid'] }));
    assert.equal(typed.wants(envelope({ type: 'OrderPaid', entity: 'invoice' })), true);
    assert.equal(typed.wants(envelope()), false);
  });

  it('lists every problem of a definition at once', () => {
    assert.throws(
      () => mergeDefinition('h1', undefined, { url: 'nope', events: ['x'], filter: { a: { $bad: 1 } }, transform: '(' }, new Date()),
      (error: unknown) =>
        isAppError(error, 'validation_failed') &&
        JSON.stringify(error.details.errors?.map((e) => e.path)) ===
          JSON.stringify(['/body/secret', '/body/url', '/body/events/0', '/body/filter/a/$bad', '/body/transform']),
    );
  });

  it('stops a transform that recurses without end', async () => {
    const compiled = compileTransform('( $f := function($x) { $f($x + 1) }; $f(0) )', '/transform');
    assert.ok('transform' in compiled);
    await assert.rejects(compiled.transform({}), /transform failed/);
  });
});

describe('webhook backoff', () => {
  const settings = { allowPrivateNetworks: false, timeoutMs: 1000, maxAttempts: 8, backoffBaseMs: 1000, backoffMaxMs: 30_000 };

  it('draws each delay uniformly below min(max, base · 2^(attempt − 1)) (full jitter)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.double({ min: 0, max: 0.999_999, noNaN: true }), (attempt, random) => {
        const delay = backoffDelay(attempt, settings, () => random);
        return delay >= 0 && delay < Math.min(30_000, 1000 * 2 ** (attempt - 1));
      }),
    );
    assert.equal(
      backoffDelay(3, settings, () => 0.5),
      2000,
    );
    assert.equal(
      backoffDelay(20, settings, () => 0.5),
      15_000,
    );
  });
});

describe('webhook outbound guard', () => {
  const closing: (() => Promise<void>)[] = [];
  after(async () => {
    for (const close of closing) await close();
  });

  it('refuses a private address unless allowed: the attempt fails with the reason and nothing is sent', async () => {
    const receiver = await startReceiver();
    const bus = await openBus({ kind: 'inprocess', path: ':memory:' });
    const store = await openWebhookStore({ kind: 'sqlite', path: ':memory:' });
    closing.push(
      receiver.close,
      () => bus.close(),
      () => store.close(),
    );
    await store.putSecret('acme', 'h1', 'a-secret-0123456789abc');
    const settings = { allowPrivateNetworks: false, timeoutMs: 1000, maxAttempts: 2, backoffBaseMs: 10, backoffMaxMs: 10 };
    const deliverer = createDeliverer({ bus, store, settings, logger: createLogger('silent') });
    const webhook = compileWebhook('acme', document({ url: receiver.url() }));
    assert.equal((await deliverer.attempt(webhook, envelope(), 1, false)).kind, 'retry');
    assert.equal((await deliverer.attempt(webhook, envelope(), 2, false)).kind, 'dead');
    assert.equal(receiver.received.length, 0);
    const [dead, failed] = await store.deliveries('acme', 'h1', { limit: 10 });
    assert.deepEqual([dead?.status, failed?.status], ['dead', 'failed']);
    assert.match(String(dead?.error), /private address/);
    const allowed = createDeliverer({ bus, store, settings: { ...settings, allowPrivateNetworks: true }, logger: createLogger('silent') });
    assert.equal((await allowed.attempt(webhook, envelope(), 1, false)).kind, 'succeeded');
    assert.equal(receiver.received.length, 1);
  });
});

describe('webhook replay progress', () => {
  it('stays below every delivery under way, never goes back, and reaches the last event read once all are done', () => {
    // Each step reads the next event (even pick; odd events match the webhook) or ends a pending delivery (odd pick).
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 30 }), fc.array(fc.nat(), { maxLength: 80 }), (events, picks) => {
        const watermark = createWatermark(0n);
        const pending: bigint[] = [];
        let read = 0n;
        let previous = 0n;
        for (const pick of picks) {
          if (pick % 2 === 0 && read < events) {
            read++;
            if (read % 2n === 1n) {
              watermark.pending(read);
              pending.push(read);
            }
            watermark.scanned(read);
          } else if (pending.length > 0) watermark.done(pending.splice(pick % pending.length, 1)[0] as bigint);
          const value = watermark.value();
          assert.ok(value >= previous && value <= read);
          assert.ok(pending.every((position) => position > value));
          previous = value;
        }
        for (const position of pending) watermark.done(position);
        assert.equal(watermark.value(), read);
      }),
    );
  });
});
