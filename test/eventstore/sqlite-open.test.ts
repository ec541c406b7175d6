import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';

const dir = mkdtempSync(join(tmpdir(), 'bo-open-race-'));
after(() => rmSync(dir, { recursive: true, force: true }));

it('lets two processes open the same fresh database file at the same moment', async () => {
  const store = new URL('../../src/eventstore/sqlite/store.ts', import.meta.url).href;
  const start = Date.now() + 1500; // both processes are up by then; each file gets its own 10 ms slot
  const code = `const { openSqliteDatabase } = await import(${JSON.stringify(store)});
    const failures = [];
    for (let i = 0; i < 40; i++) {
      while (Date.now() < ${start} + i * 10);
      try { openSqliteDatabase({ path: ${JSON.stringify(dir)} + '/fresh-' + i + '.db' }).close(); }
      catch (error) { failures.push(i + ': ' + error.message); }
    }
    process.stdout.write(JSON.stringify(failures));`;
  const opener = () =>
    new Promise<string[]>((resolve, reject) =>
      execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], (error, stdout) =>
        error ? reject(error) : resolve(JSON.parse(stdout) as string[]),
      ),
    );
  assert.deepEqual((await Promise.all([opener(), opener()])).flat(), []);
});
