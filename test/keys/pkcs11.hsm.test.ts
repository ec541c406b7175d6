import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { createPkcs11Vault, type KeyVault } from '../../src/keys/index.js';
import { acquireModule, type Pkcs11Module } from '../../src/keys/pkcs11/module.js';
import { objectId, objectLabel } from '../../src/keys/pkcs11/objects.js';
import { keyVaultContract } from './contract.js';
import { expectCode, newTenant, signJws, verifyJws } from './fixtures.js';

const run = promisify(execFile);
/** Destroys a key (or a tenant's keys) through a vault of another process, as another replica would. */
const inAnotherProcess = (...args: string[]) =>
  run(process.execPath, ['--import', 'tsx', new URL('./pkcs11-destroyer.ts', import.meta.url).pathname, ...args]);

/**
 * SoftHSM2 behind `p11-kit server` (scripts/hsm.sh); the vault loads p11-kit's client module.
 * scripts/run-tests.mjs runs this file only when the server answers, and passes its variables.
 */
const options = {
  module: process.env.BACKOFFICE_TEST_PKCS11_MODULE ?? '/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so',
  tokenLabel: process.env.BACKOFFICE_TEST_PKCS11_TOKEN ?? 'backoffice',
  pin: process.env.BACKOFFICE_TEST_PKCS11_PIN ?? '12345678',
};

keyVaultContract('PKCS#11 (SoftHSM2 behind p11-kit server)', () => createPkcs11Vault(options));

describe('PKCS#11 key vault on the token', () => {
  let vault: KeyVault;
  let module: Pkcs11Module;
  const tenant = newTenant();

  before(async () => {
    vault = await createPkcs11Vault(options);
    module = await acquireModule(options.module);
  });
  after(async () => {
    await vault.destroyTenant(tenant);
    await vault.close();
    module.release();
  });

  /** Runs work on a session of the test's own, beside the vault's. */
  function inspect<T>(work: (session: Buffer) => T): T {
    const { api, pkcs11 } = module;
    const slot = api.C_GetSlotList(true).find((each) => api.C_GetTokenInfo(each).label.trimEnd() === options.tokenLabel);
    assert.ok(slot, 'the token is there');
    const session = api.C_OpenSession(slot, pkcs11.CKF_SERIAL_SESSION | pkcs11.CKF_RW_SESSION);
    try {
      return work(session);
    } finally {
      api.C_CloseSession(session);
    }
  }

  function keyObjects(session: Buffer, kid: string, objectClass: number): Buffer[] {
    const { api, pkcs11 } = module;
    api.C_FindObjectsInit(session, [
      { type: pkcs11.CKA_CLASS, value: objectClass },
      { type: pkcs11.CKA_LABEL, value: objectLabel('backoffice', tenant) },
      { type: pkcs11.CKA_ID, value: objectId(kid) },
    ]);
    try {
      return api.C_FindObjects(session, 10);
    } finally {
      api.C_FindObjectsFinal(session);
    }
  }

  it('keeps the private key on the token: sensitive, never extractable, its value unreadable', async () => {
    const key = await vault.generate(tenant);
    const { api, pkcs11 } = module;
    inspect((session) => {
      const [privateKey, more] = keyObjects(session, key.kid, pkcs11.CKO_PRIVATE_KEY);
      assert.ok(privateKey && !more, 'one private key object');
      const flags = [
        pkcs11.CKA_TOKEN,
        pkcs11.CKA_PRIVATE,
        pkcs11.CKA_SENSITIVE,
        pkcs11.CKA_ALWAYS_SENSITIVE,
        pkcs11.CKA_EXTRACTABLE,
        pkcs11.CKA_NEVER_EXTRACTABLE,
        pkcs11.CKA_SIGN,
      ];
      const values = api
        .C_GetAttributeValue(
          session,
          privateKey,
          flags.map((type) => ({ type })),
        )
        .map((attribute) => attribute.value[0]);
      assert.deepEqual(
        values,
        [1, 1, 1, 1, 0, 1, 1],
        'token, private, sensitive, always sensitive, not extractable, never extractable, sign',
      );
      assert.throws(() => api.C_GetAttributeValue(session, privateKey, [{ type: pkcs11.CKA_VALUE }]), /CKR_ATTRIBUTE_SENSITIVE/);
      assert.throws(
        () => api.C_SetAttributeValue(session, privateKey, [{ type: pkcs11.CKA_EXTRACTABLE, value: true }]),
        /CKR_ATTRIBUTE_READ_ONLY|CKR_ATTRIBUTE_VALUE_INVALID/,
        'it cannot be made extractable',
      );
    });
  });

  it('signs with the key that the token keeps, across a second session of the same process', async () => {
    const key = await vault.generate(tenant);
    const second = await createPkcs11Vault(options);
    try {
      await verifyJws(await signJws(second, tenant, key.kid, { from: 'second' }), key);
    } finally {
      await second.close();
    }
    await verifyJws(await signJws(vault, tenant, key.kid, { from: 'first' }), key);
  });

  it('stops signing with a key that another process destroyed, though it signed with it before', async () => {
    const [key, kept] = [await vault.generate(tenant), await vault.generate(tenant)];
    const shredded = newTenant();
    const doomed = await vault.generate(shredded);
    await verifyJws(await signJws(vault, tenant, key.kid, {}), key);
    await verifyJws(await signJws(vault, shredded, doomed.kid, {}), doomed);
    await inAnotherProcess(tenant, key.kid);
    await inAnotherProcess(shredded);
    await expectCode(vault.sign(tenant, key.kid, Buffer.from('x')), 'not_found');
    await expectCode(vault.sign(shredded, doomed.kid, Buffer.from('x')), 'not_found');
    assert.deepEqual(await vault.list(shredded), []);
    await verifyJws(await signJws(vault, tenant, kept.kid, {}), kept);
  });

  it('destroys both objects of a key on the token', async () => {
    const key = await vault.generate(tenant);
    await vault.destroy(tenant, key.kid);
    const { pkcs11 } = module;
    inspect((session) => {
      assert.deepEqual(keyObjects(session, key.kid, pkcs11.CKO_PRIVATE_KEY), []);
      assert.deepEqual(keyObjects(session, key.kid, pkcs11.CKO_PUBLIC_KEY), []);
    });
  });
});

describe('PKCS#11 key vault configuration', () => {
  it('refuses to open on a token that is not there', async () => {
    await expectCode(createPkcs11Vault({ ...options, tokenLabel: 'no-such-token' }), 'unavailable');
  });

  it('refuses a module that does not load', async () => {
    await expectCode(createPkcs11Vault({ ...options, module: '/nonexistent/module.so' }), 'unavailable');
  });

  it('refuses options that name neither or both of slot and token, or no PIN', async () => {
    await expectCode(createPkcs11Vault({ module: options.module, pin: options.pin }), 'validation_failed');
    await expectCode(createPkcs11Vault({ ...options, slot: 0 }), 'validation_failed');
    await expectCode(createPkcs11Vault({ ...options, pin: '' }), 'validation_failed');
  });

  it('refuses a wrong PIN without showing it, when no session of the process is logged in', async () => {
    const error = await expectCode(createPkcs11Vault({ ...options, pin: 'wrong-pin-4242' }), 'unavailable');
    assert.match(error.message, /CKR_PIN_INCORRECT/);
    assert.ok(!JSON.stringify({ message: error.message, stack: error.stack }).includes('wrong-pin-4242'));
    const vault = await createPkcs11Vault(options);
    await vault.ping();
    await vault.close();
  });
});

/** The p11-kit-remote processes that serve client connections (one per connection), by pid. */
function remoteProcesses(): Set<number> {
  const pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  const comm = (pid: string) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      return '';
    }
  };
  return new Set(pids.filter((pid) => comm(pid) === 'p11-kit-remote').map(Number));
}

describe('PKCS#11 key vault when its connection to the token breaks', () => {
  it('initialises the module again and goes on signing, in every vault of the process', async () => {
    const before = remoteProcesses();
    const vault = await createPkcs11Vault(options);
    const other = await createPkcs11Vault(options);
    const tenant = newTenant();
    try {
      const key = await vault.generate(tenant);
      const ours = [...remoteProcesses()].filter((pid) => !before.has(pid));
      assert.equal(ours.length, 1, 'this process has one connection to the server');
      process.kill(ours[0] ?? 0);
      for (let i = 0; i < 50 && remoteProcesses().has(ours[0] ?? 0); i++) await new Promise((resolve) => setTimeout(resolve, 20));
      await verifyJws(await signJws(vault, tenant, key.kid, { after: 'reconnect' }), key);
      await verifyJws(await signJws(other, tenant, key.kid, { after: 'reconnect' }), key);
      await other.ping();
      assert.deepEqual(await vault.list(tenant), [key]);
    } finally {
      await vault.destroyTenant(tenant);
      await vault.close();
      await other.close();
    }
  });
});
