import assert from 'node:assert/strict';
import { it } from 'node:test';
import { expectStatus } from '../api/client.js';
import { createOrder, customers, type LiveContext, openLive, orders, positions, shopTenant } from './fixtures.js';
import type { SseStream } from './sse.js';

const hasItems = (count: number) => (stream: SseStream) => stream.items.length >= count;

export function deliveryCases(context: LiveContext): void {
  const token = () => context.centralToken();

  it('streams a write committed after it opened, as GET /events shows it, with the SSE headers', async () => {
    const tenant = await shopTenant(context, 'deliver');
    const stream = await openLive(context, tenant, '', { token: token() });
    try {
      assert.equal(stream.status, 200);
      assert.equal(stream.response.headers.get('content-type'), 'text/event-stream');
      assert.equal(stream.response.headers.get('cache-control'), 'no-store');
      assert.equal(stream.response.headers.get('x-accel-buffering'), 'no');
      await stream.until((s) => s.messages.length > 0, 'the first block');
      assert.match(stream.messages[0]?.retry ?? '', /^[0-9]+$/, 'a retry hint first');
      const written = await createOrder(context.central(), tenant, { id: 'o-1', customer: 'ACME', amount: 10 });
      await stream.until(hasItems(1), 'the write');
      const [message] = stream.events;
      assert.equal(message?.id, written.position);
      assert.equal(message?.event, 'OrderCreated');
      const log = expectStatus(await context.central().get(`/t/${tenant}/events?after=${BigInt(written.position) - 1n}&limit=1`), 200);
      assert.deepEqual(JSON.parse(message?.data ?? ''), log.items[0]);
    } finally {
      stream.close();
    }
  });

  it('starts at the head without Last-Event-ID or after: earlier events are not sent', async () => {
    const tenant = await shopTenant(context, 'head');
    await createOrder(context.central(), tenant, { id: 'before', customer: 'Old' });
    const stream = await openLive(context, tenant, '', { token: token() });
    try {
      await createOrder(context.central(), tenant, { id: 'after', customer: 'New' });
      await stream.until(hasItems(1), 'the new write');
      assert.deepEqual(
        stream.items.map((item) => item.streamId),
        ['shop.order:after'],
      );
    } finally {
      stream.close();
    }
  });

  it('selects events by patterns; non-record events come only without a pattern', async () => {
    const tenant = await shopTenant(context, 'patterns');
    const open = (events?: string) => openLive(context, tenant, events ? `?events=${encodeURIComponent(events)}` : '', { token: token() });
    const streams = {
      orders: await open('shop.order.*'),
      paid: await open('shop.*.OrderPaid'),
      records: await open('*.*.*'),
      all: await open(),
    };
    try {
      const central = context.central();
      await createOrder(central, tenant, { id: 'o-1', customer: 'ACME' });
      expectStatus(await central.post(customers(tenant), { id: 'c-1', name: 'ACME' }), 201);
      expectStatus(await central.post(`${orders(tenant)}/o-1/pay`), 200);
      expectStatus(await central.post(`/t/${tenant}/users`, { username: 'zoe', password: 'a-long-enough-passphrase', roles: [] }), 201);
      await streams.all.until((s) => s.items.some((item) => !item.streamId.includes('.')), 'the user event');
      await streams.records.until(hasItems(3), 'the record events');
      const types = (stream: SseStream) => stream.items.map((item) => item.type);
      assert.deepEqual(types(streams.orders), ['OrderCreated', 'OrderPaid']);
      assert.deepEqual(types(streams.paid), ['OrderPaid']);
      assert.deepEqual(types(streams.records), ['OrderCreated', 'CustomerCreated', 'OrderPaid']);
      assert.deepEqual(types(streams.all).slice(0, 3), ['OrderCreated', 'CustomerCreated', 'OrderPaid']);
      assert.ok(streams.all.items.length > 3, 'identity events without a pattern');
    } finally {
      for (const stream of Object.values(streams)) stream.close();
    }
  });

  it('resumes after Last-Event-ID with no loss and no duplicate while writes go on', async () => {
    const tenant = await shopTenant(context, 'resume');
    const first = await openLive(context, tenant, '?events=shop.order.*', { token: token() });
    const writers = [0, 1, 2, 3].map(async (writer) => {
      for (let i = 0; i < 50; i += 1) await createOrder(context.central(), tenant, { id: `o-${writer}-${i}`, customer: 'C' });
    });
    const written = Promise.all(writers);
    let second: SseStream | undefined;
    try {
      await first.until(hasItems(60), 'the first 60 events');
      first.close();
      const seen = first.items;
      const last = first.lastEventId;
      assert.ok(last);
      second = await openLive(context, tenant, '?events=shop.order.*', { token: token(), lastEventId: last });
      await written;
      await second.until((s) => seen.length + s.items.length >= 200, 'the rest of the 200 events');
      const union = [...seen, ...second.items];
      const ids = union.map((item) => item.streamId);
      assert.equal(new Set(ids).size, 200, 'no duplicate');
      assert.equal(union.length, 200, 'nothing more');
      const numbers = positions(union).map(BigInt);
      assert.ok(
        numbers.every((position, i) => i === 0 || position > (numbers[i - 1] ?? 0n)),
        'in position order',
      );
      const log = expectStatus(await context.central().get(`/t/${tenant}/events?after=0&limit=1000`), 200);
      const created = log.items.filter((item: { type: string }) => item.type === 'OrderCreated');
      assert.deepEqual(positions(union), positions(created), 'exactly the events of the log');
    } finally {
      first.close();
      second?.close();
      await written.catch(() => undefined);
    }
  });

  it('replays from ?after=, and Last-Event-ID wins over it', async () => {
    const tenant = await shopTenant(context, 'after');
    const central = context.central();
    const one = await createOrder(central, tenant, { id: 'o-1', customer: 'A' });
    const two = await createOrder(central, tenant, { id: 'o-2', customer: 'B' });
    const fromStart = await openLive(context, tenant, `?after=${BigInt(one.position) - 1n}`, { token: token() });
    const resumed = await openLive(context, tenant, `?after=${BigInt(one.position) - 1n}`, { token: token(), lastEventId: one.position });
    try {
      await fromStart.until(hasItems(2), 'both writes');
      await resumed.until(hasItems(1), 'the second write');
      await createOrder(central, tenant, { id: 'o-3', customer: 'C' });
      await fromStart.until(hasItems(3), 'the live write');
      await resumed.until(hasItems(2), 'the live write');
      assert.deepEqual(
        fromStart.items.map((item) => item.streamId),
        ['shop.order:o-1', 'shop.order:o-2', 'shop.order:o-3'],
      );
      assert.deepEqual(
        resumed.items.map((item) => item.streamId),
        ['shop.order:o-2', 'shop.order:o-3'],
      );
      assert.equal(resumed.items[0]?.position, two.position);
    } finally {
      fromStart.close();
      resumed.close();
    }
  });

  it('sends heartbeats, whose id moves past events the stream was not shown', async () => {
    const tenant = await shopTenant(context, 'ping');
    const stream = await openLive(context, tenant, '?events=shop.customer.*', { token: token() });
    try {
      await stream.until((s) => s.messages.filter((message) => message.comments.includes('ping')).length >= 2, 'two pings');
      const order = await createOrder(context.central(), tenant, { id: 'o-1', customer: 'A' });
      await stream.until(
        (s) => s.messages.some((message) => message.comments.includes('ping') && BigInt(message.id ?? '0') >= BigInt(order.position)),
        'a ping past the order',
      );
      assert.equal(stream.items.length, 0);
    } finally {
      stream.close();
    }
  });
}
