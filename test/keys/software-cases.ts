import assert from 'node:assert/strict';
import { createPrivateKey, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { KeyRecord, KeyRecordStore, KeyVault } from '../../src/keys/index.js';
import { deriveMasterKey, open as openEnvelope } from '../../src/keys/software/envelope.js';
import { expectCode, newTenant, signJws, verifyJws } from './fixtures.js';

export interface SoftwareStorage {
  /** A vault on the storage, with this master key. */
  open(masterKey: Buffer): Promise<KeyVault>;
  /** The record store the vaults use, to read and tamper with records. */
  records: KeyRecordStore;
  /** Every byte the storage holds of the vault's table (file pages, or the rows as stored). */
  storedBytes(): Promise<Buffer>;
  close(): Promise<void>;
}

/** What the software vault adds to the contract: what is at rest, and how it refuses what it did not seal. */
export function softwareVaultCases(backend: string, storage: () => Promise<SoftwareStorage>): void {
  describe(`software key vault at rest on ${backend}`, () => {
    const masterKey = randomBytes(32);
    let store: SoftwareStorage;
    let vault: KeyVault;
    const opened: KeyVault[] = [];
    const open = async (key = masterKey) => {
      const next = await store.open(key);
      opened.push(next);
      return next;
    };

    before(async () => {
      store = await storage();
      vault = await open();
    });
    after(async () => {
      for (const each of opened) await each.close();
      await store?.close();
    });

    /** The private key of a record, opened the way the vault does (only the test holds the master key). */
    function privateKeyOf(record: KeyRecord) {
      const der = openEnvelope(deriveMasterKey(masterKey), record, record);
      const { d = '' } = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({ format: 'jwk' });
      return { der, d: Buffer.from(d, 'base64url') };
    }

    const stored = async (tenant: string, kid: string) => {
      const record = await store.records.get(tenant, kid);
      assert.ok(record, 'the record is stored');
      return record;
    };

    it('stores no plaintext key material, only the sealed envelope', async () => {
      const tenant = newTenant();
      const key = await vault.generate(tenant);
      const { der, d } = privateKeyOf(await stored(tenant, key.kid));
      assert.equal(d.length, 32);
      const bytes = await store.storedBytes();
      assert.ok(bytes.includes(Buffer.from(key.publicJwk.x, 'base64url')) || bytes.includes(key.publicJwk.x), 'the dump holds the record');
      for (const secret of [d, der, d.toString('base64url'), d.toString('base64'), d.toString('hex'), der.toString('base64')]) {
        assert.ok(!bytes.includes(secret), 'the private key appears nowhere in the storage');
      }
      const listed = JSON.stringify(await vault.list(tenant));
      assert.ok(!listed.includes(d.toString('base64url')) && !listed.includes('"d"'), 'nor in what the vault returns');
    });

    it('refuses a tampered record, and signs again once it is restored', async () => {
      const tenant = newTenant();
      const key = await vault.generate(tenant);
      const stranger = await vault.generate(newTenant());
      const original = await stored(tenant, key.kid);
      const { d } = privateKeyOf(original);
      const flip = (bytes: Buffer, at: number) => {
        const copy = Buffer.from(bytes);
        copy[at] = (copy[at] ?? 0) ^ 0x01;
        return copy;
      };
      // The sealed private key is checked when it signs; the wrapped data key and the clear fields also when it lists.
      const sealedOnly = [
        { ciphertext: flip(original.ciphertext, 5) },
        { ciphertext: flip(original.ciphertext, original.ciphertext.length - 1) },
        { iv: flip(original.iv, 3) },
      ];
      const listedToo: Partial<KeyRecord>[] = [
        { wrappedKey: flip(original.wrappedKey, 20) },
        { wrappedKey: flip(original.wrappedKey, 0) },
        { alg: 'ES384' as KeyRecord['alg'] },
        { format: 2 },
        { publicJwk: stranger.publicJwk },
        { publicJwk: { ...original.publicJwk, y: stranger.publicJwk.y } },
        { createdAt: new Date(original.createdAt.getTime() - 1) },
      ];
      for (const change of [...sealedOnly, ...listedToo]) {
        await store.records.put({ ...original, ...change });
        const error = await expectCode(vault.sign(tenant, key.kid, Buffer.from('x')), 'internal');
        const shown = JSON.stringify({ message: error.message, details: (error as { details?: unknown }).details });
        assert.ok(!shown.includes(d.toString('base64url')) && !shown.includes(d.toString('hex')), 'the error shows no key');
        if (listedToo.includes(change)) await expectCode(vault.list(tenant), 'internal');
      }
      await store.records.put(original);
      await verifyJws(await signJws(vault, tenant, key.kid, {}), key);
      assert.deepEqual(await vault.list(tenant), [key]);
    });

    it('publishes the public key it sealed, whatever else the stored JWK says', async () => {
      const tenant = newTenant();
      const key = await vault.generate(tenant);
      const original = await stored(tenant, key.kid);
      await store.records.put({
        ...original,
        publicJwk: { ...original.publicJwk, use: 'enc', kid: 'other', d: 'planted' } as unknown as KeyRecord['publicJwk'],
      });
      assert.deepEqual(await vault.list(tenant), [key]);
    });

    it('refuses a record moved to another tenant or another kid', async () => {
      const [tenant, thief] = [newTenant(), newTenant()];
      const key = await vault.generate(tenant);
      const victim = await vault.generate(tenant);
      const original = await stored(tenant, key.kid);
      await store.records.put({ ...original, tenant: thief });
      await expectCode(vault.sign(thief, key.kid, Buffer.from('x')), 'internal');
      await store.records.put({ ...original, kid: victim.kid });
      await expectCode(vault.sign(tenant, victim.kid, Buffer.from('x')), 'internal');
      await store.records.deleteTenant(thief);
    });

    it('fails at first use with a clear error when the master key is not the one that sealed the keys', async () => {
      await vault.generate(newTenant());
      const wrong = await open(randomBytes(32));
      const error = await expectCode(wrong.list(newTenant()), 'unavailable');
      assert.match(error.message, /master key/);
      await expectCode(wrong.ping(), 'unavailable');
      await expectCode(wrong.generate(newTenant()), 'unavailable');
      await vault.ping();
    });

    it('refuses a record sealed under another master key when it signs', async () => {
      const tenant = newTenant();
      const key = await vault.generate(tenant);
      const record = await stored(tenant, key.kid);
      await store.records.put({ ...record, masterKeyId: 'feedfacecafebeef' });
      const error = await expectCode(vault.sign(tenant, key.kid, Buffer.from('x')), 'unavailable');
      assert.match(error.message, /master key/);
      await store.records.put(record);
    });

    it('rejects a master key that is not 32 bytes', async () => {
      for (const key of [Buffer.alloc(0), randomBytes(16), randomBytes(33)]) {
        await assert.rejects(
          () => store.open(key),
          (error: unknown) => (error as { code?: string }).code === 'validation_failed',
        );
      }
    });
  });
}
