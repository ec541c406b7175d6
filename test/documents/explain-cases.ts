import assert from 'node:assert/strict';
import { it } from 'node:test';
import {
  type CompiledQuery,
  compileListQuery,
  createIndexSql,
  type EntityFields,
  type ListQuerySpec,
} from '../../src/documents/query/index.js';
import type { QueryDatabase } from './databases.js';

export const EXPLAIN_FIELDS: EntityFields = {
  amount: { type: 'number' },
  customer: { type: 'string' },
  status: { type: 'enum', values: ['open', 'paid'] },
};
const TARGET = { tenant: 'acme', module: 'sales', entity: 'order', fields: EXPLAIN_FIELDS } as const;
export const ROWS = 20_000;

/** Per dialect: how to fill the table quickly and how to read a plan. */
export interface ExplainDialect {
  /** Inserts `ROWS` current documents of acme/sales/order, as many of another tenant, and old versions. */
  fill(db: QueryDatabase): Promise<void>;
  /** The plan of a query, as text that names the indexes it uses. */
  plan(db: QueryDatabase, query: CompiledQuery): Promise<string>;
}

const INDEXED = [
  { name: 'doc_amount', field: 'amount', type: 'number' },
  { name: 'doc_customer', field: 'customer', type: 'string' },
] as const;

const CASES: { name: string; spec: Omit<ListQuerySpec, keyof typeof TARGET>; index: string }[] = [
  { name: 'a range filter on a number field', spec: { filter: { amount: { $gte: 99.5 } }, limit: 50 }, index: 'doc_amount' },
  { name: 'an equality filter on a string field', spec: { filter: { customer: 'c42' }, limit: 50 }, index: 'doc_customer' },
  { name: 'a descending sort on a number field', spec: { sort: [{ field: 'amount', direction: 'desc' }], limit: 50 }, index: 'doc_amount' },
  {
    name: 'an ascending sort on a string field',
    spec: { sort: [{ field: 'customer', direction: 'asc' }], limit: 50 },
    index: 'doc_customer',
  },
  {
    name: 'the next page of a string sort (keyset)',
    spec: { sort: [{ field: 'customer', direction: 'asc' }], limit: 50, after: { values: ['c2500'], id: 'id002500' } },
    index: 'doc_customer',
  },
  { name: 'a prefix filter on a string field', spec: { filter: { customer: { $startsWith: 'c123' } }, limit: 50 }, index: 'doc_customer' },
];

/** Declared indexes are used by filters and sorts on their field (checked on the planner's own plan). */
export function explainCases(explain: ExplainDialect, open: () => Promise<QueryDatabase>, plans: Map<string, string>): void {
  let db: QueryDatabase;
  it(`fills ${ROWS} documents and creates the declared indexes`, async () => {
    db = await open();
    await explain.fill(db);
    for (const index of INDEXED) await db.exec(createIndexSql({ ...TARGET, ...index }, db.dialect));
    await db.exec('ANALYZE');
  });
  for (const { name, spec, index } of CASES) {
    it(`uses the field's index for ${name}`, async () => {
      const plan = await explain.plan(db, compileListQuery({ ...TARGET, ...spec }, db.dialect));
      plans.set(name, plan);
      assert.match(plan, new RegExp(index), plan);
    });
  }
  it('closes', () => db.close());
}
