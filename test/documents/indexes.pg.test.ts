import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { ensurePostgresIndex } from '../../src/documents/indexes.js';
import { createIndexSql } from '../../src/documents/query/index.js';
import { indexName } from '../../src/documents/query/indexes.js';
import { testDatabases } from '../support/postgres.js';
import { openPostgres, type QueryDatabase } from './databases.js';

const newDatabase = testDatabases('indexes');

/*
 * Declared indexes are built with CREATE INDEX CONCURRENTLY: writes go on while a build waits for the
 * open write transactions, concurrent declarations of one field build one index, and an INVALID index
 * left by a failed build is dropped and built again.
 */
describe('declared indexes on PostgreSQL', () => {
  let url: string;
  let db: QueryDatabase;
  let pool: pg.Pool;
  let writer: pg.Client;
  let insertions = 0;
  const insert = (client: { query(text: string): Promise<unknown> }, data: string) =>
    client.query(`INSERT INTO documents VALUES ('acme', 'sales', 'order', 'id${++insertions}', 1, '${data}', false,
      now(), now(), ${insertions}, NULL, now(), NULL)`);
  const indexes = async () =>
    (await db.exec(`SELECT c.relname AS name, i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      WHERE i.indrelid = 'documents'::regclass AND c.relname LIKE 'doc\\_shared\\_%' ORDER BY 1`)) as { name: string; valid: boolean }[];

  before(async () => {
    url = (await newDatabase()).url;
    db = await openPostgres(url);
    pool = new pg.Pool({ connectionString: url, max: 6 });
    writer = new pg.Client({ connectionString: url });
    await writer.connect();
  });
  after(async () => {
    await writer.end();
    await pool.end();
    await db.close();
  });

  it('lets writes go on while builds wait, and builds one index for concurrent declarations of a field', { timeout: 20_000 }, async () => {
    await writer.query('BEGIN');
    await insert(writer, '{"amount": 1, "customer": "a"}');
    let settled = 0;
    const builds = [
      ensurePostgresIndex(pool, 'amount', 'number'),
      ensurePostgresIndex(pool, 'amount', 'integer'),
      ensurePostgresIndex(pool, 'amount', 'number'),
      ensurePostgresIndex(pool, 'customer', 'string'),
    ].map((build) => build.finally(() => settled++));
    await new Promise((resolve) => setTimeout(resolve, 300));
    await insert(pool, '{"amount": 2, "customer": "b"}'); // would hang if a build blocked writes
    assert.equal(settled, 0, 'the builds wait for the open write transaction');
    await writer.query('COMMIT');
    await Promise.all(builds);
    assert.deepEqual(
      await indexes(),
      [
        { name: indexName({ field: 'amount', type: 'number' }, 'postgres'), valid: true },
        { name: indexName({ field: 'customer', type: 'string' }, 'postgres'), valid: true },
      ].sort((a, b) => a.name.localeCompare(b.name)),
    );
  });

  it('drops an INVALID index left by a failed build and builds it again', { timeout: 20_000 }, async () => {
    const name = indexName({ field: 'status', type: 'enum' }, 'postgres');
    await writer.query('BEGIN');
    await insert(writer, '{"status": "open"}');
    await db.exec(`SET statement_timeout = '200ms'`);
    await assert.rejects(db.exec(createIndexSql({ field: 'status', type: 'enum' }, 'postgres')), { code: '57014' });
    await db.exec('RESET statement_timeout');
    await writer.query('COMMIT');
    assert.deepEqual(
      (await indexes()).find((index) => index.name === name),
      { name, valid: false },
    );
    await ensurePostgresIndex(pool, 'status', 'string');
    assert.deepEqual(
      (await indexes()).find((index) => index.name === name),
      { name, valid: true },
    );
  });

  it('retries a failed build once, then reports the failure and lets the next declaration build', { timeout: 20_000 }, async () => {
    const name = indexName({ field: 'placedAt', type: 'datetime' }, 'postgres');
    const impatient = new pg.Pool({ connectionString: url, max: 2, options: '-c statement_timeout=300' });
    try {
      await writer.query('BEGIN');
      await insert(writer, '{"placedAt": "2024-01-01T00:00:00.000Z"}');
      await assert.rejects(ensurePostgresIndex(impatient, 'placedAt', 'datetime'), { code: '57014' });
      await writer.query('COMMIT');
      assert.deepEqual(
        (await indexes()).find((index) => index.name === name),
        { name, valid: false },
      );
      await ensurePostgresIndex(pool, 'placedAt', 'datetime');
      assert.deepEqual(
        (await indexes()).find((index) => index.name === name),
        { name, valid: true },
      );
    } finally {
      await impatient.end();
    }
  });
});
