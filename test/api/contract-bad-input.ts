import assert from 'node:assert/strict';
import { before, it } from 'node:test';
import { type Api, expectNothingWritten, expectProblem, expectStatus, expectValidation } from './client.js';
import { type ApiContext, BODY_LIMIT_BYTES, orders, SALES, salesTenant } from './fixtures.js';

const json = (value: unknown) => encodeURIComponent(JSON.stringify(value));

export function badInputCases({ api }: ApiContext): void {
  let tenant: string;
  let record: string;
  before(async () => {
    tenant = await salesTenant(api(), 'bad');
    record = `${orders(tenant)}/${expectStatus(await api().post(orders(tenant), { id: 'b-1', customer: 'Ann', amount: 1 }), 201).id}`;
    expectStatus(await api().post(orders(tenant), { id: 'b-2', customer: 'Bob', amount: 2 }), 201);
  });
  /** Each case runs against a tenant with one record, and must leave its log untouched. */
  const unchanged = (action: (api: Api) => Promise<void>) => expectNothingWritten(api(), tenant, () => action(api()));

  it('answers 404 not_found for an unknown module or entity on every record route', async () => {
    await unchanged(async (api) => {
      for (const base of [`/t/${tenant}/data/nothing/order`, `/t/${tenant}/data/sales/nothing`]) {
        expectProblem(await api.post(base, { customer: 'Ann' }), 404, 'not_found');
        expectProblem(await api.get(base), 404, 'not_found');
        expectProblem(await api.get(`${base}/aggregate`), 404, 'not_found');
        expectProblem(await api.get(`${base}/b-1`), 404, 'not_found');
        expectProblem(await api.get(`${base}/b-1/history`), 404, 'not_found');
        expectProblem(await api.patch(`${base}/b-1`, { amount: 2 }), 404, 'not_found');
        expectProblem(await api.delete(`${base}/b-1`), 404, 'not_found');
        expectProblem(await api.post(`${base}/b-1/pay`), 404, 'not_found');
      }
    });
  });

  it('lists every invalid field of a record with 400 validation_failed', async () => {
    await unchanged(async (api) => {
      const wrong = {
        customer: 5,
        amount: 'x',
        status: 'bogus',
        placedAt: 'yesterday',
        lines: 'no',
        tags: [1],
        owner: 'bad id!',
        extra: 1,
      };
      expectValidation(await api.post(orders(tenant), wrong), [
        'customer',
        'amount',
        'status',
        'placedAt',
        'lines',
        'tags',
        'owner',
        'extra',
      ]);
      expectValidation(await api.post(orders(tenant), { amount: -1, note: 7 }), ['customer', 'amount', 'note']);
      expectValidation(await api.post(orders(tenant), { customer: 'x'.repeat(201) }), ['customer']);
      expectValidation(await api.post(orders(tenant), { id: 'bad id!', customer: 'Ann' }), ['id']);
      expectValidation(await api.patch(record, { amount: 'x', status: 'bogus', extra: true }), ['amount', 'status', 'extra']);
      expectValidation(await api.patch(record, { customer: null }), ['customer']);
    });
  });

  it('refuses a body that is not a JSON object with 400 validation_failed', async () => {
    await unchanged(async (api) => {
      for (const payload of ['[1, 2]', '"text"', '42']) {
        expectProblem(await api.call('POST', orders(tenant), { payload }), 400, 'validation_failed');
        expectProblem(await api.call('PATCH', record, { payload }), 400, 'validation_failed');
      }
    });
  });

  it('refuses malformed JSON with 400 validation_failed', async () => {
    await unchanged(async (api) => {
      const payload = '{"customer": "Ann",';
      expectProblem(await api.call('POST', orders(tenant), { payload }), 400, 'validation_failed');
      expectProblem(await api.call('PATCH', record, { payload }), 400, 'validation_failed');
      expectProblem(await api.call('PUT', `/t/${tenant}/modules/sales`, { payload }), 400, 'validation_failed');
    });
  });

  it('refuses a body over the configured limit with 413 payload_too_large', async () => {
    await unchanged(async (api) => {
      const big = { customer: 'Ann', note: 'x'.repeat(BODY_LIMIT_BYTES) };
      expectProblem(await api.post(orders(tenant), big), 413, 'payload_too_large');
      expectProblem(await api.patch(record, big), 413, 'payload_too_large');
      const module = { ...SALES, title: 'x'.repeat(BODY_LIMIT_BYTES) };
      expectProblem(await api.put(`/t/${tenant}/modules/sales`, module), 413, 'payload_too_large');
    });
  });

  it('refuses a body that is not JSON with 415 unsupported_media_type', async () => {
    await unchanged(async (api) => {
      for (const type of ['text/plain', 'application/xml', 'application/x-www-form-urlencoded']) {
        const headers = { 'content-type': type };
        const payload = type === 'application/x-www-form-urlencoded' ? 'customer=Ann' : '{"customer":"Ann"}';
        expectProblem(await api.call('POST', orders(tenant), { payload, headers }), 415, 'unsupported_media_type');
        expectProblem(await api.call('PATCH', record, { payload: '{"amount":2}', headers }), 415, 'unsupported_media_type');
        expectProblem(await api.call('PUT', `/t/${tenant}/modules/sales`, { payload: '{}', headers }), 415, 'unsupported_media_type');
      }
    });
  });

  it('refuses unknown filter operators and fields, wrong operands and malformed filter JSON', async () => {
    await unchanged(async (api) => {
      for (const path of [orders(tenant), `${orders(tenant)}/aggregate`]) {
        expectValidation(await api.get(`${path}?filter=${json({ amount: { $foo: 1 } })}`), ['filter/amount/$foo']);
        expectValidation(await api.get(`${path}?filter=${json({ $nor: [{ amount: 1 }] })}`), ['filter/$nor']);
        expectValidation(await api.get(`${path}?filter=${json({ bogus: 1 })}`), ['filter/bogus']);
        expectValidation(await api.get(`${path}?filter=${json({ amount: { $gt: 'x' } })}`), ['filter/amount/$gt']);
        expectValidation(await api.get(`${path}?filter=${encodeURIComponent('{"status":')}`), ['filter']);
      }
    });
  });

  it('refuses unknown sort, fields, groupBy and measures with 400 validation_failed', async () => {
    await unchanged(async (api) => {
      expectValidation(await api.get(`${orders(tenant)}?sort=-bogus`), ['sort']);
      expectValidation(await api.get(`${orders(tenant)}?fields=customer,bogus`), ['fields']);
      expectValidation(await api.get(`${orders(tenant)}/aggregate?groupBy=bogus`), ['groupBy']);
      expectValidation(await api.get(`${orders(tenant)}/aggregate?measures=median:amount`), ['measures']);
      expectValidation(await api.get(`${orders(tenant)}/aggregate?measures=sum:customer`), ['measures']);
    });
  });

  it('refuses an invalid cursor and a limit outside 1..1000 with 400 validation_failed', async () => {
    await unchanged(async (api) => {
      const foreign = expectStatus(await api.get(`${orders(tenant)}?sort=customer&limit=1`), 200);
      assert.equal(typeof foreign.nextCursor, 'string', 'a cursor made for another sort');
      for (const cursor of ['not a cursor!', 'e30', Buffer.from('{"s":"","v":[],"i":5}').toString('base64url')]) {
        expectValidation(await api.get(`${orders(tenant)}?cursor=${encodeURIComponent(cursor)}`), ['cursor']);
      }
      const other = `${orders(tenant)}?sort=-amount&cursor=${encodeURIComponent(foreign.nextCursor)}`;
      expectValidation(await api.get(other), ['cursor']);
      for (const limit of ['1001', '0', '-1', 'many']) {
        expectValidation(await api.get(`${orders(tenant)}?limit=${limit}`), ['limit']);
        expectValidation(await api.get(`/t/${tenant}/events?limit=${limit}`), ['limit']);
      }
    });
  });

  it('refuses an invalid asOf or after with 400 validation_failed', async () => {
    await unchanged(async (api) => {
      for (const asOf of ['yesterday', '2024-13-45T00:00:00Z', '-5', '1.5']) {
        for (const url of [record, orders(tenant), `${orders(tenant)}/aggregate`]) {
          expectValidation(await api.get(`${url}?asOf=${encodeURIComponent(asOf)}`), ['asOf']);
        }
      }
      for (const url of [record, orders(tenant), `${orders(tenant)}/aggregate`, `/t/${tenant}/events`]) {
        expectValidation(await api.get(`${url}?after=soon`), ['after']);
      }
    });
  });

  it('refuses an invalid If-Match with 400 validation_failed', async () => {
    await unchanged(async (api) => {
      for (const ifMatch of ['abc', '"x"', '"-1"', 'W/"abc"']) {
        const headers = { 'if-match': ifMatch };
        expectProblem(await api.patch(record, { amount: 5 }, headers), 400, 'validation_failed');
        expectProblem(await api.delete(record, headers), 400, 'validation_failed');
        expectProblem(await api.post(`${record}/pay`, undefined, headers), 400, 'validation_failed');
      }
    });
  });

  it('refuses invalid module, entity and record names in paths with 400 validation_failed', async () => {
    await unchanged(async (api) => {
      expectProblem(await api.put(`/t/${tenant}/modules/Sales-Module`, SALES), 400, 'validation_failed');
      expectProblem(await api.put('/t/Acme/modules/sales', SALES), 400, 'validation_failed');
      expectProblem(await api.get('/t/a/modules'), 400, 'validation_failed');
      expectProblem(await api.get(`/t/${tenant}/data/sales/Order-X`), 400, 'validation_failed');
      expectProblem(await api.get(`${orders(tenant)}/${encodeURIComponent('bad id!')}`), 400, 'validation_failed');
    });
  });
}
