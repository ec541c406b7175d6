import assert from 'node:assert/strict';
import { type Api, expectStatus, newTenant } from './client.js';

export interface ApiContext {
  api(): Api;
}

/** The contract's platforms accept bodies up to this size, so that an oversized one is cheap to send. */
export const BODY_LIMIT_BYTES = 64 * 1024;

/** The module of API.md's example, with a customer entity for the reference. */
export const SALES = {
  title: 'Sales',
  entities: {
    customer: { fields: { name: { type: 'string', required: true } } },
    order: {
      fields: {
        customer: { type: 'string', required: true, maxLength: 200 },
        amount: { type: 'number', minimum: 0 },
        status: { type: 'enum', values: ['open', 'paid', 'shipped'], default: 'open' },
        placedAt: { type: 'datetime' },
        lines: { type: 'array', items: { type: 'json' } },
        tags: { type: 'array', items: { type: 'string' } },
        note: { type: 'text' },
        owner: { type: 'reference', entity: 'sales.customer' },
        meta: { type: 'json' },
      },
      indexes: ['status', 'placedAt'],
      commands: { pay: { from: { status: 'open' }, set: { status: 'paid' }, emits: 'OrderPaid' } },
    },
  },
};

export const orders = (tenant: string) => `/t/${tenant}/data/sales/order`;

/** A new tenant with the sales module defined. */
export async function salesTenant(api: Api, label: string): Promise<string> {
  const tenant = await newTenant(api, label);
  const reply = await api.put(`/t/${tenant}/modules/sales`, SALES);
  assert.equal(expectStatus(reply, 201).version, 1);
  return tenant;
}
