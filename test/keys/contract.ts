import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { importJWK } from 'jose';
import { isAppError } from '../../src/kernel/index.js';
import { newKid } from '../../src/keys/common.js';
import { type KeyVault, KID, type PublicKeyInfo } from '../../src/keys/index.js';
import { badInputCases } from './contract-bad-input.js';
import { expectCode, newTenant, signJws, type VaultContext, verifyJws } from './fixtures.js';

/** Opens a vault on the same storage (database or token) each time it is called. */
export type OpenVault = () => Promise<KeyVault>;

/** The KeyVault contract (docs/keys.md), run unchanged on every adapter. */
export function keyVaultContract(backend: string, open: OpenVault): void {
  describe(`key vault contract on ${backend}`, () => {
    const opened: KeyVault[] = [];
    const tenants = new Set<string>();
    let vault: KeyVault;
    const openTracked = async () => {
      const next = await open();
      opened.push(next);
      return next;
    };
    const context: VaultContext = {
      vault: () => vault,
      tenant: () => {
        const tenant = newTenant();
        tenants.add(tenant);
        return tenant;
      },
    };

    before(async () => {
      vault = await openTracked();
    });
    after(async () => {
      // The token outlives the test run: leave none of this run's keys on it.
      const cleaner = await open();
      for (const tenant of tenants) await cleaner.destroyTenant(tenant);
      await cleaner.close();
      for (const each of opened) await each.close();
    });

    describe('keys', () => keyCases(context));
    describe('tenant isolation and destruction', () => isolationCases(context));
    describe('durability and concurrency', () => durabilityCases(context, openTracked));
    describe('bad input', () => badInputCases(context));
  });
}

function keyCases({ vault, tenant }: VaultContext): void {
  it('generates a P-256 key whose public JWK carries kid, alg and use and nothing private', async () => {
    const started = Date.now();
    const key = await vault().generate(tenant());
    assert.match(key.kid, KID);
    assert.equal(key.alg, 'ES256');
    assert.deepEqual(Object.keys(key.publicJwk).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    assert.deepEqual({ ...key.publicJwk, x: '', y: '' }, { kty: 'EC', crv: 'P-256', x: '', y: '', kid: key.kid, alg: 'ES256', use: 'sig' });
    for (const coordinate of [key.publicJwk.x, key.publicJwk.y]) assert.equal(Buffer.from(coordinate, 'base64url').length, 32);
    assert.ok(key.createdAt.getTime() >= started - 1000 && key.createdAt.getTime() <= Date.now() + 1000, 'createdAt is now');
    await importJWK(key.publicJwk, 'ES256');
  });

  it('gives every new key a kid of its own', async () => {
    const owner = tenant();
    const keys = await Promise.all(Array.from({ length: 8 }, () => vault().generate(owner)));
    assert.equal(new Set(keys.map((key) => key.kid)).size, 8);
  });

  it('signs a compact JWS that jose verifies with the public JWK', async () => {
    const owner = tenant();
    const key = await vault().generate(owner, 'ES256');
    const token = await signJws(vault(), owner, key.kid, { sub: 'user-1', scope: 'read' });
    assert.equal(Buffer.from(token.split('.')[2] ?? '', 'base64url').length, 64, 'a raw r||s signature');
    const { payload, protectedHeader } = await verifyJws(token, key);
    assert.deepEqual(protectedHeader, { alg: 'ES256', typ: 'JWT', kid: key.kid });
    assert.deepEqual(JSON.parse(new TextDecoder().decode(payload)), { sub: 'user-1', scope: 'read' });
  });

  it('signs the exact input: another key or another payload does not verify', async () => {
    const owner = tenant();
    const [key, other] = [await vault().generate(owner), await vault().generate(owner)];
    const token = await signJws(vault(), owner, key.kid, { n: 1 });
    await assert.rejects(verifyJws(token, other), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
    const [header, , signature] = token.split('.');
    const forged = `${header}.${Buffer.from('{"n":2}').toString('base64url')}.${signature}`;
    await assert.rejects(verifyJws(forged, key), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
  });

  it("lists a tenant's keys oldest first, as generate returned them", async () => {
    const owner = tenant();
    const keys: PublicKeyInfo[] = [];
    for (let i = 0; i < 3; i++) keys.push(await vault().generate(owner));
    assert.deepEqual(await vault().list(owner), keys);
    assert.deepEqual(await vault().list(tenant()), [], 'a tenant without keys has none');
  });

  it('answers ping while it is open', async () => {
    await vault().ping();
  });
}

function isolationCases({ vault, tenant }: VaultContext): void {
  it("rejects signing with another tenant's key as not found", async () => {
    const [alpha, beta] = [tenant(), tenant()];
    const key = await vault().generate(alpha);
    await vault().generate(beta);
    await expectCode(vault().sign(beta, key.kid, Buffer.from('x')), 'not_found');
    await expectCode(vault().destroy(beta, key.kid), 'not_found');
    assert.ok(!(await vault().list(beta)).some((each) => each.kid === key.kid), "beta does not list alpha's key");
    await verifyJws(await signJws(vault(), alpha, key.kid, {}), key);
  });

  it('rejects an unknown kid as not found', async () => {
    const owner = tenant();
    await vault().generate(owner);
    await expectCode(vault().sign(owner, newKid(), Buffer.from('x')), 'not_found');
    await expectCode(vault().destroy(owner, 'no-such-key'), 'not_found');
  });

  it('destroys one key: it no longer signs nor lists, and the other keys stay', async () => {
    const [owner, other] = [tenant(), tenant()];
    const [doomed, kept] = [await vault().generate(owner), await vault().generate(owner)];
    const neighbour = await vault().generate(other);
    await vault().destroy(owner, doomed.kid);
    await expectCode(vault().sign(owner, doomed.kid, Buffer.from('x')), 'not_found');
    await expectCode(vault().destroy(owner, doomed.kid), 'not_found');
    assert.deepEqual(await vault().list(owner), [kept]);
    await verifyJws(await signJws(vault(), owner, kept.kid, {}), kept);
    await verifyJws(await signJws(vault(), other, neighbour.kid, {}), neighbour);
  });

  it("shreds a tenant: none of its keys signs or lists, other tenants' keys survive", async () => {
    const [doomed, other] = [tenant(), tenant()];
    const keys = [await vault().generate(doomed), await vault().generate(doomed), await vault().generate(doomed)];
    const survivor = await vault().generate(other);
    await vault().destroyTenant(doomed);
    assert.deepEqual(await vault().list(doomed), []);
    for (const key of keys) await expectCode(vault().sign(doomed, key.kid, Buffer.from('x')), 'not_found');
    assert.deepEqual(await vault().list(other), [survivor]);
    await verifyJws(await signJws(vault(), other, survivor.kid, {}), survivor);
    await vault().destroyTenant(doomed);
    await vault().destroyTenant(tenant());
  });

  it('lets a tenant whose keys were shredded start again with new keys', async () => {
    const owner = tenant();
    const old = await vault().generate(owner);
    await vault().destroyTenant(owner);
    const fresh = await vault().generate(owner);
    assert.notEqual(fresh.kid, old.kid);
    assert.deepEqual(await vault().list(owner), [fresh]);
  });
}

function durabilityCases({ vault, tenant }: VaultContext, open: OpenVault): void {
  it('keeps keys across vaults: a new vault on the same storage lists and signs with them', async () => {
    const owner = tenant();
    const keys = [await vault().generate(owner), await vault().generate(owner)];
    const again = await open();
    assert.deepEqual(await again.list(owner), keys);
    for (const key of keys) await verifyJws(await signJws(again, owner, key.kid, { again: true }), key);
    await again.destroy(owner, keys[0]?.kid ?? '');
    await expectCode(vault().sign(owner, keys[0]?.kid ?? '', Buffer.from('x')), 'not_found');
    await again.close();
    await expectCode(again.sign(owner, keys[1]?.kid ?? '', Buffer.from('x')), 'unavailable');
    const third = await open();
    await verifyJws(await signJws(third, owner, keys[1]?.kid ?? '', {}), keys[1] as PublicKeyInfo);
    await third.close();
  });

  it('signs 200 requests in parallel over several tenants, every signature valid', async () => {
    const owners = [tenant(), tenant(), tenant()];
    const keys = await Promise.all(owners.map(async (owner) => ({ owner, key: await vault().generate(owner) })));
    const tokens = await Promise.all(
      Array.from({ length: 200 }, (_, i) => {
        const { owner, key } = keys[i % keys.length] as (typeof keys)[number];
        return signJws(vault(), owner, key.kid, { i }).then((token) => ({ token, key }));
      }),
    );
    const payloads = await Promise.all(tokens.map(({ token, key }) => verifyJws(token, key)));
    assert.deepEqual(
      payloads.map(({ payload }) => JSON.parse(new TextDecoder().decode(payload)).i),
      Array.from({ length: 200 }, (_, i) => i),
    );
  });

  it('generates, signs and destroys concurrently without mixing keys up', async () => {
    const owner = tenant();
    const results = await Promise.all(
      Array.from({ length: 12 }, async (_, i) => {
        const key = await vault().generate(owner);
        await verifyJws(await signJws(vault(), owner, key.kid, { i }), key);
        if (i % 3 === 0) await vault().destroy(owner, key.kid);
        return { key, kept: i % 3 !== 0 };
      }),
    );
    const listed = (await vault().list(owner)).map((key) => key.kid).sort();
    assert.deepEqual(
      listed,
      results
        .filter((result) => result.kept)
        .map((result) => result.key.kid)
        .sort(),
    );
  });

  it('fails every call with unavailable once closed', async () => {
    const closing = await open();
    const owner = tenant();
    const key = await closing.generate(owner);
    await closing.close();
    await expectCode(closing.sign(owner, key.kid, Buffer.from('x')), 'unavailable');
    await expectCode(closing.list(owner), 'unavailable');
    await expectCode(closing.generate(owner), 'unavailable');
    await closing.close();
    assert.ok(isAppError(await closing.ping().catch((error: unknown) => error), 'unavailable'));
  });
}
