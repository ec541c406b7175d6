import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'bo-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function cli(...args: string[]) {
  return run(process.execPath, ['--import', 'tsx', 'src/platform/main.ts', ...args], {
    env: { ...process.env, BACKOFFICE_DATA_DIR: dir, BACKOFFICE_LOG_LEVEL: 'error' },
  });
}

async function cliFails(...args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    await cli(...args);
  } catch (error) {
    const failure = error as { code: number; stderr: string };
    return { code: failure.code, stderr: failure.stderr };
  }
  assert.fail(`${args.join(' ')} succeeded`);
}

/** Every current document of a tenant, without the columns a new log necessarily changes. */
function documentsOf(tenant: string) {
  const db = new Database(join(dir, 'backoffice.db'), { readonly: true });
  try {
    return db
      .prepare(
        `SELECT module, entity, id, version, data, deleted FROM documents WHERE tenant = ? AND to_position IS NULL ORDER BY module, entity, id`,
      )
      .all(tenant);
  } finally {
    db.close();
  }
}

function allVersions() {
  const db = new Database(join(dir, 'backoffice.db'), { readonly: true });
  try {
    return db.prepare('SELECT * FROM documents ORDER BY tenant, module, entity, id, version').all();
  } finally {
    db.close();
  }
}

describe('command line', () => {
  before(async () => {
    const { stdout } = await cli('modules', 'apply', 'examples/sales.json', '--tenant', 'acme');
    assert.match(stdout, /module acme\/sales is at version 1/);
    const { createDataContext } = await import('../../src/datamodel/index.js');
    const { openStorage } = await import('../../src/platform/storage.js');
    const { unauthenticatedAdmin } = await import('../../src/http/index.js');
    const storage = await openStorage({ kind: 'sqlite', path: join(dir, 'backoffice.db') });
    const data = createDataContext({ ...storage, authenticate: unauthenticatedAdmin });
    const context = { caller: { tenant: 'acme', user: 'test', roles: ['admin'] }, correlationId: 'cli-test' };
    const scope = { tenant: 'acme', module: 'sales', entity: 'order' };
    for (let i = 0; i < 5; i++) await data.records.create(context, scope, { id: `o-${i}`, customer: `C${i}`, amount: i * 10 });
    await data.records.update(context, { ...scope, id: 'o-1' }, { amount: 99, status: 'paid' });
    await data.records.remove(context, { ...scope, id: 'o-2' });
    await storage.close();
  });

  it('applies a module file once and reports an unchanged second apply', async () => {
    const { stdout } = await cli('modules', 'apply', 'examples/sales.json', '--tenant', 'acme');
    assert.match(stdout, /version 1 \(unchanged\)/);
  });

  it('exports a tenant and imports it into another tenant with identical documents', async () => {
    const file = join(dir, 'acme.jsonl');
    const exported = await cli('export', 'acme', '--out', file);
    assert.match(exported.stdout, /exported 8 events of acme/);
    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    assert.deepEqual(
      lines.map((line) => line.type),
      ['ModuleDefined', 'OrderCreated', 'OrderCreated', 'OrderCreated', 'OrderCreated', 'OrderCreated', 'OrderUpdated', 'OrderDeleted'],
    );
    const imported = await cli('import', file, '--tenant', 'acme-copy');
    assert.match(imported.stdout, /imported 8 events into acme-copy; rebuilt 5 records of 1 modules/);
    assert.deepEqual(documentsOf('acme-copy'), documentsOf('acme'));
  });

  it('rebuilds every document from the log to exactly what the writes projected', async () => {
    const before = allVersions();
    const { stdout } = await cli('projections', 'rebuild');
    assert.match(stdout, /rebuilt 10 records of 2 modules in 2 tenants/);
    assert.deepEqual(allVersions(), before);
  });

  it('refuses an import that skips a stream version, writing nothing', async () => {
    const file = join(dir, 'broken.jsonl');
    const line = {
      streamId: 'sales.order:x',
      version: 2,
      id: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
      type: 'OrderCreated',
      schemaVersion: 1,
      data: {},
      metadata: { correlationId: 'c' },
    };
    writeFileSync(file, `${JSON.stringify(line)}\n`);
    const { code, stderr } = await cliFails('import', file, '--tenant', 'broken');
    assert.equal(code, 2);
    assert.match(stderr, /skips from version 0 to 2/);
    assert.deepEqual(documentsOf('broken'), []);
  });

  it('explains a wrong command or a missing option and exits with 2', async () => {
    assert.equal((await cliFails('frobnicate')).code, 2);
    assert.match((await cliFails('modules', 'apply', 'examples/sales.json')).stderr, /Missing --tenant/);
  });
});
