import assert from 'node:assert/strict';
import { it } from 'node:test';
import { type Api, expectNothingWritten, expectProblem, expectStatus, sleep, tenantLog } from './client.js';
import { type ApiContext, orders, salesTenant } from './fixtures.js';

/** A write and a later one at least a few milliseconds apart, so that times tell them apart. */
const TICK_MS = 15;

const ids = (list: { items: { id: string }[] }) => list.items.map((item) => item.id).sort();

async function lastPosition(api: Api, tenant: string): Promise<bigint> {
  return BigInt((await tenantLog(api, tenant)).at(-1).position);
}

export function writeCases({ api }: ApiContext): void {
  it('applies a write whose If-Match matches and refuses a stale one with 409 version_conflict, writing nothing', async () => {
    const tenant = await salesTenant(api(), 'wr');
    const url = `${orders(tenant)}/c-1`;
    expectStatus(await api().post(orders(tenant), { id: 'c-1', customer: 'Ann', amount: 1 }), 201);
    const matched = expectStatus(await api().patch(url, { amount: 2 }, { 'if-match': '"1"' }), 200);
    assert.equal(matched.version, 2);
    await expectNothingWritten(api(), tenant, async () => {
      expectProblem(await api().patch(url, { amount: 3 }, { 'if-match': '"1"' }), 409, 'version_conflict');
      expectProblem(await api().post(`${url}/pay`, undefined, { 'if-match': '"1"' }), 409, 'version_conflict');
      expectProblem(await api().delete(url, { 'if-match': '"3"' }), 409, 'version_conflict');
    });
    assert.equal(expectStatus(await api().get(url), 200).data.amount, 2);
    assert.equal(expectStatus(await api().post(`${url}/pay`, undefined, { 'if-match': '"2"' }), 200).version, 3);
    assert.equal(expectStatus(await api().delete(url, { 'if-match': '"3"' }), 200).version, 4);
  });

  it('runs a declared command (200, event type = its emits) and refuses it when its guard fails', async () => {
    const tenant = await salesTenant(api(), 'wr');
    const url = `${orders(tenant)}/k-1`;
    expectStatus(await api().post(orders(tenant), { id: 'k-1', customer: 'Ann', amount: 1 }), 201);
    const paid = expectStatus(await api().post(`${url}/pay`), 200);
    assert.equal(paid.version, 2);
    assert.deepEqual(paid.data, { customer: 'Ann', amount: 1, status: 'paid' });
    const history = expectStatus(await api().get(`${url}/history`), 200);
    assert.deepEqual(
      { type: history[1].type, data: history[1].data, position: history[1].position },
      { type: 'OrderPaid', data: { status: 'paid' }, position: paid.position },
    );
    await expectNothingWritten(api(), tenant, async () => {
      expectProblem(await api().post(`${url}/pay`), 409, 'precondition_failed');
      expectProblem(await api().post(`${url}/refund`), 404, 'not_found');
    });
  });

  it('answers a repeated Idempotency-Key on a create with the first response and writes nothing', async () => {
    const tenant = await salesTenant(api(), 'wr');
    const headers = { 'idempotency-key': `create-${tenant}` };
    const before = (await tenantLog(api(), tenant)).length;
    const first = await api().post(orders(tenant), { customer: 'Ann', amount: 5 }, headers);
    expectStatus(first, 201);
    assert.equal((await tenantLog(api(), tenant)).length, before + 1);
    const again = await expectNothingWritten(api(), tenant, () => api().post(orders(tenant), { customer: 'Ann', amount: 5 }, headers));
    expectStatus(again, 201);
    assert.deepEqual(again.body, first.body);
    assert.deepEqual(ids(expectStatus(await api().get(orders(tenant)), 200)), [first.body.id]);
    expectStatus(await api().patch(`${orders(tenant)}/${first.body.id}`, { amount: 6 }), 200);
    const later = await expectNothingWritten(api(), tenant, () => api().post(orders(tenant), { customer: 'Ann', amount: 5 }, headers));
    assert.deepEqual(later.body, first.body, 'the first response, even after the record changed');
  });

  it('answers a repeated Idempotency-Key on a patch with the first response and writes nothing', async () => {
    const tenant = await salesTenant(api(), 'wr');
    const url = `${orders(tenant)}/ip-1`;
    expectStatus(await api().post(orders(tenant), { id: 'ip-1', customer: 'Ann', amount: 1 }), 201);
    const headers = { 'idempotency-key': `patch-${tenant}` };
    const first = await api().patch(url, { amount: 2 }, headers);
    assert.equal(expectStatus(first, 200).version, 2);
    expectStatus(await api().patch(url, { amount: 3 }), 200);
    const again = await expectNothingWritten(api(), tenant, () => api().patch(url, { amount: 2 }, headers));
    expectStatus(again, 200);
    assert.deepEqual(again.body, first.body);
    assert.equal(expectStatus(await api().get(url), 200).data.amount, 3);
  });

  it('answers a repeated Idempotency-Key on a command with the first response, not a failed guard', async () => {
    const tenant = await salesTenant(api(), 'wr');
    const url = `${orders(tenant)}/i-1`;
    expectStatus(await api().post(orders(tenant), { id: 'i-1', customer: 'Ann' }), 201);
    const headers = { 'idempotency-key': `pay-${tenant}` };
    const first = await api().post(`${url}/pay`, undefined, headers);
    expectStatus(first, 200);
    const again = await expectNothingWritten(api(), tenant, () => api().post(`${url}/pay`, undefined, headers));
    expectStatus(again, 200);
    assert.deepEqual(again.body, first.body);
  });

  it('answers a repeated Idempotency-Key on a delete with the first response and writes nothing', async () => {
    const tenant = await salesTenant(api(), 'wr');
    const url = `${orders(tenant)}/id-1`;
    expectStatus(await api().post(orders(tenant), { id: 'id-1', customer: 'Ann' }), 201);
    const headers = { 'idempotency-key': `delete-${tenant}` };
    const first = await api().delete(url, headers);
    assert.equal(expectStatus(first, 200).version, 2);
    const again = await expectNothingWritten(api(), tenant, () => api().delete(url, headers));
    expectStatus(again, 200);
    assert.deepEqual(again.body, first.body);
  });

  it('refuses an Idempotency-Key reused for another record with 409 idempotency_key_reused, writing nothing', async () => {
    const tenant = await salesTenant(api(), 'wr');
    const headers = { 'idempotency-key': `reused-${tenant}` };
    expectStatus(await api().post(orders(tenant), { id: 'r-1', customer: 'Ann' }, headers), 201);
    expectStatus(await api().post(orders(tenant), { id: 'r-2', customer: 'Bob' }), 201);
    await expectNothingWritten(api(), tenant, async () => {
      expectProblem(await api().patch(`${orders(tenant)}/r-2`, { amount: 9 }, headers), 409, 'idempotency_key_reused');
      expectProblem(await api().post(`${orders(tenant)}/r-2/pay`, undefined, headers), 409, 'idempotency_key_reused');
    });
  });

  it('refuses an Idempotency-Key reused on a create with another client id with 409 idempotency_key_reused', async () => {
    const tenant = await salesTenant(api(), 'wr');
    const headers = { 'idempotency-key': `reused-id-${tenant}` };
    expectStatus(await api().post(orders(tenant), { id: 'r-1', customer: 'Ann' }, headers), 201);
    const reply = await expectNothingWritten(api(), tenant, () => api().post(orders(tenant), { id: 'r-3', customer: 'Cy' }, headers));
    expectProblem(reply, 409, 'idempotency_key_reused');
  });

  it('reads a record as of a past position and a past time', async () => {
    const tenant = await salesTenant(api(), 'wr');
    const url = `${orders(tenant)}/t-1`;
    const created = expectStatus(await api().post(orders(tenant), { id: 't-1', customer: 'Ann', amount: 10 }), 201);
    const first = expectStatus(await api().get(url), 200);
    await sleep(TICK_MS);
    const patched = expectStatus(await api().patch(url, { amount: 20 }), 200);
    const second = expectStatus(await api().get(url), 200);

    const atPosition = expectStatus(await api().get(`${url}?asOf=${created.position}`), 200);
    assert.deepEqual(atPosition, first);
    assert.deepEqual(expectStatus(await api().get(`${url}?asOf=${patched.position}`), 200), second);
    const atTime = expectStatus(await api().get(`${url}?asOf=${encodeURIComponent(first.updatedAt)}`), 200);
    assert.deepEqual(atTime, first);
    assert.deepEqual(expectStatus(await api().get(`${url}?asOf=${encodeURIComponent(second.updatedAt)}`), 200), second);
    expectProblem(await api().get(`${url}?asOf=${BigInt(created.position) - 1n}`), 404, 'not_found');
    expectProblem(await api().get(`${url}?asOf=2000-01-01T00:00:00Z`), 404, 'not_found');
  });

  it('lists and aggregates as of a past position and a past time', async () => {
    const tenant = await salesTenant(api(), 'wr');
    expectStatus(await api().post(orders(tenant), { id: 'a', customer: 'Ann', amount: 10 }), 201);
    const b = expectStatus(await api().post(orders(tenant), { id: 'b', customer: 'Bob', amount: 20 }), 201);
    const then = expectStatus(await api().get(`${orders(tenant)}/b`), 200).updatedAt;
    await sleep(TICK_MS);
    expectStatus(await api().patch(`${orders(tenant)}/a`, { amount: 30 }), 200);
    expectStatus(await api().delete(`${orders(tenant)}/b`), 200);
    expectStatus(await api().post(orders(tenant), { id: 'c', customer: 'Cy', amount: 5 }), 201);

    const aggregate = (asOf: string) => `${orders(tenant)}/aggregate?measures=count,sum:amount${asOf}`;
    for (const asOf of [`&asOf=${b.position}`, `&asOf=${encodeURIComponent(then)}`]) {
      const past = expectStatus(await api().get(`${orders(tenant)}?sort=customer${asOf}`), 200);
      assert.deepEqual(
        past.items.map((item: { id: string; data: { amount: number } }) => [item.id, item.data.amount]),
        [
          ['a', 10],
          ['b', 20],
        ],
        asOf,
      );
      assert.deepEqual(expectStatus(await api().get(aggregate(asOf)), 200).groups, [{ key: {}, count: 2, sum_amount: 30 }], asOf);
    }
    assert.deepEqual(ids(expectStatus(await api().get(orders(tenant)), 200)), ['a', 'c']);
    assert.deepEqual(expectStatus(await api().get(aggregate('')), 200).groups, [{ key: {}, count: 2, sum_amount: 35 }]);
  });

  it('answers ?after=<position> at once when that position is committed', async () => {
    const tenant = await salesTenant(api(), 'wr');
    const created = expectStatus(await api().post(orders(tenant), { id: 'w-1', customer: 'Ann', amount: 1 }), 201);
    const after = `after=${created.position}`;
    for (const url of [`${orders(tenant)}/w-1?${after}`, `${orders(tenant)}?${after}`, `${orders(tenant)}/aggregate?${after}`]) {
      const started = performance.now();
      expectStatus(await api().get(url), 200);
      assert.ok(performance.now() - started < 1000, `${url} waited`);
    }
  });

  it('answers ?after=<position> on a record, a list and an aggregate once that position is committed', async () => {
    await expectWaits(api(), ['late', 'list', 'aggregate']);
  });

  it('answers ?after=<position> on a history once that position is committed', async () => {
    await expectWaits(api(), ['history']);
  });

  it('answers ?after=<position> on a module read once that position is committed', async () => {
    await expectWaits(api(), ['module']);
  });
}

type Read = 'late' | 'list' | 'aggregate' | 'history' | 'module';

/** Starts reads with ?after=<the next position>, checks they wait, then writes that position and checks they see it. */
async function expectWaits(api: Api, reads: Read[]): Promise<void> {
  const tenant = await salesTenant(api, 'wr');
  const next = (await lastPosition(api, tenant)) + 1n;
  const urls: Record<Read, string> = {
    late: `${orders(tenant)}/late`,
    list: orders(tenant),
    aggregate: `${orders(tenant)}/aggregate`,
    history: `${orders(tenant)}/late/history`,
    module: `/t/${tenant}/modules/crm`,
  };
  const early: string[] = [];
  const waiting = reads.map(async (read) => {
    const reply = await api.get(`${urls[read]}?after=${next}`);
    if (!committed) early.push(`${read}: ${reply.status} ${reply.text}`);
    return reply;
  });
  let committed = false;
  await sleep(100);
  committed = true;
  assert.deepEqual(early, [], 'answered before the position was committed');
  if (reads.includes('module')) expectStatus(await api.put(`/t/${tenant}/modules/crm`, { entities: { c: { fields: {} } } }), 201);
  else expectStatus(await api.post(orders(tenant), { id: 'late', customer: 'Ann' }), 201);
  const replies = await Promise.all(waiting);
  replies.forEach((reply, i) => {
    assert.equal(reply.status, 200, `${reads[i]}: ${reply.text}`);
  });
}
