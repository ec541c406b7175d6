import assert from 'node:assert/strict';
import { it } from 'node:test';
import { DECIMAL, expectNothingWritten, expectProblem, expectStatus, expectValidation, newTenant, tenantLog } from './client.js';
import { type ApiContext, orders, SALES, salesTenant } from './fixtures.js';

const CRM_V1 = { title: 'CRM', entities: { customer: { fields: { name: { type: 'string', required: true } } } } };
const CRM_V2 = {
  title: 'CRM',
  entities: {
    customer: {
      fields: { name: { type: 'string', required: true }, email: { type: 'string' }, vip: { type: 'boolean', default: false } },
      commands: { promote: { set: { vip: true }, emits: 'CustomerPromoted' } },
    },
    contact: { fields: { phone: { type: 'string' } } },
  },
};

/** SALES with the order entity's fields changed by `change`. */
function salesWith(change: (fields: Record<string, unknown>) => void, extra: Record<string, unknown> = {}) {
  const definition = structuredClone(SALES);
  change(definition.entities.order.fields as Record<string, unknown>);
  return { ...definition, ...extra };
}

export function moduleCases({ api }: ApiContext): void {
  it('creates a module (201, version 1) and evolves it additively (200, version 2)', async () => {
    const tenant = await newTenant(api(), 'mod');
    const created = expectStatus(await api().put(`/t/${tenant}/modules/crm`, CRM_V1), 201);
    assert.equal(created.version, 1);
    assert.match(created.position, DECIMAL);
    const evolved = expectStatus(await api().put(`/t/${tenant}/modules/crm`, CRM_V2), 200);
    assert.equal(evolved.version, 2);
    assert.match(evolved.position, DECIMAL);
    assert.ok(BigInt(evolved.position) > BigInt(created.position));

    const current = expectStatus(await api().get(`/t/${tenant}/modules/crm`), 200);
    assert.equal(current.version, 2);
    assert.deepEqual(current.definition, CRM_V2);
    const list = expectStatus(await api().get(`/t/${tenant}/modules`), 200);
    assert.deepEqual(
      list.items.map((item: { name: string; version: number }) => [item.name, item.version]),
      [['crm', 2]],
    );
    const added = await api().post(`/t/${tenant}/data/crm/contact`, { phone: '+41 44 000 00 00' });
    expectStatus(added, 201);
  });

  it('returns an earlier version of a definition with ?version=', async () => {
    const tenant = await newTenant(api(), 'mod');
    expectStatus(await api().put(`/t/${tenant}/modules/crm`, CRM_V1), 201);
    expectStatus(await api().put(`/t/${tenant}/modules/crm`, CRM_V2), 200);
    const first = expectStatus(await api().get(`/t/${tenant}/modules/crm?version=1`), 200);
    assert.equal(first.version, 1);
    assert.deepEqual(first.definition, CRM_V1);
    const second = expectStatus(await api().get(`/t/${tenant}/modules/crm?version=2`), 200);
    assert.deepEqual(second.definition, CRM_V2);
    expectProblem(await api().get(`/t/${tenant}/modules/crm?version=3`), 404, 'not_found');
    expectProblem(await api().get(`/t/${tenant}/modules/nothing`), 404, 'not_found');
  });

  it('answers a repeated identical definition with the same version and writes nothing', async () => {
    const tenant = await newTenant(api(), 'mod');
    const created = expectStatus(await api().put(`/t/${tenant}/modules/crm`, CRM_V1), 201);
    const again = await expectNothingWritten(api(), tenant, () => api().put(`/t/${tenant}/modules/crm`, CRM_V1));
    const body = expectStatus(again, 200);
    assert.equal(body.version, 1);
    assert.equal(body.position, created.position, 'the position of the version that is current');
  });

  it('applies a definition whose If-Match matches and refuses a stale one with 409 version_conflict', async () => {
    const tenant = await newTenant(api(), 'mod');
    expectStatus(await api().put(`/t/${tenant}/modules/crm`, CRM_V1), 201);
    const stale = await expectNothingWritten(api(), tenant, () => api().put(`/t/${tenant}/modules/crm`, CRM_V2, { 'if-match': '"2"' }));
    expectProblem(stale, 409, 'version_conflict');
    assert.equal(expectStatus(await api().put(`/t/${tenant}/modules/crm`, CRM_V2, { 'if-match': '"1"' }), 200).version, 2);
  });

  it('lists every failing path of an invalid definition and stores nothing', async () => {
    const tenant = await newTenant(api(), 'mod');
    const invalid = {
      entities: {
        order: {
          fields: {
            amount: { type: 'money' },
            status: { type: 'enum' },
            Bad: { type: 'string' },
          },
          indexes: ['nothing'],
          commands: { pay: { set: { unknown: 1 }, emits: 'lowercase' }, Refund: { emits: 'OrderRefunded' } },
        },
        Invoice: { fields: {} },
      },
    };
    const reply = await expectNothingWritten(api(), tenant, () => api().put(`/t/${tenant}/modules/sales`, invalid));
    expectValidation(reply, [
      'entities/order/fields/amount',
      'entities/order/fields/status',
      'entities/order/fields/Bad',
      'entities/order/indexes/0',
      'entities/order/commands/pay/set/unknown',
      'entities/order/commands/pay/emits',
      'entities/order/commands/Refund',
      'entities/Invoice',
    ]);
    expectProblem(await api().get(`/t/${tenant}/modules/sales`), 404, 'not_found');
  });

  it('refuses a reference to an undefined entity, listing it with every other semantic problem', async () => {
    const tenant = await newTenant(api(), 'mod');
    const order = { fields: { owner: { type: 'reference', entity: 'crm.customer' } } };
    const invalid = {
      entities: {
        order: {
          fields: {
            ...order.fields,
            count: { type: 'integer', default: 'many' },
            status: { type: 'enum', values: ['open', 'closed'] },
          },
          commands: { close: { from: { status: 'gone' }, set: { status: 'closed' }, emits: 'OrderClosed' } },
        },
      },
    };
    const reply = await expectNothingWritten(api(), tenant, () => api().put(`/t/${tenant}/modules/sales`, invalid));
    expectValidation(reply, ['entities/order/fields/owner', 'entities/order/fields/count', 'entities/order/commands/close/from/status']);
    expectProblem(await api().get(`/t/${tenant}/modules/sales`), 404, 'not_found');
    expectStatus(await api().put(`/t/${tenant}/modules/crm`, CRM_V1), 201);
    expectStatus(await api().put(`/t/${tenant}/modules/sales`, { entities: { order } }), 201);
  });

  it('refuses to remove or retype a field that holds data unless a migration says how', async () => {
    const tenant = await salesTenant(api(), 'mod');
    expectStatus(await api().post(orders(tenant), { customer: 'Ann', amount: 5, note: 'keep me' }), 201);
    const removed = salesWith((fields) => delete fields.note);
    const refused = await expectNothingWritten(api(), tenant, () => api().put(`/t/${tenant}/modules/sales`, removed));
    expectValidation(refused, ['entities/order/fields/note']);
    const retyped = salesWith((fields) => {
      fields.amount = { type: 'string' };
    });
    const refusedRetype = await expectNothingWritten(api(), tenant, () => api().put(`/t/${tenant}/modules/sales`, retyped));
    expectValidation(refusedRetype, ['entities/order/fields/amount']);
    assert.equal(expectStatus(await api().get(`/t/${tenant}/modules/sales`), 200).version, 1);
    // A field that no record holds may go without a migration.
    const withoutTags = salesWith((fields) => delete fields.tags);
    assert.equal(expectStatus(await api().put(`/t/${tenant}/modules/sales`, withoutTags), 200).version, 2);
  });

  it('drops a field with a migration; old records and their history no longer show it', async () => {
    const tenant = await salesTenant(api(), 'mod');
    const order = expectStatus(await api().post(orders(tenant), { customer: 'Ann', amount: 5, note: 'first' }), 201);
    expectStatus(await api().patch(`${orders(tenant)}/${order.id}`, { note: 'second', amount: 6 }), 200);
    const dropped = salesWith((fields) => delete fields.note, { migrations: [{ drop: 'note' }] });
    assert.equal(expectStatus(await api().put(`/t/${tenant}/modules/sales`, dropped), 200).version, 2);

    const record = expectStatus(await api().get(`${orders(tenant)}/${order.id}`), 200);
    assert.deepEqual(record.data, { customer: 'Ann', amount: 6, status: 'open' });
    const history = expectStatus(await api().get(`${orders(tenant)}/${order.id}/history`), 200);
    assert.deepEqual(
      history.map((entry: { type: string; data: unknown }) => [entry.type, entry.data]),
      [
        ['OrderCreated', { customer: 'Ann', amount: 5, status: 'open' }],
        ['OrderUpdated', { amount: 6 }],
      ],
    );
    const old = expectStatus(await api().get(`/t/${tenant}/modules/sales?version=1`), 200);
    assert.ok('note' in old.definition.entities.order.fields, 'version 1 is kept as it was');
    expectValidation(await api().post(orders(tenant), { customer: 'Bo', note: 'x' }), ['note']);
  });

  it('renames a field with a migration; old records are read, filtered and patched by the new name', async () => {
    const tenant = await salesTenant(api(), 'mod');
    const order = expectStatus(await api().post(orders(tenant), { id: 'renamed-1', customer: 'Ann', note: 'hello' }), 201);
    const renamed = salesWith(
      (fields) => {
        delete fields.note;
        fields.remark = { type: 'text' };
      },
      { migrations: [{ rename: { from: 'note', to: 'remark' } }] },
    );
    expectStatus(await api().put(`/t/${tenant}/modules/sales`, renamed), 200);

    const record = expectStatus(await api().get(`${orders(tenant)}/${order.id}`), 200);
    assert.deepEqual(record.data, { customer: 'Ann', status: 'open', remark: 'hello' });
    const [created] = expectStatus(await api().get(`${orders(tenant)}/${order.id}/history`), 200);
    assert.deepEqual(created.data, { customer: 'Ann', status: 'open', remark: 'hello' });
    const filter = encodeURIComponent(JSON.stringify({ remark: 'hello' }));
    const found = expectStatus(await api().get(`${orders(tenant)}?filter=${filter}`), 200);
    assert.deepEqual(
      found.items.map((item: { id: string }) => item.id),
      ['renamed-1'],
    );
    const recordEvents = (await tenantLog(api(), tenant)).filter((event) => String(event.type).startsWith('Order'));
    assert.ok(
      recordEvents.every((event) => !('note' in event.data)),
      'the event log shows old events upcast',
    );
    expectValidation(await api().get(`${orders(tenant)}?filter=${encodeURIComponent('{"note":"hello"}')}`), ['filter/note']);
    const patched = expectStatus(await api().patch(`${orders(tenant)}/${order.id}`, { remark: 'bye' }), 200);
    assert.equal(patched.data.remark, 'bye');
    const history = expectStatus(await api().get(`${orders(tenant)}/${order.id}/history`), 200);
    assert.deepEqual(history.at(-1).data, { remark: 'bye' });
  });

  it('upcasts old events through every later migration, in order', async () => {
    const tenant = await salesTenant(api(), 'mod');
    const url = `${orders(tenant)}/chain-1`;
    expectStatus(await api().post(orders(tenant), { id: 'chain-1', customer: 'Ann', note: 'v1' }), 201);
    const toRemark = salesWith(
      (fields) => {
        delete fields.note;
        fields.remark = { type: 'text' };
      },
      { migrations: [{ rename: { from: 'note', to: 'remark' } }] },
    );
    expectStatus(await api().put(`/t/${tenant}/modules/sales`, toRemark), 200);
    expectStatus(await api().patch(url, { remark: 'v2' }), 200);
    const toComment = salesWith(
      (fields) => {
        delete fields.note;
        fields.comment = { type: 'text' };
      },
      { migrations: [{ rename: { from: 'remark', to: 'comment' } }] },
    );
    assert.equal(expectStatus(await api().put(`/t/${tenant}/modules/sales`, toComment), 200).version, 3);
    expectStatus(await api().patch(url, { comment: 'v3' }), 200);

    const history = expectStatus(await api().get(`${url}/history`), 200);
    assert.deepEqual(
      history.map((entry: { data: unknown }) => entry.data),
      [{ customer: 'Ann', status: 'open', comment: 'v1' }, { comment: 'v2' }, { comment: 'v3' }],
    );
    assert.deepEqual(expectStatus(await api().get(url), 200).data, { customer: 'Ann', status: 'open', comment: 'v3' });
    const first = expectStatus(await api().get(`${url}?asOf=${history[0].position}`), 200);
    assert.deepEqual(first.data, { customer: 'Ann', status: 'open', comment: 'v1' }, 'past versions are upcast too');
  });

  it('answers a repeated PUT of a definition that carried migrations as a no-op', async () => {
    const tenant = await salesTenant(api(), 'mod');
    expectStatus(await api().post(orders(tenant), { customer: 'Ann', note: 'x' }), 201);
    const dropped = salesWith((fields) => delete fields.note, { migrations: [{ drop: 'note' }] });
    const applied = expectStatus(await api().put(`/t/${tenant}/modules/sales`, dropped), 200);
    const again = await expectNothingWritten(api(), tenant, () => api().put(`/t/${tenant}/modules/sales`, dropped));
    const body = expectStatus(again, 200);
    assert.equal(body.version, applied.version);
  });
}
