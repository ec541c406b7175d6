import assert from 'node:assert/strict';
import { before, it } from 'node:test';
import { DECIMAL, expectStatus, tenantLog } from './client.js';
import { type ApiContext, orders, salesTenant } from './fixtures.js';

/** A small data set whose query results are known by heart. */
const ORDERS = [
  { id: 'o1', customer: 'Alice', amount: 10, status: 'open', tags: ['a', 'b'], note: 'hello world', placedAt: '2024-01-01T00:00:00Z' },
  { id: 'o2', customer: 'Bob', amount: 250, status: 'paid', tags: ['b'], placedAt: '2024-02-01T00:00:00Z' },
  { id: 'o3', customer: 'Carol', amount: 100, status: 'shipped', tags: [], note: 'World peace' },
  { id: 'o4', customer: 'Bea', amount: 100, status: 'open' },
  { id: 'o5', customer: 'Dave', amount: 0, status: 'paid', note: 'hi' },
  { id: 'o6', customer: 'Eve', status: 'open' },
];

/** Each filter and exactly the ids it matches. */
const FILTERS: [filter: unknown, ids: string[]][] = [
  [{ status: 'open' }, ['o1', 'o4', 'o6']],
  [{ status: { $eq: 'paid' } }, ['o2', 'o5']],
  [{ status: { $ne: 'open' } }, ['o2', 'o3', 'o5']],
  [{ amount: { $gt: 100 } }, ['o2']],
  [{ amount: { $gte: 100 } }, ['o2', 'o3', 'o4']],
  [{ amount: { $lt: 100 } }, ['o1', 'o5']],
  [{ amount: { $lte: 10 } }, ['o1', 'o5']],
  [{ amount: { $gt: 0, $lt: 250 } }, ['o1', 'o3', 'o4']],
  [{ status: { $in: ['open', 'paid'] }, amount: { $gte: 100 } }, ['o2', 'o4']],
  [{ status: { $nin: ['open', 'paid'] } }, ['o3']],
  [{ amount: { $exists: false } }, ['o6']],
  [{ note: { $exists: true } }, ['o1', 'o3', 'o5']],
  [{ tags: { $contains: 'b' } }, ['o1', 'o2']],
  [{ note: { $contains: 'orld' } }, ['o1', 'o3']],
  [{ customer: { $startsWith: 'B' } }, ['o2', 'o4']],
  [{ $or: [{ status: 'shipped' }, { amount: { $lt: 5 } }] }, ['o3', 'o5']],
  [{ $and: [{ status: 'open' }, { amount: { $gte: 50 } }] }, ['o4']],
  [{ $not: { status: 'open' } }, ['o2', 'o3', 'o5']],
  [{ customer: { $not: { $startsWith: 'B' } } }, ['o1', 'o3', 'o5', 'o6']],
  [{ placedAt: { $gte: '2024-01-15T00:00:00Z' } }, ['o2']],
  [{ placedAt: { $lt: '2024-01-15T00:00:00Z' } }, ['o1']],
];

/** Datetime filters compare instants: the value as written, or in another offset, finds the record. */
const TIME_FILTERS: [filter: unknown, ids: string[]][] = [
  [{ placedAt: '2024-01-01T00:00:00Z' }, ['o1']],
  [{ placedAt: { $eq: '2024-01-01T01:00:00+01:00' } }, ['o1']],
  [{ placedAt: { $lte: '2024-01-01T00:00:00Z' } }, ['o1']],
  [{ placedAt: { $lt: '2024-01-01T00:00:00Z' } }, []],
  [{ placedAt: { $gt: '2023-12-31T23:00:00-01:00' } }, ['o2']],
  [{ placedAt: { $in: ['2024-01-01T00:00:00Z', '2024-02-01T00:00:00Z'] } }, ['o1', 'o2']],
];

type Item = { id: string; data: Record<string, unknown> };
const idsOf = (items: Item[]) => items.map((item) => item.id);
const query = (filter: unknown) => `filter=${encodeURIComponent(JSON.stringify(filter))}`;

export function queryCases({ api }: ApiContext): void {
  let tenant: string;
  let lastWrite: bigint;
  before(async () => {
    tenant = await salesTenant(api(), 'query');
    for (const order of ORDERS) lastWrite = BigInt(expectStatus(await api().post(orders(tenant), order), 201).position);
  });

  it('lists every record with its version, position and times, and the position of the answer', async () => {
    const list = expectStatus(await api().get(orders(tenant)), 200);
    assert.deepEqual(idsOf(list.items).sort(), ['o1', 'o2', 'o3', 'o4', 'o5', 'o6']);
    assert.equal(list.nextCursor, null);
    assert.match(list.position, DECIMAL);
    assert.ok(BigInt(list.position) >= lastWrite);
    for (const item of list.items) {
      assert.deepEqual(Object.keys(item).sort(), ['createdAt', 'data', 'id', 'position', 'updatedAt', 'version']);
      assert.equal(item.version, 1);
    }
  });

  /** Runs every filter of a table and compares the whole table, so that a failure shows every wrong row. */
  async function expectMatches(table: [filter: unknown, ids: string[]][]) {
    const actual: [string, string[]][] = [];
    for (const [filter] of table) {
      const list = expectStatus(await api().get(`${orders(tenant)}?${query(filter)}`), 200);
      actual.push([JSON.stringify(filter), idsOf(list.items).sort()]);
    }
    assert.deepEqual(
      actual,
      table.map(([filter, ids]) => [JSON.stringify(filter), ids]),
    );
  }

  it('filters with every operator', async () => {
    await expectMatches(FILTERS);
  });

  it('filters datetimes by instant, whatever the form of the value', async () => {
    await expectMatches(TIME_FILTERS);
  });

  it('sorts by -amount,customer', async () => {
    const list = expectStatus(await api().get(`${orders(tenant)}?sort=-amount,customer&${query({ amount: { $exists: true } })}`), 200);
    assert.deepEqual(idsOf(list.items), ['o2', 'o4', 'o3', 'o1', 'o5']);
  });

  it('pages with limit and cursor through every record exactly once', async () => {
    const whole = expectStatus(await api().get(`${orders(tenant)}?sort=-amount,customer&limit=1000`), 200);
    assert.equal(whole.items.length, ORDERS.length);
    for (const limit of [1, 2, 4]) {
      const seen: string[] = [];
      let pages = 0;
      for (let cursor: string | null = ''; cursor !== null; pages++) {
        const after: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
        const page = expectStatus(await api().get(`${orders(tenant)}?sort=-amount,customer&limit=${limit}${after}`), 200);
        assert.ok(page.items.length <= limit);
        seen.push(...idsOf(page.items));
        cursor = page.nextCursor;
        assert.ok(pages < 10, 'paging does not end');
      }
      assert.deepEqual(seen, idsOf(whole.items), `limit ${limit}`);
      assert.equal(pages, Math.ceil(ORDERS.length / limit), `limit ${limit}`);
    }
  });

  it('returns only the fields asked for', async () => {
    const list = expectStatus(await api().get(`${orders(tenant)}?fields=customer,amount`), 200);
    const byId = new Map<string, Item>(list.items.map((item: Item) => [item.id, item]));
    assert.deepEqual(byId.get('o1')?.data, { customer: 'Alice', amount: 10 });
    assert.deepEqual(byId.get('o6')?.data, { customer: 'Eve' });
    for (const item of list.items) assert.ok(Object.keys(item.data).every((key) => key === 'customer' || key === 'amount'));
  });

  it('aggregates groups with count, sum, avg, min and max', async () => {
    const url = `${orders(tenant)}/aggregate?groupBy=status&measures=count,sum:amount,avg:amount,min:amount,max:amount`;
    const { groups } = expectStatus(await api().get(url), 200);
    const byStatus = (a: { key: { status: string } }, b: { key: { status: string } }) => a.key.status.localeCompare(b.key.status);
    assert.deepEqual(groups.sort(byStatus), [
      { key: { status: 'open' }, count: 3, sum_amount: 110, avg_amount: 55, min_amount: 10, max_amount: 100 },
      { key: { status: 'paid' }, count: 2, sum_amount: 250, avg_amount: 125, min_amount: 0, max_amount: 250 },
      { key: { status: 'shipped' }, count: 1, sum_amount: 100, avg_amount: 100, min_amount: 100, max_amount: 100 },
    ]);
    const filtered = expectStatus(await api().get(`${orders(tenant)}/aggregate?groupBy=status&${query({ amount: { $gte: 100 } })}`), 200);
    assert.deepEqual(filtered.groups.sort(byStatus), [
      { key: { status: 'open' }, count: 1 },
      { key: { status: 'paid' }, count: 1 },
      { key: { status: 'shipped' }, count: 1 },
    ]);
    const total = expectStatus(await api().get(`${orders(tenant)}/aggregate?measures=count,sum:amount`), 200);
    assert.deepEqual(total.groups, [{ key: {}, count: 6, sum_amount: 460 }]);
    assert.equal((await tenantLog(api(), tenant)).length, ORDERS.length + 1, 'queries write nothing');
  });
}
