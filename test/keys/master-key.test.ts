import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadOrCreateMasterKey } from '../../src/keys/index.js';

const dir = mkdtempSync(join(tmpdir(), 'bo-master-key-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('master key file', () => {
  it('creates a random 32-byte key readable by its owner only, then loads the same key', async () => {
    const path = join(dir, 'new', 'nested', 'master.key');
    const first = await loadOrCreateMasterKey(path);
    assert.equal(first.created, true);
    assert.equal(first.key.length, 32);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'new', 'nested')).mode & 0o077, 0, 'its folder is private too');
    assert.equal(readFileSync(path, 'utf8').trim(), first.key.toString('base64'));
    const again = await loadOrCreateMasterKey(path);
    assert.deepEqual(again, { key: first.key, created: false });
  });

  it('gives every caller the same key when several create it at once', async () => {
    const path = join(dir, 'raced.key');
    const results = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateMasterKey(path)));
    assert.equal(results.filter((result) => result.created).length, 1);
    for (const result of results) assert.deepEqual(result.key, results[0]?.key);
  });

  it('rejects a file that does not hold 32 bytes in base64', async () => {
    for (const [name, content] of [
      ['short', Buffer.alloc(16).toString('base64')],
      ['long', Buffer.alloc(48).toString('base64')],
      ['hex', Buffer.alloc(32, 1).toString('hex')],
      ['empty', ''],
    ]) {
      const path = join(dir, `${name}.key`);
      writeFileSync(path, content ?? '', { mode: 0o600 });
      await assert.rejects(loadOrCreateMasterKey(path), (error: unknown) => (error as { code?: string }).code === 'validation_failed');
    }
  });
});
