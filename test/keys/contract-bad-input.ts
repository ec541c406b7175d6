import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { SigningAlgorithm } from '../../src/keys/index.js';
import { expectCode, type VaultContext } from './fixtures.js';

const BAD_TENANTS: unknown[] = ['', 'A', 'x', 'Acme', '../acme', 'acme corp', `a${'b'.repeat(63)}`, 'acme\n', 42, null, undefined];
const BAD_KIDS: unknown[] = ['', 'a b', 'kid/..', 'é', 'k'.repeat(65), 7, null];

export function badInputCases({ vault, tenant }: VaultContext): void {
  it('rejects a malformed tenant id on every call with validation_failed', async () => {
    for (const bad of BAD_TENANTS) {
      const id = bad as string;
      await expectCode(vault().generate(id), 'validation_failed');
      await expectCode(vault().sign(id, 'kid', Buffer.from('x')), 'validation_failed');
      await expectCode(vault().list(id), 'validation_failed');
      await expectCode(vault().destroy(id, 'kid'), 'validation_failed');
      await expectCode(vault().destroyTenant(id), 'validation_failed');
    }
  });

  it('rejects a malformed kid with validation_failed', async () => {
    const owner = tenant();
    for (const bad of BAD_KIDS) {
      await expectCode(vault().sign(owner, bad as string, Buffer.from('x')), 'validation_failed');
      await expectCode(vault().destroy(owner, bad as string), 'validation_failed');
    }
  });

  it('rejects an algorithm it does not sign with, and a signing input that is not bytes', async () => {
    const owner = tenant();
    for (const alg of ['RS256', 'none', 'es256', 'HS256'])
      await expectCode(vault().generate(owner, alg as SigningAlgorithm), 'validation_failed');
    assert.deepEqual(await vault().list(owner), [], 'nothing was generated');
    const key = await vault().generate(owner);
    for (const input of ['text', null, 42, [1, 2]])
      await expectCode(vault().sign(owner, key.kid, input as unknown as Uint8Array), 'validation_failed');
  });

  it('signs an empty and a large signing input', async () => {
    const owner = tenant();
    const key = await vault().generate(owner);
    assert.equal((await vault().sign(owner, key.kid, new Uint8Array(0))).length, 64);
    assert.equal((await vault().sign(owner, key.kid, new Uint8Array(1 << 20).fill(7))).length, 64);
  });
}
