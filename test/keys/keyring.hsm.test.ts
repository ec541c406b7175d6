import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { compactVerify, createLocalJWKSet } from 'jose';
import { createKeyring, createPkcs11Vault, type Keyring, type KeyVault } from '../../src/keys/index.js';
import { expectCode, newTenant, signJws } from './fixtures.js';

/** SoftHSM2 behind `p11-kit server`, as in pkcs11.hsm.test.ts (scripts/run-tests.mjs passes the variables). */
const options = {
  module: process.env.BACKOFFICE_TEST_PKCS11_MODULE ?? '/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so',
  tokenLabel: process.env.BACKOFFICE_TEST_PKCS11_TOKEN ?? 'backoffice',
  pin: process.env.BACKOFFICE_TEST_PKCS11_PIN ?? '12345678',
};

const LIFETIME_SECONDS = 300;

describe('keyring on the PKCS#11 vault', () => {
  let vault: KeyVault;
  let keyring: Keyring;
  let time = Date.now();
  const tenant = newTenant();

  before(async () => {
    vault = await createPkcs11Vault(options);
    keyring = createKeyring({ vault, maxTokenLifetimeSeconds: LIFETIME_SECONDS, now: () => time });
  });
  after(async () => {
    await vault.destroyTenant(tenant);
    await vault.close();
  });

  const sign = async (payload: unknown) => signJws(vault, tenant, (await keyring.signingKey(tenant)).kid, payload);
  const verify = async (token: string) =>
    compactVerify(token, createLocalJWKSet({ keys: (await keyring.published(tenant)) as never }), { algorithms: ['ES256'] });

  it('rotates, signs with the promoted key, and verifies older tokens against the JWKS until their key expires', async () => {
    const [current, next] = await keyring.ensure(tenant);
    assert.deepEqual([current?.state, next?.state], ['current', 'next']);
    const before = await sign({ n: 1 });
    assert.equal((await verify(before)).protectedHeader.kid, current?.kid);

    const rotated = await keyring.rotate(tenant);
    assert.deepEqual(rotated.map(({ kid, state }) => ({ kid, state })).slice(0, 1), [{ kid: next?.kid, state: 'current' }]);
    const afterRotation = await sign({ n: 2 });
    assert.equal((await verify(afterRotation)).protectedHeader.kid, next?.kid);
    await verify(before);
    assert.deepEqual(
      (await keyring.published(tenant)).map((key) => key.kid),
      rotated.map((key) => key.kid),
    );

    // The PKCS#11 vault takes createdAt from the kid's time: move the clock past the retired key's end.
    const retired = rotated.find((key) => key.state === 'retired');
    assert.ok(retired?.publishedUntil);
    time = retired.publishedUntil.getTime();
    assert.deepEqual(await keyring.retireExpired(tenant), [current?.kid]);
    await assert.rejects(verify(before), { code: 'ERR_JWKS_NO_MATCHING_KEY' });
    await expectCode(vault.sign(tenant, current?.kid ?? '', Buffer.from('x')), 'not_found');
    await verify(await sign({ n: 3 }));
  });
});
