import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FieldType } from '../../src/datamodel/types.js';
import { prefixUpperBound } from '../../src/documents/query/dialects.js';
import {
  compileAggregateQuery,
  compileListQuery,
  createIndexSql,
  decodeCursor,
  encodeCursor,
  indexExpression,
  parseGroupBy,
  parseMeasures,
  parseSelect,
  parseSort,
  readAggregateRows,
} from '../../src/documents/query/index.js';
import { indexName } from '../../src/documents/query/indexes.js';
import { ORDER, problems } from './fixtures.js';

const TARGET = { tenant: 'acme', module: 'sales', entity: 'order', fields: ORDER } as const;

describe('parseSort', () => {
  it('reads directions and keeps the order', () => {
    assert.deepEqual(parseSort('-amount, customer,id', ORDER), [
      { field: 'amount', direction: 'desc' },
      { field: 'customer', direction: 'asc' },
      { field: 'id', direction: 'asc' },
    ]);
    assert.deepEqual(parseSort('', ORDER), []);
    assert.deepEqual(parseSort(undefined, ORDER), []);
  });

  it('rejects unknown, unsortable, repeated and empty keys with their position', () => {
    assert.deepEqual(
      problems(() => parseSort('nope,-meta,tags,amount,-amount,,-', ORDER)),
      [
        { path: '/sort/0', message: 'unknown field nope' },
        { path: '/sort/1', message: 'cannot sort by a json field' },
        { path: '/sort/2', message: 'cannot sort by an array field' },
        { path: '/sort/4', message: 'amount is sorted by twice' },
        { path: '/sort/5', message: 'empty sort key' },
        { path: '/sort/6', message: 'empty sort key' },
      ],
    );
    assert.deepEqual(problems(() => parseSort('a,b,c,d,e,f,g,h,i'.replace(/\w/g, 'amount'), ORDER))[0], {
      path: '/sort',
      message: 'more than 8 keys',
    });
  });
});

describe('parseSelect', () => {
  it('returns the named data fields, all when empty; id is always returned anyway', () => {
    assert.deepEqual(parseSelect('customer, amount,id,customer', ORDER), ['customer', 'amount']);
    assert.equal(parseSelect('', ORDER), undefined);
    assert.equal(parseSelect(undefined, ORDER), undefined);
  });

  it('rejects unknown and empty names', () => {
    assert.deepEqual(
      problems(() => parseSelect('customer,nope,', ORDER)),
      [
        { path: '/fields/1', message: 'unknown field nope' },
        { path: '/fields/2', message: 'empty field name' },
      ],
    );
  });
});

describe('parseMeasures and parseGroupBy', () => {
  it('reads measures and group fields', () => {
    assert.deepEqual(parseMeasures('count,sum:amount,avg:count,min:customer,max:placedAt', ORDER), [
      { fn: 'count' },
      { fn: 'sum', field: 'amount' },
      { fn: 'avg', field: 'count' },
      { fn: 'min', field: 'customer' },
      { fn: 'max', field: 'placedAt' },
    ]);
    assert.deepEqual(parseGroupBy('status,paid', ORDER), ['status', 'paid']);
    assert.deepEqual(parseGroupBy('', ORDER), []);
  });

  it('rejects every invalid measure with its position', () => {
    assert.deepEqual(
      problems(() => parseMeasures('median:amount,sum,count:amount,sum:customer,min:paid,avg:nope,count,count', ORDER)),
      [
        { path: '/measures/0', message: 'unknown measure median; use count, sum, avg, min or max' },
        { path: '/measures/1', message: 'sum needs a field: sum:<field>' },
        { path: '/measures/2', message: 'count takes no field' },
        { path: '/measures/3', message: 'sum applies to number fields, not a string field' },
        { path: '/measures/4', message: 'min applies to number and text fields, not a boolean field' },
        { path: '/measures/5', message: 'unknown field nope' },
        { path: '/measures/7', message: 'count is listed twice' },
      ],
    );
    assert.deepEqual(
      problems(() => parseMeasures('', ORDER)),
      [{ path: '/measures', message: 'at least one measure is needed' }],
    );
  });

  it('rejects group fields that are unknown, not groupable or repeated', () => {
    assert.deepEqual(
      problems(() => parseGroupBy('nope,tags,status,status', ORDER)),
      [
        { path: '/groupBy/0', message: 'unknown field nope' },
        { path: '/groupBy/1', message: 'cannot group by an array field' },
        { path: '/groupBy/3', message: 'status is listed twice' },
      ],
    );
  });

  it('refuses more groups than the cap instead of truncating', () => {
    const spec = { ...TARGET, groupBy: ['status'], measures: [{ fn: 'count' as const }], maxGroups: 2 };
    const rows = ['a', 'b', 'c'].map((status) => ({ g0: status, m0: '1' }));
    assert.deepEqual(problems(() => readAggregateRows(rows, spec, 'postgres'))[0]?.path, '/groupBy');
    assert.deepEqual(readAggregateRows(rows.slice(0, 2), spec, 'postgres')[1], { key: { status: 'b' }, count: 1 });
    assert.match(compileAggregateQuery(spec, 'sqlite').sql, /LIMIT \?$/);
    assert.equal(compileAggregateQuery(spec, 'sqlite').params.at(-1), 3);
  });
});

describe('cursors', () => {
  const sort = parseSort('-amount,customer', ORDER);

  it('round-trip the last row of a page, null values included', () => {
    const position = { values: [12.5, null], id: 'r1' };
    assert.deepEqual(decodeCursor(encodeCursor(sort, position), sort, ORDER), position);
    assert.match(encodeCursor(sort, position), /^[A-Za-z0-9_-]+$/);
  });

  it('reject garbage, tampering and cursors made for another sort', () => {
    const cursor = encodeCursor(sort, { values: [1, 'a'], id: 'r1' });
    const tampered = Buffer.from(JSON.stringify({ s: '-amount,customer', v: ['1', 'a'], i: 'r1' })).toString('base64url');
    for (const text of ['not a cursor!', Buffer.from('{"s":').toString('base64url'), 'x'.repeat(20_000), tampered]) {
      assert.equal(problems(() => decodeCursor(text, sort, ORDER))[0]?.path, '/cursor');
    }
    assert.deepEqual(
      problems(() => decodeCursor(cursor, parseSort('amount,customer', ORDER), ORDER)),
      [{ path: '/cursor', message: 'was made for another sort order' }],
    );
  });
});

describe('compileListQuery and compileAggregateQuery', () => {
  it('report every problem of a spec at once', () => {
    const found = problems(() =>
      compileListQuery(
        {
          ...TARGET,
          filter: { nope: 1 },
          sort: [{ field: 'meta', direction: 'asc' }],
          limit: 0,
          select: ['nope'],
          asOf: { time: 'yesterday' },
        },
        'sqlite',
      ),
    );
    assert.deepEqual(
      found.map((problem) => problem.path),
      ['/filter/nope', '/sort/0', '/limit', '/fields/0', '/asOf'],
    );
    assert.equal(problems(() => compileListQuery({ ...TARGET, limit: 1, asOf: { position: -1n } }, 'postgres'))[0]?.path, '/asOf');
    assert.equal(
      problems(() => compileListQuery({ ...TARGET, limit: 1, sort: [], after: { values: [1], id: 'x' } }, 'postgres'))[0]?.path,
      '/cursor',
    );
    assert.equal(problems(() => compileAggregateQuery({ ...TARGET, groupBy: [], measures: [], maxGroups: 0 }, 'postgres')).length, 2);
  });

  it('uses placeholders of the dialect and never puts values in the text', () => {
    const spec = { ...TARGET, filter: { customer: "o'hara" }, limit: 10, asOf: { time: '2024-01-01T01:00:00+01:00' } };
    const sqlite = compileListQuery(spec, 'sqlite');
    const postgres = compileListQuery(spec, 'postgres');
    assert.equal(sqlite.sql.split('?').length - 1, sqlite.params.length);
    assert.deepEqual(
      postgres.sql.match(/\$\d+/g),
      postgres.params.map((_, i) => `$${i + 1}`),
    );
    for (const query of [sqlite, postgres]) {
      assert.ok(!query.sql.includes('hara'));
      assert.ok(query.params.includes('2024-01-01T00:00:00.000Z'), 'as-of time normalised to UTC milliseconds');
    }
  });
});

describe('index helpers', () => {
  it('publish the exact expressions the compiler uses', () => {
    assert.equal(
      indexExpression('amount', 'number', 'postgres'),
      "(CASE WHEN jsonb_typeof(data -> 'amount') = 'number' THEN (data ->> 'amount')::float8 END)",
    );
    assert.equal(indexExpression('customer', 'string', 'postgres'), `((data ->> 'customer') COLLATE "C")`);
    assert.equal(
      indexExpression('paid', 'boolean', 'postgres'),
      "(CASE WHEN jsonb_typeof(data -> 'paid') = 'boolean' THEN (data -> 'paid')::boolean END)",
    );
    assert.equal(indexExpression('id', 'id', 'postgres'), '(id COLLATE "C")');
    assert.equal(indexExpression('amount', 'integer', 'sqlite'), `json_extract(data, '$."amount"')`);
    assert.throws(() => indexExpression('meta', 'json', 'sqlite'), TypeError);
    assert.throws(() => indexExpression("x'y", 'string', 'sqlite'), TypeError);
    const spec = { ...TARGET, sort: [{ field: 'amount', direction: 'asc' as const }], limit: 5 };
    assert.ok(compileListQuery(spec, 'postgres').sql.includes(indexExpression('amount', 'number', 'postgres')));
  });

  it('create one index per field name and expression, shared by every tenant and entity', () => {
    const customer = { field: 'customer', type: 'string' as const };
    const name = indexName(customer, 'postgres');
    assert.match(name, /^doc_shared_[0-9a-f]{24}$/);
    assert.equal(
      createIndexSql(customer, 'postgres'),
      `CREATE INDEX CONCURRENTLY IF NOT EXISTS ${name} ON documents (tenant, module, entity, (((data ->> 'customer') COLLATE "C")) NULLS FIRST, (id COLLATE "C")) WHERE to_position IS NULL`,
    );
    assert.equal(
      createIndexSql(customer, 'sqlite'),
      `CREATE INDEX IF NOT EXISTS ${indexName(customer, 'sqlite')} ON documents (tenant, module, entity, (json_extract(data, '$."customer"')), id) WHERE to_position IS NULL`,
    );
    // Types with the same expression share the index; other expressions or names get their own.
    const names = (dialect: 'postgres' | 'sqlite', types: FieldType[]) =>
      new Set(types.map((type) => indexName({ field: 'f', type }, dialect)));
    assert.equal(names('postgres', ['number', 'integer']).size, 1);
    assert.equal(names('postgres', ['string', 'text', 'enum', 'date', 'datetime', 'reference']).size, 1);
    assert.equal(names('postgres', ['number', 'string', 'boolean']).size, 3);
    assert.equal(names('sqlite', ['number', 'integer', 'string', 'boolean', 'datetime']).size, 1);
    assert.notEqual(indexName(customer, 'sqlite'), indexName({ ...customer, field: 'customers' }, 'sqlite'));
    // Names are part of the databases' schema: they change only when the expression does.
    assert.equal(indexName(customer, 'sqlite'), 'doc_shared_422837161c073057c665faad');
    assert.equal(name, 'doc_shared_247b835d9c24927f95f2a7be');
    assert.throws(() => createIndexSql({ field: "x'y", type: 'string' }, 'sqlite'), TypeError);
    assert.throws(() => createIndexSql({ field: 'meta', type: 'json' }, 'postgres'), TypeError);
  });

  it('bound prefixes exactly, in code point order', () => {
    assert.equal(prefixUpperBound('ab'), 'ac');
    assert.equal(prefixUpperBound('a\uD7FF'), 'a\uE000');
    assert.equal(prefixUpperBound('a\u{10FFFF}'), 'b');
    assert.equal(prefixUpperBound('😀'), '😁');
    assert.equal(prefixUpperBound(''), undefined);
    assert.equal(prefixUpperBound('\u{10FFFF}'), undefined);
  });
});
