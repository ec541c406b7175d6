import assert from 'node:assert/strict';
import { it } from 'node:test';
import { DECIMAL, expectNothingWritten, expectProblem, expectStatus, UTC_TIME, UUID_V7 } from './client.js';
import { type ApiContext, orders, salesTenant } from './fixtures.js';

const HISTORY_KEYS = ['data', 'metadata', 'position', 'type', 'version'];

export function recordCases({ api }: ApiContext): void {
  it('creates a record: 201 with a UUIDv7 id, version 1, a position, defaults applied and datetimes in UTC', async () => {
    const tenant = await salesTenant(api(), 'rec');
    const input = { customer: 'Ann', amount: 12.5, placedAt: '2024-03-01T10:00:00+02:00', lines: [{ sku: 'a', qty: 2 }] };
    const created = expectStatus(await api().post(orders(tenant), input), 201);
    assert.match(created.id, UUID_V7);
    assert.equal(created.version, 1);
    assert.match(created.position, DECIMAL);
    const { placedAt, ...rest } = created.data;
    assert.deepEqual(rest, { customer: 'Ann', amount: 12.5, status: 'open', lines: [{ sku: 'a', qty: 2 }] });
    assert.match(placedAt, UTC_TIME);
    assert.equal(Date.parse(placedAt), Date.parse('2024-03-01T08:00:00Z'));
    const patched = expectStatus(await api().patch(`${orders(tenant)}/${created.id}`, { placedAt: '2024-03-01T12:00:00-01:00' }), 200);
    assert.match(patched.data.placedAt, UTC_TIME);
    assert.equal(Date.parse(patched.data.placedAt), Date.parse('2024-03-01T13:00:00Z'));
  });

  it('accepts a client-supplied id and refuses it a second time with 409 already_exists, writing nothing', async () => {
    const tenant = await salesTenant(api(), 'rec');
    const created = expectStatus(await api().post(orders(tenant), { id: 'order-1', customer: 'Ann' }), 201);
    assert.equal(created.id, 'order-1');
    assert.deepEqual(created.data, { customer: 'Ann', status: 'open' });
    const again = await expectNothingWritten(api(), tenant, () => api().post(orders(tenant), { id: 'order-1', customer: 'Bob' }));
    expectProblem(again, 409, 'already_exists');
    assert.equal(expectStatus(await api().get(`${orders(tenant)}/order-1`), 200).data.customer, 'Ann');
  });

  it('reads a record with its version, position, data and times', async () => {
    const tenant = await salesTenant(api(), 'rec');
    const created = expectStatus(await api().post(orders(tenant), { customer: 'Ann', amount: 1 }), 201);
    const read = expectStatus(await api().get(`${orders(tenant)}/${created.id}`), 200);
    assert.deepEqual(Object.keys(read).sort(), ['createdAt', 'data', 'id', 'position', 'updatedAt', 'version']);
    assert.equal(read.id, created.id);
    assert.equal(read.version, 1);
    assert.equal(read.position, created.position);
    assert.deepEqual(read.data, created.data);
    assert.match(read.createdAt, UTC_TIME);
    assert.match(read.updatedAt, UTC_TIME);

    const patched = expectStatus(await api().patch(`${orders(tenant)}/${created.id}`, { amount: 2 }), 200);
    const later = expectStatus(await api().get(`${orders(tenant)}/${created.id}`), 200);
    assert.equal(later.version, 2);
    assert.equal(later.position, patched.position);
    assert.equal(later.createdAt, read.createdAt);
    assert.ok(Date.parse(later.updatedAt) >= Date.parse(later.createdAt));
  });

  it('applies a JSON merge patch (null removes a field) and records only the changed fields', async () => {
    const tenant = await salesTenant(api(), 'rec');
    const url = `${orders(tenant)}/p-1`;
    expectStatus(await api().post(orders(tenant), { id: 'p-1', customer: 'Ann', amount: 10, note: 'n', lines: [{ a: 1 }] }), 201);
    const patched = expectStatus(await api().patch(url, { customer: 'Ann', amount: 20, note: null }), 200);
    assert.equal(patched.id, 'p-1');
    assert.equal(patched.version, 2);
    assert.match(patched.position, DECIMAL);
    assert.deepEqual(patched.data, { customer: 'Ann', amount: 20, status: 'open', lines: [{ a: 1 }] });
    const history = expectStatus(await api().get(`${url}/history`), 200);
    assert.equal(history.length, 2);
    assert.deepEqual(
      { type: history[1].type, version: history[1].version, position: history[1].position, data: history[1].data },
      { type: 'OrderUpdated', version: 2, position: patched.position, data: { amount: 20, note: null } },
    );
  });

  it('merges nested objects of a patch (RFC 7386) and records the new value of the changed field', async () => {
    const tenant = await salesTenant(api(), 'rec');
    const url = `${orders(tenant)}/n-1`;
    expectStatus(await api().post(orders(tenant), { id: 'n-1', customer: 'Ann', meta: { a: 1, b: { c: 2 } } }), 201);
    const patched = expectStatus(await api().patch(url, { meta: { a: null, b: { d: 3 } } }), 200);
    assert.deepEqual(patched.data.meta, { b: { c: 2, d: 3 } });
    const history = expectStatus(await api().get(`${url}/history`), 200);
    assert.deepEqual(history[1].data, { meta: { b: { c: 2, d: 3 } } });
  });

  it('accepts a merge patch sent as application/merge-patch+json (RFC 7386)', async () => {
    const tenant = await salesTenant(api(), 'rec');
    expectStatus(await api().post(orders(tenant), { id: 'm-1', customer: 'Ann', amount: 1 }), 201);
    const headers = { 'content-type': 'application/merge-patch+json' };
    const patched = await api().call('PATCH', `${orders(tenant)}/m-1`, { payload: '{"amount":2}', headers });
    assert.equal(expectStatus(patched, 200).data.amount, 2);
  });

  it('answers a patch that changes nothing with the current version and writes no event', async () => {
    const tenant = await salesTenant(api(), 'rec');
    const created = expectStatus(await api().post(orders(tenant), { customer: 'Ann', amount: 10 }), 201);
    const url = `${orders(tenant)}/${created.id}`;
    const same = await expectNothingWritten(api(), tenant, () => api().patch(url, { customer: 'Ann', amount: 10, note: null }));
    const body = expectStatus(same, 200);
    assert.equal(body.version, 1);
    assert.equal(body.position, created.position);
    assert.deepEqual(body.data, created.data);
    assert.equal(expectStatus(await api().get(`${url}/history`), 200).length, 1);
  });

  it('deletes a record: it is gone, its history stays, and further writes to it are 404 not_found', async () => {
    const tenant = await salesTenant(api(), 'rec');
    const created = expectStatus(await api().post(orders(tenant), { customer: 'Ann' }), 201);
    const url = `${orders(tenant)}/${created.id}`;
    const deleted = expectStatus(await api().delete(url), 200);
    assert.equal(deleted.version, 2);
    assert.match(deleted.position, DECIMAL);
    expectProblem(await api().get(url), 404, 'not_found');
    const history = expectStatus(await api().get(`${url}/history`), 200);
    assert.deepEqual(
      history.map((entry: { type: string; version: number }) => [entry.type, entry.version]),
      [
        ['OrderCreated', 1],
        ['OrderDeleted', 2],
      ],
    );
    assert.equal(history[1].position, deleted.position);
    const before = expectStatus(await api().get(`${url}?asOf=${created.position}`), 200);
    assert.deepEqual(before.data, { customer: 'Ann', status: 'open' }, 'the past version stays readable');
    await expectNothingWritten(api(), tenant, async () => {
      expectProblem(await api().patch(url, { amount: 1 }), 404, 'not_found');
      expectProblem(await api().delete(url), 404, 'not_found');
      expectProblem(await api().post(`${url}/pay`), 404, 'not_found');
    });
    assert.deepEqual(expectStatus(await api().get(orders(tenant)), 200).items, []);
  });

  it('answers 404 not_found for a record that never existed', async () => {
    const tenant = await salesTenant(api(), 'rec');
    const url = `${orders(tenant)}/missing`;
    await expectNothingWritten(api(), tenant, async () => {
      expectProblem(await api().get(url), 404, 'not_found');
      expectProblem(await api().get(`${url}/history`), 404, 'not_found');
      expectProblem(await api().patch(url, { amount: 1 }), 404, 'not_found');
      expectProblem(await api().delete(url), 404, 'not_found');
      expectProblem(await api().post(`${url}/pay`), 404, 'not_found');
    });
  });

  it('records actor, time and correlation id (X-Correlation-Id honoured) in the history', async () => {
    const tenant = await salesTenant(api(), 'rec');
    const created = expectStatus(await api().post(orders(tenant), { customer: 'Ann' }, { 'x-correlation-id': 'corr-42' }), 201);
    const url = `${orders(tenant)}/${created.id}`;
    const patched = expectStatus(await api().patch(url, { amount: 3 }), 200);
    const history = expectStatus(await api().get(`${url}/history`), 200);
    assert.equal(history.length, 2);
    for (const entry of history) {
      assert.deepEqual(Object.keys(entry).sort(), HISTORY_KEYS);
      assert.match(entry.position, DECIMAL);
      assert.equal(typeof entry.metadata.actor, 'string');
      assert.match(entry.metadata.at, UTC_TIME);
      assert.equal(typeof entry.metadata.correlationId, 'string');
      assert.ok(entry.metadata.correlationId.length > 0);
    }
    assert.deepEqual(
      history.map((entry: { version: number; position: string }) => [entry.version, entry.position]),
      [
        [1, created.position],
        [2, patched.position],
      ],
    );
    assert.equal(history[0].metadata.correlationId, 'corr-42');
    assert.notEqual(history[1].metadata.correlationId, 'corr-42');
    assert.deepEqual(history[0].data, { customer: 'Ann', status: 'open' });
  });
}
