import { after, describe } from 'node:test';
import { openSqlite } from './databases.js';
import { type ExplainDialect, explainCases, ROWS } from './explain-cases.js';

const DOCUMENT = `json_object('amount', (n % 1000) / 10.0, 'customer', 'c' || (n % 5000), 'status', CASE n % 2 WHEN 0 THEN 'open' ELSE 'paid' END)`;
const NOW = `'2024-01-01T00:00:00.000Z'`;

const sqlite: ExplainDialect = {
  async fill(db) {
    const insert = (tenant: string, version: number, to: string, module = 'sales', entity = 'order') =>
      db.exec(`INSERT INTO documents
        SELECT '${tenant}', '${module}', '${entity}', 'id' || printf('%06d', n), ${version}, ${DOCUMENT}, 0, ${NOW}, ${NOW}, n * 2 + ${version}, ${to}, ${NOW}, NULL
        FROM (WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < ${ROWS}) SELECT n FROM g)`);
    await insert('acme', 1, 'n * 2 + 2');
    await insert('acme', 2, 'NULL');
    await insert('other', 2, 'NULL');
    await insert('other', 2, 'NULL', 'billing', 'invoice');
  },
  async indexes(db) {
    const rows = await db.exec("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'documents'");
    return rows.map((row) => String(row.name));
  },
  async plan(db, query) {
    const rows = await db.all({ sql: `EXPLAIN QUERY PLAN ${query.sql}`, params: query.params });
    return rows.map((row) => row.detail).join('\n');
  },
};

const plans = new Map<string, string>();
after(() => {
  if (process.env.SHOW_PLANS) for (const [name, plan] of plans) console.error(`-- ${name}\n${plan}\n`);
});

describe('SQLite plans of compiled queries', () => {
  explainCases(sqlite, async () => openSqlite(), plans);
});
