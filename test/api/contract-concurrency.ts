import assert from 'node:assert/strict';
import { it } from 'node:test';
import { expectProblem, expectStatus, type Reply } from './client.js';
import { type ApiContext, orders, salesTenant } from './fixtures.js';

const WRITERS = 6;
const statuses = (replies: Reply[]) => replies.map((reply) => reply.status).sort();

export function concurrencyCases({ api }: ApiContext): void {
  it('lets exactly one of concurrent creates with the same id win; the others are 409 already_exists', async () => {
    const tenant = await salesTenant(api(), 'conc');
    const replies = await Promise.all(
      Array.from({ length: WRITERS }, (_, i) => api().post(orders(tenant), { id: 'same', customer: `writer ${i}` })),
    );
    assert.deepEqual(statuses(replies), [201, ...Array(WRITERS - 1).fill(409)]);
    for (const reply of replies) if (reply.status === 409) expectProblem(reply, 409, 'already_exists');
    const winner = replies.find((reply) => reply.status === 201);
    const stored = expectStatus(await api().get(`${orders(tenant)}/same`), 200);
    assert.deepEqual(stored.data, winner?.body.data);
    assert.equal(expectStatus(await api().get(`${orders(tenant)}/same/history`), 200).length, 1);
  });

  it('lets exactly one of concurrent writes with the same If-Match win; the others are 409 version_conflict', async () => {
    const tenant = await salesTenant(api(), 'conc');
    const url = `${orders(tenant)}/m-1`;
    expectStatus(await api().post(orders(tenant), { id: 'm-1', customer: 'Ann', amount: 0 }), 201);
    const replies = await Promise.all(
      Array.from({ length: WRITERS }, (_, i) => api().patch(url, { amount: i + 1 }, { 'if-match': '"1"' })),
    );
    assert.deepEqual(statuses(replies), [200, ...Array(WRITERS - 1).fill(409)]);
    for (const reply of replies) if (reply.status === 409) expectProblem(reply, 409, 'version_conflict');
    const stored = expectStatus(await api().get(url), 200);
    assert.equal(stored.version, 2);
    assert.equal(stored.data.amount, replies.find((reply) => reply.status === 200)?.body.data.amount);
  });

  it('applies every one of concurrent patches without If-Match', async () => {
    const tenant = await salesTenant(api(), 'conc');
    const url = `${orders(tenant)}/p-1`;
    expectStatus(await api().post(orders(tenant), { id: 'p-1', customer: 'Ann' }), 201);
    const replies = await Promise.all(Array.from({ length: WRITERS }, (_, i) => api().patch(url, { amount: i + 1 })));
    const refused = replies.filter((reply) => reply.status !== 200).map((reply) => reply.text);
    assert.deepEqual(statuses(replies), Array(WRITERS).fill(200), refused.join('\n'));
    const history = expectStatus(await api().get(`${url}/history`), 200);
    assert.equal(history.length, 1 + WRITERS, 'one event per patch');
    assert.deepEqual(
      history.map((entry: { version: number }) => entry.version),
      Array.from({ length: WRITERS + 1 }, (_, i) => i + 1),
    );
  });
}
