import assert from 'node:assert/strict';
import { it } from 'node:test';
import { DECIMAL, expectProblem, expectStatus, isDataEvent, newTenant, tenantLog } from './client.js';
import { type ApiContext, orders, SALES, salesTenant } from './fixtures.js';

type LogItem = { position: string; type: string; data: unknown };
const positions = (items: LogItem[]) => items.map((item) => item.position);

export function tenancyCases({ api }: ApiContext): void {
  it('pages through the tenant log in position order with after and limit', async () => {
    const tenant = await salesTenant(api(), 'log');
    const writes = [
      expectStatus(await api().post(orders(tenant), { id: 'l-1', customer: 'Ann' }), 201),
      expectStatus(await api().post(orders(tenant), { id: 'l-2', customer: 'Bob' }), 201),
      expectStatus(await api().patch(`${orders(tenant)}/l-1`, { amount: 3 }), 200),
      expectStatus(await api().post(`${orders(tenant)}/l-2/pay`), 200),
      expectStatus(await api().delete(`${orders(tenant)}/l-1`), 200),
    ];
    const whole = expectStatus(await api().get(`/t/${tenant}/events?limit=1000`), 200);
    // The tenant's log also holds its admin user's creation: the data events are the module's and the records'.
    const data = { items: whole.items.filter(isDataEvent) };
    assert.equal(data.items.length, 1 + writes.length, 'the module definition and five record events');
    for (const item of data.items) assert.match(item.position, DECIMAL);
    const all = positions(data.items).map(BigInt);
    assert.ok(
      all.every((position, i) => i === 0 || position > (all[i - 1] ?? 0n)),
      'ascending positions',
    );
    assert.deepEqual(
      positions(data.items).slice(1),
      writes.map((write) => write.position),
    );
    assert.deepEqual(
      data.items.slice(1).map((item: LogItem) => item.type),
      ['OrderCreated', 'OrderCreated', 'OrderUpdated', 'OrderPaid', 'OrderDeleted'],
    );
    assert.deepEqual(data.items[3].data, { amount: 3 });

    const paged: LogItem[] = [];
    for (let after = '0', pages = 0; ; pages++) {
      assert.ok(pages < 10, 'paging does not end');
      const page = expectStatus(await api().get(`/t/${tenant}/events?after=${after}&limit=2`), 200);
      assert.ok(page.items.length <= 2);
      if (page.items.length === 0) break;
      paged.push(...page.items);
      after = page.items.at(-1).position;
    }
    assert.deepEqual(paged, whole.items);
    const rest = expectStatus(await api().get(`/t/${tenant}/events?after=${writes[1]?.position}`), 200);
    assert.deepEqual(rest.items, data.items.slice(3));
  });

  it("never shows a tenant another tenant's modules, records or events", async () => {
    const first = await salesTenant(api(), 'iso');
    const key = { 'idempotency-key': `iso-key-${first}` };
    const original = expectStatus(await api().post(orders(first), { id: 'same-id', customer: 'Ann', amount: 7 }), 201);
    const keyed = expectStatus(await api().post(orders(first), { customer: 'Keyed' }, key), 201);
    const firstLog = await tenantLog(api(), first);

    const second = await newTenant(api(), 'iso');
    assert.deepEqual(expectStatus(await api().get(`/t/${second}/modules`), 200).items, []);
    expectProblem(await api().get(`/t/${second}/modules/sales`), 404, 'not_found');
    expectProblem(await api().get(orders(second)), 404, 'not_found');
    expectProblem(await api().get(`${orders(second)}/same-id`), 404, 'not_found');
    assert.deepEqual(expectStatus(await api().get(`/t/${second}/events`), 200).items.filter(isDataEvent), []);

    expectStatus(await api().put(`/t/${second}/modules/sales`, SALES), 201);
    assert.deepEqual(expectStatus(await api().get(orders(second)), 200).items, []);
    const counted = expectStatus(await api().get(`${orders(second)}/aggregate?measures=count`), 200);
    assert.equal(
      counted.groups.reduce((sum: number, group: { count: number }) => sum + group.count, 0),
      0,
    );
    expectProblem(await api().get(`${orders(second)}/same-id`), 404, 'not_found');
    expectProblem(await api().get(`${orders(second)}/same-id/history`), 404, 'not_found');
    expectProblem(await api().patch(`${orders(second)}/same-id`, { amount: 1 }), 404, 'not_found');

    const own = expectStatus(await api().post(orders(second), { id: 'same-id', customer: 'Zoe' }), 201);
    assert.equal(own.version, 1);
    const ownKeyed = expectStatus(await api().post(orders(second), { customer: 'Other' }, key), 201);
    assert.notEqual(ownKeyed.id, keyed.id, 'idempotency keys are per tenant');
    assert.equal(ownKeyed.data.customer, 'Other');

    const secondLog = await tenantLog(api(), second);
    assert.equal(secondLog.length, 3);
    const firstPositions = new Set(positions(firstLog));
    assert.ok(
      positions(secondLog).every((position) => !firstPositions.has(position)),
      'no event of the first tenant',
    );
    assert.deepEqual(await tenantLog(api(), first), firstLog, "the second tenant's writes are not in the first tenant's log");
    assert.deepEqual(expectStatus(await api().get(`${orders(first)}/same-id`), 200).data, original.data);
    assert.equal(expectStatus(await api().get(`${orders(second)}/same-id/history`), 200).length, 1);
  });
}
