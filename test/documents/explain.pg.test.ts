import { after, describe } from 'node:test';
import { testDatabases } from '../support/postgres.js';
import { openPostgres, type QueryDatabase } from './databases.js';
import { type ExplainDialect, explainCases, ROWS } from './explain-cases.js';

const newDatabase = testDatabases('explain');

const DOCUMENT = `jsonb_build_object('amount', (g % 1000)::float8 / 10, 'customer', 'c' || (g % 5000), 'status', (ARRAY['open', 'paid'])[1 + g % 2])`;

const postgres: ExplainDialect = {
  async fill(db) {
    const insert = (tenant: string, version: number, to: string, module = 'sales', entity = 'order') =>
      db.exec(`INSERT INTO documents SELECT '${tenant}', '${module}', '${entity}', 'id' || lpad(g::text, 6, '0'), ${version}, ${DOCUMENT}, false,
        now(), now(), g * 2 + ${version}, ${to}, now(), NULL FROM generate_series(1, ${ROWS}) AS g`);
    await insert('acme', 1, 'g * 2 + 2');
    await insert('acme', 2, 'NULL');
    await insert('other', 2, 'NULL');
    await insert('other', 2, 'NULL', 'billing', 'invoice');
  },
  async indexes(db) {
    const rows = await db.exec(`SELECT indexname FROM pg_indexes WHERE tablename = 'documents'`);
    return rows.map((row) => String(row.indexname));
  },
  async plan(db, query) {
    const rows = await db.all({ sql: `EXPLAIN ${query.sql}`, params: query.params });
    return rows.map((row) => row['QUERY PLAN']).join('\n');
  },
};

const plans = new Map<string, string>();
after(() => {
  if (process.env.SHOW_PLANS) for (const [name, plan] of plans) console.error(`-- ${name}\n${plan}\n`);
});

describe('PostgreSQL plans of compiled queries', () => {
  explainCases(postgres, async (): Promise<QueryDatabase> => openPostgres((await newDatabase()).url), plans);
});
