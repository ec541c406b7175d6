import assert from 'node:assert/strict';
import { it } from 'node:test';
import { expectStatus } from '../api/client.js';
import { asUser, createOrder, customers, type LiveContext, openLive, orders, shopTenant, userToken } from './fixtures.js';
import type { SseStream } from './sse.js';

async function expectProblem(stream: SseStream, status: number, code: string): Promise<{ errors?: { path: string }[] }> {
  assert.equal(stream.status, status);
  assert.match(stream.response.headers.get('content-type') ?? '', /^application\/problem\+json/);
  const problem = (await stream.response.json()) as { code?: string; errors?: { path: string }[] };
  assert.equal(problem.code, code);
  return problem;
}

export function accessCases(context: LiveContext): void {
  it('answers 401 problem+json without a token, before any stream', async () => {
    const tenant = await shopTenant(context, 'noauth');
    await expectProblem(await openLive(context, tenant, '', {}), 401, 'unauthorized');
    await expectProblem(await openLive(context, tenant, '', { token: 'not.a.token' }), 401, 'unauthorized');
  });

  it('refuses malformed patterns and positions with 400 validation_failed', async () => {
    const tenant = await shopTenant(context, 'bad');
    const token = context.centralToken();
    for (const events of ['shop.order', 'shop.order.*.x', 'Shop.order.*', 'shop.order.created', 'shop..*', '', 'shop.order.*,']) {
      const problem = await expectProblem(
        await openLive(context, tenant, `?events=${encodeURIComponent(events)}`, { token }),
        400,
        'validation_failed',
      );
      assert.ok(
        problem.errors?.some((error) => error.path === '/querystring/events'),
        events,
      );
    }
    await expectProblem(await openLive(context, tenant, '?after=-1', { token }), 400, 'validation_failed');
    await expectProblem(await openLive(context, tenant, '', { token, lastEventId: 'abc' }), 400, 'validation_failed');
  });

  it('shows a role only what it may read: no event of an unreadable entity, no hidden field, no identity event', async () => {
    const tenant = await shopTenant(context, 'roles');
    const token = await userToken(context, tenant, 'carla', ['counter'], {
      name: 'counter',
      permissions: [
        { resource: 'shop.customer', actions: ['read'] },
        { resource: 'shop.order', actions: ['read'], hiddenFields: ['amount'] },
      ],
    });
    const blind = await userToken(context, tenant, 'bert', ['blind'], {
      name: 'blind',
      permissions: [{ resource: 'shop.customer', actions: ['read'] }],
    });
    const counter = await openLive(context, tenant, '', { token });
    const seesCustomers = await openLive(context, tenant, '', { token: blind });
    try {
      const central = context.central();
      const order = await createOrder(central, tenant, { id: 'o-1', customer: 'ACME', amount: 99 });
      expectStatus(await central.post(`/t/${tenant}/users`, { username: 'dora', password: 'another-long-passphrase', roles: [] }), 201);
      expectStatus(await central.post(customers(tenant), { id: 'c-1', name: 'ACME' }), 201);
      await counter.until((s) => s.items.length >= 2, 'the order and the customer');
      await seesCustomers.until((s) => s.items.length >= 1, 'the customer');
      assert.deepEqual(
        counter.items.map((item) => item.type),
        ['OrderCreated', 'CustomerCreated'],
      );
      assert.deepEqual(counter.items[0]?.data, { customer: 'ACME', status: 'open' });
      assert.deepEqual(
        seesCustomers.items.map((item) => item.type),
        ['CustomerCreated'],
      );
      // The same object as the role's own /events.
      const log = expectStatus(await asUser(context, token).get(`/t/${tenant}/events?after=${BigInt(order.position) - 1n}&limit=1`), 200);
      assert.deepEqual(JSON.parse(counter.events[0]?.data ?? ''), log.items[0]);
    } finally {
      counter.close();
      seesCustomers.close();
    }
  });

  it('shows a where-limited role only its rows, $user resolved per subscriber', async () => {
    const tenant = await shopTenant(context, 'rows');
    const clerk = { name: 'clerk', permissions: [{ resource: 'shop.order', actions: ['read'], where: { owner: '$user' } }] };
    const alice = await userToken(context, tenant, 'alice', ['clerk'], clerk);
    const bob = await userToken(context, tenant, 'bob', ['clerk']);
    const streams = {
      alice: await openLive(context, tenant, '', { token: alice }),
      bob: await openLive(context, tenant, '', { token: bob }),
    };
    try {
      const central = context.central();
      await createOrder(central, tenant, { id: 'a-1', customer: 'A', owner: 'alice' });
      await createOrder(central, tenant, { id: 'b-1', customer: 'B', owner: 'bob' });
      await createOrder(central, tenant, { id: 'n-1', customer: 'N' });
      expectStatus(await central.patch(`${orders(tenant)}/a-1`, { owner: 'bob' }), 200);
      expectStatus(await central.delete(`${orders(tenant)}/b-1`), 200);
      await streams.alice.until((s) => s.items.length >= 1, "alice's order");
      await streams.bob.until((s) => s.items.length >= 3, "bob's orders");
      // The record as of each event must be one of the caller's rows (a deletion: as it was just before).
      assert.deepEqual(
        streams.alice.items.map((item) => `${item.streamId} ${item.type}`),
        ['shop.order:a-1 OrderCreated'],
      );
      assert.deepEqual(
        streams.bob.items.map((item) => `${item.streamId} ${item.type}`),
        ['shop.order:b-1 OrderCreated', 'shop.order:a-1 OrderUpdated', 'shop.order:b-1 OrderDeleted'],
      );
    } finally {
      streams.alice.close();
      streams.bob.close();
    }
  });

  it('applies a change of the role to open streams', async () => {
    const tenant = await shopTenant(context, 'rolechange');
    const viewer = { name: 'viewer', permissions: [{ resource: 'shop.order', actions: ['read'] }] };
    const token = await userToken(context, tenant, 'vera', ['viewer'], viewer);
    const stream = await openLive(context, tenant, '', { token });
    try {
      const central = context.central();
      await createOrder(central, tenant, { id: 'before', customer: 'A', amount: 1 });
      await stream.until((s) => s.items.length >= 1, 'the first order');
      assert.equal(stream.items[0]?.data.amount, 1);
      const narrowed = { permissions: [{ resource: 'shop.order', actions: ['read'], hiddenFields: ['amount'] }] };
      expectStatus(await central.put(`/t/${tenant}/roles/viewer`, narrowed), 200);
      // Roles are re-read within about a second: write until an order arrives without its amount.
      for (let i = 0; !stream.items.some((item) => item.data.amount === undefined); i += 1) {
        assert.ok(i < 50, 'the narrowed role never applied');
        await createOrder(central, tenant, { id: `after-${i}`, customer: 'B', amount: 2 });
        await stream.until((s) => s.items.length >= i + 2, 'the next order');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const hidden = stream.items.findIndex((item) => item.data.amount === undefined);
      assert.ok(
        stream.items.slice(hidden).every((item) => item.data.amount === undefined),
        'never shown again',
      );
    } finally {
      stream.close();
    }
  });

  it("never sends another tenant's events", async () => {
    const mine = await shopTenant(context, 'mine');
    const other = await shopTenant(context, 'other');
    const stream = await openLive(context, mine, '', { token: context.centralToken() });
    try {
      await createOrder(context.central(), other, { id: 'theirs', customer: 'X' });
      await createOrder(context.central(), mine, { id: 'ours', customer: 'Y' });
      await stream.until((s) => s.items.length >= 1, 'our write');
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.deepEqual(
        stream.items.map((item) => item.streamId),
        ['shop.order:ours'],
      );
      assert.ok(stream.events.every((message) => JSON.parse(message.data ?? '{}').metadata?.tenant === mine));
    } finally {
      stream.close();
    }
  });

  it('ends the stream with event: closed when its tenant is suspended', async () => {
    const tenant = await shopTenant(context, 'suspend');
    const token = await userToken(context, tenant, 'owner', ['admin']);
    const stream = await openLive(context, tenant, '', { token });
    try {
      await stream.until((s) => s.messages.length > 0, 'the start');
      expectStatus(await context.central().patch(`/t/central/tenants/${tenant}`, { status: 'suspended' }), 200);
      await stream.until((s) => s.control('closed') !== undefined, 'event: closed');
      assert.equal(stream.control('closed')?.reason, 'tenant_suspended');
      assert.match(String(stream.control('closed')?.lastEventId), /^[0-9]+$/);
      await stream.finished();
      const again = await openLive(context, tenant, '', { token });
      await expectProblem(again, 403, 'tenant_suspended');
    } finally {
      stream.close();
    }
  });
}
