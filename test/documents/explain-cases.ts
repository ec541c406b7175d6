import assert from 'node:assert/strict';
import { it } from 'node:test';
import {
  type CompiledQuery,
  compileListQuery,
  createIndexSql,
  type EntityFields,
  type ListQuerySpec,
} from '../../src/documents/query/index.js';
import { indexName } from '../../src/documents/query/indexes.js';
import type { QueryDatabase } from './databases.js';

export const EXPLAIN_FIELDS: EntityFields = {
  amount: { type: 'number' },
  customer: { type: 'string' },
  status: { type: 'enum', values: ['open', 'paid'] },
  paid: { type: 'boolean' },
};
const TARGET = { tenant: 'acme', module: 'sales', entity: 'order', fields: EXPLAIN_FIELDS } as const;
/** Another tenant's entity of another module that declares indexes on fields of the same names and kinds. */
const OTHER = { tenant: 'other', module: 'billing', entity: 'invoice', fields: EXPLAIN_FIELDS } as const;
export const ROWS = 20_000;

/** Per dialect: how to fill the table quickly and how to read a plan. */
export interface ExplainDialect {
  /**
   * Inserts `ROWS` current documents of acme/sales/order (and as many old versions), as many of
   * other/sales/order and as many of other/billing/invoice.
   */
  fill(db: QueryDatabase): Promise<void>;
  /** The plan of a query, as text that names the indexes it uses. */
  plan(db: QueryDatabase, query: CompiledQuery): Promise<string>;
  /** The names of the indexes on the documents table. */
  indexes(db: QueryDatabase): Promise<string[]>;
}

/** Each entity's declared indexes: the same field names, so both get the same shared indexes. */
const DECLARED = [
  { target: TARGET, indexes: ['amount', 'customer', 'paid'] },
  { target: OTHER, indexes: ['amount', 'customer', 'paid'] },
] as const;

const typeOf = (field: 'amount' | 'customer' | 'paid') => EXPLAIN_FIELDS[field]?.type ?? 'json';

type Target = typeof TARGET | typeof OTHER;
const CASES: { name: string; target?: Target; spec: Omit<ListQuerySpec, keyof typeof TARGET>; index: 'amount' | 'customer' }[] = [
  { name: 'a range filter on a number field', spec: { filter: { amount: { $gte: 99.5 } }, limit: 50 }, index: 'amount' },
  { name: 'an equality filter on a string field', spec: { filter: { customer: 'c42' }, limit: 50 }, index: 'customer' },
  { name: 'a descending sort on a number field', spec: { sort: [{ field: 'amount', direction: 'desc' }], limit: 50 }, index: 'amount' },
  { name: 'an ascending sort on a string field', spec: { sort: [{ field: 'customer', direction: 'asc' }], limit: 50 }, index: 'customer' },
  {
    name: 'the next page of a string sort (keyset)',
    spec: { sort: [{ field: 'customer', direction: 'asc' }], limit: 50, after: { values: ['c2500'], id: 'id002500' } },
    index: 'customer',
  },
  { name: 'a prefix filter on a string field', spec: { filter: { customer: { $startsWith: 'c123' } }, limit: 50 }, index: 'customer' },
  {
    name: 'a range filter of another tenant and entity (shared index)',
    target: OTHER,
    spec: { filter: { amount: { $gte: 99.5 } }, limit: 50 },
    index: 'amount',
  },
  {
    name: 'a descending sort of another tenant and entity (shared index)',
    target: OTHER,
    spec: { sort: [{ field: 'amount', direction: 'desc' }], limit: 50 },
    index: 'amount',
  },
  {
    name: 'an equality filter of another tenant and entity (shared index)',
    target: OTHER,
    spec: { filter: { customer: 'c42' }, limit: 50 },
    index: 'customer',
  },
];

/** Declared indexes are used by filters and sorts on their field (checked on the planner's own plan). */
export function explainCases(explain: ExplainDialect, open: () => Promise<QueryDatabase>, plans: Map<string, string>): void {
  let db: QueryDatabase;
  const name = (field: 'amount' | 'customer' | 'paid') => indexName({ field, type: typeOf(field) }, db.dialect);
  it(`fills ${ROWS} documents per entity and creates the declared indexes of two tenants' entities`, async () => {
    db = await open();
    await explain.fill(db);
    const before = await explain.indexes(db);
    for (const { indexes } of DECLARED)
      for (const field of indexes) await db.exec(createIndexSql({ field, type: typeOf(field) }, db.dialect));
    await db.exec('ANALYZE');
    const added = (await explain.indexes(db)).filter((index) => !before.includes(index));
    assert.deepEqual(added.sort(), [name('amount'), name('customer'), name('paid')].sort(), 'one index per field, not per entity');
  });
  it('lets any tenant write any value under an indexed field name (the index expressions never fail)', async () => {
    await db.exec(`INSERT INTO documents VALUES ('third', 'misc', 'thing', 'x1', 1, '{"amount": "abc", "customer": 42, "paid": "yes"}',
      false, '2024-01-01T00:00:00.000Z', '2024-01-01T00:00:00.000Z', 1000000, NULL, '2024-01-01T00:00:00.000Z', NULL)`);
    await db.exec(`INSERT INTO documents VALUES ('third', 'misc', 'thing', 'x2', 1, '{"amount": true, "customer": {"a": 1}, "paid": 1}',
      false, '2024-01-01T00:00:00.000Z', '2024-01-01T00:00:00.000Z', 1000001, NULL, '2024-01-01T00:00:00.000Z', NULL)`);
  });
  for (const { name: label, target = TARGET, spec, index } of CASES) {
    it(`uses the field's index for ${label}`, async () => {
      const plan = await explain.plan(db, compileListQuery({ ...target, ...spec }, db.dialect));
      plans.set(label, plan);
      assert.match(plan, new RegExp(name(index)), plan);
    });
  }
  it('closes', () => db.close());
}
