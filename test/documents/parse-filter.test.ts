import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FILTER_LIMITS, parseFilter } from '../../src/documents/query/index.js';
import { ORDER, problems } from './fixtures.js';

const paths = (filter: unknown) => problems(() => parseFilter(filter, ORDER)).map((problem) => problem.path);
const rejects = (filter: unknown, path: string, message: RegExp) => {
  const found = problems(() => parseFilter(filter, ORDER));
  assert.ok(
    found.some((problem) => problem.path === path && message.test(problem.message)),
    JSON.stringify(found),
  );
};

describe('parseFilter', () => {
  it('accepts every operator on the field types it applies to', () => {
    const filter = {
      customer: { $eq: 'a', $ne: 'b', $gt: 'a', $gte: 'a', $lt: 'z', $lte: 'z', $contains: 'x', $startsWith: 'A' },
      amount: { $in: [1, 2.5, null], $nin: [3] },
      paid: true,
      status: { $in: ['open'], $startsWith: 'o' },
      tags: { $contains: 'vip', $exists: true },
      meta: { $eq: null },
      id: { $startsWith: '01', $gt: '0' },
      $or: [{ count: { $lt: 3 } }, { $not: { placedAt: { $gte: '2024-01-01' } } }],
      $and: [{ note: { $not: { $contains: 'x' } } }],
    };
    assert.doesNotThrow(() => parseFilter(filter, ORDER));
  });

  it('reads the shorthand, $ne, $nin and null comparisons as their canonical nodes', () => {
    assert.equal(parseFilter({ amount: 5 }, ORDER).kind, 'compare');
    assert.deepEqual(parseFilter({ meta: null }, ORDER), {
      kind: 'exists',
      field: { name: 'meta', type: 'json', kind: 'json' },
      exists: false,
    });
    assert.equal(parseFilter({ amount: { $ne: null } }, ORDER).kind, 'not');
    assert.equal(parseFilter({ amount: { $nin: [1] } }, ORDER).kind, 'not');
    assert.deepEqual(parseFilter(undefined, ORDER), { kind: 'and', nodes: [] });
    assert.deepEqual(parseFilter('', ORDER), { kind: 'and', nodes: [] });
    assert.equal(parseFilter('{"amount":{"$gt":1}}', ORDER).kind, 'compare');
  });

  it('rejects a filter that is not an object, or not JSON', () => {
    rejects([], '/filter', /must be an object/);
    rejects(3, '/filter', /must be an object/);
    rejects('{"amount":', '/filter', /valid JSON/);
  });

  it('rejects unknown fields, including prototype keys, with their path', () => {
    rejects({ nope: 1 }, '/filter/nope', /unknown field nope/);
    rejects(JSON.parse('{"__proto__": 1}'), '/filter/__proto__', /unknown field/);
    rejects({ constructor: 1 }, '/filter/constructor', /unknown field/);
    rejects({ 'a/b~c': 1 }, '/filter/a~1b~0c', /unknown field/);
  });

  it('rejects unknown operators at the top and on fields, and nested field paths', () => {
    rejects({ $nor: [] }, '/filter/$nor', /unknown operator \$nor/);
    rejects({ amount: { $regex: 'x' } }, '/filter/amount/$regex', /unknown operator/);
    rejects({ amount: { $and: [] } }, '/filter/amount/$and', /unknown operator/);
    rejects({ meta: { inner: 1 } }, '/filter/meta/inner', /nested fields are not supported/);
    rejects({ amount: {} }, '/filter/amount', /at least one operator/);
  });

  it('rejects values of the wrong type for the field', () => {
    rejects({ amount: 'x' }, '/filter/amount', /must be a number/);
    rejects({ amount: { $gt: '5' } }, '/filter/amount/$gt', /must be a number/);
    rejects({ customer: { $lt: 5 } }, '/filter/customer/$lt', /must be a string/);
    rejects({ paid: 'yes' }, '/filter/paid', /true or false/);
    rejects({ amount: { $gt: null } }, '/filter/amount/$gt', /must be a number/);
    rejects({ customer: ['a'] }, '/filter/customer', /must be a string/);
  });

  it('rejects operators on field types they do not apply to', () => {
    rejects({ paid: { $gt: true } }, '/filter/paid/$gt', /boolean field/);
    rejects({ meta: { $gt: 1 } }, '/filter/meta/$gt', /json field/);
    rejects({ tags: { $lte: 'a' } }, '/filter/tags/$lte', /an array field/);
    rejects({ tags: ['a'] }, '/filter/tags', /use \$exists or \$contains/);
    rejects({ meta: { $in: [1] } }, '/filter/meta/$in', /json field/);
    rejects({ amount: { $contains: 1 } }, '/filter/amount/$contains', /number field/);
    rejects({ status: { $contains: 'o' } }, '/filter/status/$contains', /enum field/);
    rejects({ lines: { $contains: 'x' } }, '/filter/lines/$contains', /item type/);
    rejects({ tags: { $contains: 1 } }, '/filter/tags/$contains', /must be a string/);
    rejects({ amount: { $startsWith: '1' } }, '/filter/amount/$startsWith', /number field/);
    rejects({ customer: { $startsWith: 1 } }, '/filter/customer/$startsWith', /must be a string/);
  });

  it('compares datetimes by instant: operands in any offset become UTC milliseconds, prefixes stay text', () => {
    const node = parseFilter({ placedAt: { $in: ['2024-01-01T01:00:00+01:00', '2024-01-02'] } }, ORDER);
    assert.deepEqual(node.kind === 'in' && node.values, ['2024-01-01T00:00:00.000Z', '2024-01-02T00:00:00.000Z']);
    const prefix = parseFilter({ placedAt: { $startsWith: '2024-01' } }, ORDER);
    assert.equal(prefix.kind === 'startsWith' && prefix.value, '2024-01');
    rejects({ placedAt: { $gt: 'yesterday' } }, '/filter/placedAt/$gt', /RFC 3339/);
    rejects({ placedAt: { $nin: ['2024-01-01', '2024-13-45T00:00:00Z'] } }, '/filter/placedAt/$nin/1', /RFC 3339/);
  });

  it('checks $in, $nin and $exists operands', () => {
    rejects({ status: { $in: 'open' } }, '/filter/status/$in', /must be an array/);
    rejects({ amount: { $nin: [1, 'two', 3] } }, '/filter/amount/$nin/1', /must be a number/);
    rejects({ amount: { $in: Array.from({ length: FILTER_LIMITS.inValues + 1 }, (_, i) => i) } }, '/filter/amount/$in', /more than 500/);
    rejects({ amount: { $exists: 1 } }, '/filter/amount/$exists', /true or false/);
  });

  it('checks logical operators', () => {
    rejects({ $and: {} }, '/filter/$and', /non-empty array/);
    rejects({ $or: [] }, '/filter/$or', /non-empty array/);
    rejects({ $or: [{ amount: 1 }, 2] }, '/filter/$or/1', /must be an object/);
    rejects({ $not: [] }, '/filter/$not', /must be an object/);
    rejects({ amount: { $not: { $gt: 'x' } } }, '/filter/amount/$not/$gt', /must be a number/);
  });

  it('bounds depth, size and strings', () => {
    let deep: unknown = { amount: 1 };
    for (let i = 0; i < FILTER_LIMITS.depth; i++) deep = { $not: deep };
    rejects(deep, `/filter${'/$not'.repeat(FILTER_LIMITS.depth)}`, /deeper than 8/);
    rejects({ $or: Array.from({ length: 60 }, () => ({ amount: 1 })) }, '/filter', /more than 100 conditions/);
    const many = Array.from({ length: 5 }, (_, i) => ({ amount: { $in: Array.from({ length: 450 }, (_, j) => i * 1000 + j) } }));
    rejects({ $or: many }, '/filter', /more than 2000 values/);
    rejects({ customer: 'x'.repeat(FILTER_LIMITS.stringLength + 1) }, '/filter/customer', /longer than 1000/);
    rejects({ customer: 'a\u0000b' }, '/filter/customer', /NUL/);
    rejects({ customer: '\uD800' }, '/filter/customer', /lone surrogates/);
  });

  it('reports every problem at once', () => {
    assert.deepEqual(paths({ nope: 1, amount: 'x', status: { $foo: 1 }, $or: [{ paid: { $lt: 1 } }] }).sort(), [
      '/filter/$or/0/paid/$lt',
      '/filter/amount',
      '/filter/nope',
      '/filter/status/$foo',
    ]);
  });
});
