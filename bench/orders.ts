/**
 * The records the HTTP benchmarks read and write: `sales.orders`, 10 fields, ~240 bytes of JSON,
 * made deterministically from their number (bench/http.ts and bench/auth.ts use the same ones).
 */
import type { ModuleDefinition } from '../src/datamodel/types.js';

export const MODULE = 'sales';
export const ENTITY = 'orders';
export const collectionPath = (tenant: string) => `/t/${tenant}/data/${MODULE}/${ENTITY}`;

export const MODULE_DEFINITION: ModuleDefinition = {
  title: 'Sales',
  entities: {
    [ENTITY]: {
      fields: {
        customer: { type: 'string', required: true, maxLength: 200 },
        amount: { type: 'number', minimum: 0 },
        status: { type: 'enum', values: ['open', 'paid', 'shipped'], default: 'open' },
        placedAt: { type: 'datetime' },
        quantity: { type: 'integer', minimum: 1 },
        priority: { type: 'integer', minimum: 1, maximum: 5 },
        region: { type: 'enum', values: ['eu', 'us', 'apac', 'latam'] },
        channel: { type: 'string', maxLength: 50 },
        note: { type: 'text' },
        vip: { type: 'boolean' },
      },
      indexes: ['status', 'amount', 'placedAt', 'customer'],
    },
  },
};

const STATUSES = ['open', 'paid', 'shipped'];
const REGIONS = ['eu', 'us', 'apac', 'latam'];
const CHANNELS = ['web', 'mobile', 'phone', 'partner'];
const PLACED_FROM = Date.UTC(2025, 0, 1);

/** A well-mixed 32-bit hash of n, so that field values do not move in step. */
export function mix(n: number): number {
  let h = Math.imul(n ^ 0x5bd1e995, 0x9e3779b1);
  h ^= h >>> 15;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}

/** Order n: amounts uniform in [0, 1000), a third of each status, ~240 bytes of JSON. */
export function order(n: number) {
  const h = mix(n);
  return {
    customer: `Customer ${String(h % 5000).padStart(4, '0')}`,
    amount: (h % 100_000) / 100,
    status: STATUSES[n % 3] as string,
    placedAt: new Date(PLACED_FROM + n * 37_000).toISOString(),
    quantity: 1 + ((h >>> 7) % 10),
    priority: 1 + ((h >>> 11) % 5),
    region: REGIONS[(h >>> 13) % 4] as string,
    channel: CHANNELS[(h >>> 17) % 4] as string,
    note: `Order ${n}: deliver to the loading bay, call ahead; gift wrap ${(h >>> 19) % 2 === 0 ? 'yes' : 'no'}.`,
    vip: (h >>> 21) % 10 === 0,
  };
}

export const ORDER_BYTES = Buffer.byteLength(JSON.stringify(order(12_345)));

/** A random pick that differs per call and per connection, without Math.random's cost mattering. */
export function picker(ids: readonly string[]) {
  let state = 0x2545f491;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return ids[(state >>> 0) % ids.length] as string;
  };
}
