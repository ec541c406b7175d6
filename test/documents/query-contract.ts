import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import {
  type AggregateQuerySpec,
  compileAggregateQuery,
  compileListQuery,
  type DocumentRow,
  decodeCursor,
  type ListQuerySpec,
  MAX_LIMIT,
  readAggregateRows,
  readListPage,
} from '../../src/documents/query/index.js';
import * as arb from './arbitraries.js';
import type { QueryDatabase, StoredVersion } from './databases.js';
import { compareValues, FIELDS, project, type RefDocument, referenceAggregate, referenceList } from './reference.js';

export const TARGET = { tenant: 'acme', module: 'sales', entity: 'order', fields: FIELDS } as const;
const RUNS = Number(process.env.QUERY_PROPERTY_RUNS ?? 100);

/** Current versions of the documents, plus the same documents in another tenant and another entity. */
export function stored(docs: readonly RefDocument[]): StoredVersion[] {
  return docs.flatMap((doc, i) => {
    const version = arb.storedVersion(doc.id, 1, doc.data, i + 1);
    return [version, { ...version, tenant: 'other' }, { ...version, entity: 'invoice', data: {} }];
  });
}

/** Follows nextCursor from the first page to the last; returns every item in order. */
export async function walk(db: QueryDatabase, spec: Omit<ListQuerySpec, 'after'>, maxPages: number): Promise<DocumentRow[]> {
  const items: DocumentRow[] = [];
  let after: ListQuerySpec['after'];
  for (let page = 0; page <= maxPages; page++) {
    const full = { ...spec, ...(after ? { after } : {}) };
    const result = readListPage(await db.all(compileListQuery(full, db.dialect)), full, db.dialect);
    items.push(...result.items);
    if (!result.nextCursor) return items;
    after = decodeCursor(result.nextCursor, spec.sort ?? [], spec.fields);
  }
  throw new Error(`more than ${maxPages} pages`);
}

function assertClose(actual: unknown, expected: unknown, scale: number, label: string): void {
  if (typeof expected !== 'number' || typeof actual !== 'number') {
    assert.deepStrictEqual(actual, expected, label);
    return;
  }
  const tolerance = 1e-12 * scale + 1e-300;
  assert.ok(Math.abs(actual - expected) <= tolerance, `${label}: ${actual} vs ${expected} (tolerance ${tolerance})`);
}

function magnitude(docs: readonly RefDocument[]): number {
  const values = docs.flatMap((doc) => [doc.data.n, doc.data.i]).filter((value): value is number => typeof value === 'number');
  return Math.max(1, ...values.map(Math.abs)) * Math.max(1, docs.length);
}

/** Aggregated sums overflow double precision (PostgreSQL then fails); keep test values below that. */
const moderate = (docs: RefDocument[]) =>
  docs.map((doc) => ({ ...doc, data: Math.abs(Number(doc.data.n ?? 0)) > 1e300 ? { ...doc.data, n: 1 } : doc.data }));

/** The same cases on every database: results must equal the reference evaluator's. */
export function queryContract(backend: string, open: () => Promise<QueryDatabase>): void {
  describe(`query compiler on ${backend}`, () => {
    let db: QueryDatabase;
    before(async () => {
      db = await open();
    });
    after(() => db.close());

    it('pages through filtered, sorted, projected documents exactly like the reference', async () => {
      const property = fc.asyncProperty(
        arb.documents,
        arb.filter,
        arb.sort,
        arb.select,
        fc.integer({ min: 1, max: 6 }),
        async (docs, filter, sort, select, limit) => {
          await db.load(stored(docs));
          const items = await walk(db, { ...TARGET, filter, sort, limit, ...(select ? { select } : {}) }, docs.length + 1);
          const expected = referenceList(docs, filter, sort);
          assert.deepStrictEqual(
            items.map((item) => item.id),
            expected.map((doc) => doc.id),
          );
          assert.deepStrictEqual(
            items.map((item) => item.data),
            expected.map((doc) => project(doc.data, select)),
          );
        },
      );
      await fc.assert(property, { numRuns: RUNS });
    });

    it('aggregates groups exactly like the reference, sums and averages within rounding', async () => {
      const property = fc.asyncProperty(
        arb.documents.map(moderate),
        arb.filter,
        arb.groupBy,
        arb.measures,
        async (docs, filter, groupBy, measures) => {
          await db.load(stored(docs));
          const spec: AggregateQuerySpec = { ...TARGET, filter, groupBy, measures };
          const groups = readAggregateRows(await db.all(compileAggregateQuery(spec, db.dialect)), spec, db.dialect);
          const expected = referenceAggregate(docs, filter, groupBy, measures);
          assert.deepStrictEqual(
            groups.map((group) => group.key),
            expected.map((group) => group.key),
          );
          groups.forEach((group, g) => {
            for (const [name, value] of Object.entries(group)) assertClose(value, expected[g]?.[name], magnitude(docs), name);
          });
        },
      );
      await fc.assert(property, { numRuns: RUNS });
    });

    it('reads the version valid as of a position or a time, and the current one without as-of', async () => {
      const property = fc.asyncProperty(arb.histories, fc.nat(), async (history, seed) => {
        await db.load(history.versions);
        const at = seed % (history.head + 2);
        for (const asOf of [{ position: BigInt(at) }, { time: arb.timeAt(at) }, undefined]) {
          const spec: ListQuerySpec = { ...TARGET, limit: MAX_LIMIT, ...(asOf ? { asOf } : {}) };
          const page = readListPage(await db.all(compileListQuery(spec, db.dialect)), spec, db.dialect);
          const valid = (v: StoredVersion) =>
            asOf ? v.fromPosition <= at && (v.toPosition === null || v.toPosition > at) : v.toPosition === null;
          const expected = history.versions.filter((v) => valid(v) && v.data !== null).sort((a, b) => compareValues(a.id, b.id));
          assert.deepStrictEqual(page.items, expected.map(asRow));
        }
      });
      await fc.assert(property, { numRuns: RUNS });
    });

    it('treats SQL-looking values as data and never lets a field name reach SQL', async () => {
      const evil = "x'); DROP TABLE documents; --";
      const docs = [
        { id: evil, data: { s: evil, t: "' OR 1=1 --" } },
        { id: 'b', data: { s: 'plain', t: 'x' } },
      ];
      await db.load(stored(docs));
      const ids = async (filter: unknown) => (await walk(db, { ...TARGET, filter, limit: 10 }, 5)).map((item) => item.id);
      assert.deepStrictEqual(await ids({ s: evil }), [evil]);
      assert.deepStrictEqual(await ids({ t: { $startsWith: "' OR" } }), [evil]);
      assert.deepStrictEqual(await ids({ s: { $in: ["' OR '1'='1"] } }), []);
      assert.deepStrictEqual(await ids({ id: { $gt: "' OR 1=1" } }), ['b', evil]);
      assert.ok(!compileListQuery({ ...TARGET, filter: { s: evil }, limit: 1 }, db.dialect).sql.includes('DROP'));
      assert.throws(() => compileListQuery({ ...TARGET, filter: { "s') OR 1=1 --": 1 }, limit: 1 }, db.dialect), /Invalid query/);
      assert.throws(() =>
        compileListQuery({ ...TARGET, sort: [{ field: 's; DROP TABLE documents', direction: 'asc' }], limit: 1 }, db.dialect),
      );
      assert.equal((await walk(db, { ...TARGET, limit: 10 }, 5)).length, 2);
    });
  });
}

function asRow(v: StoredVersion): DocumentRow {
  return {
    id: v.id,
    version: v.version,
    data: v.data ?? {},
    createdAt: v.createdAt,
    updatedAt: v.updatedAt,
    position: String(v.fromPosition),
  };
}
