import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type Database from 'better-sqlite3';
import { compactVerify, createLocalJWKSet } from 'jose';
import { openSqliteDatabase } from '../../src/eventstore/sqlite/store.js';
import { byCreation } from '../../src/keys/common.js';
import {
  classifyKeys,
  createKeyring,
  createSoftwareVault,
  type Keyring,
  type KeyringOptions,
  type KeyVault,
  type PublicJwk,
  type PublicKeyInfo,
  sqliteKeyRecords,
} from '../../src/keys/index.js';
import { expectCode, newTenant, signJws } from './fixtures.js';

const LIFETIME_SECONDS = 600;
const CACHE_MS = 5000;
/** How long a retired key stays published after the key two places after it was created. */
const GRACE_MS = (LIFETIME_SECONDS + 60) * 1000 + CACHE_MS;

const dir = mkdtempSync(join(tmpdir(), 'bo-keyring-'));
let db: Database.Database;
let vault: KeyVault;

before(() => {
  db = openSqliteDatabase({ path: join(dir, 'keys.db') });
  vault = createSoftwareVault({ masterKey: Buffer.alloc(32, 3), records: sqliteKeyRecords(db) });
});
after(async () => {
  await vault.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The vault, counting the calls that go through it. */
function counted(inner: KeyVault) {
  const calls = { list: 0, generate: 0, destroy: 0 };
  const wrapped: KeyVault = {
    ...inner,
    list(tenant) {
      calls.list++;
      return inner.list(tenant);
    },
    generate(tenant, alg) {
      calls.generate++;
      return inner.generate(tenant, alg);
    },
    destroy(tenant, kid) {
      calls.destroy++;
      return inner.destroy(tenant, kid);
    },
  };
  return { vault: wrapped, calls };
}

/**
 * The file's vault, but each key's createdAt is the test clock's time when it was generated, so the
 * test decides how far apart keys are (signatures and storage stay the real vault's).
 */
function clocked(inner: KeyVault, now: () => number): KeyVault {
  const stamps = new Map<string, Date>();
  const stamp = (key: PublicKeyInfo): PublicKeyInfo => ({ ...key, createdAt: stamps.get(key.kid) ?? key.createdAt });
  return {
    ...inner,
    async generate(tenant, alg) {
      const key = await inner.generate(tenant, alg);
      stamps.set(key.kid, new Date(now()));
      return stamp(key);
    },
    list: async (tenant) => (await inner.list(tenant)).map(stamp).sort(byCreation),
  };
}

/** A keyring on the file's vault, on a clock that stands still until the test moves it. */
function setup(options: Partial<KeyringOptions> = {}) {
  let time = Date.now();
  const now = () => time;
  const stampedVault = clocked(vault, now);
  const { vault: countedVault, calls } = counted(stampedVault);
  const keyring = createKeyring({ vault: countedVault, maxTokenLifetimeSeconds: LIFETIME_SECONDS, cacheMs: CACHE_MS, now, ...options });
  return {
    keyring,
    calls,
    now,
    vault: stampedVault,
    advance(ms: number) {
      time += ms;
    },
    tenant: newTenant(),
    /** The tenant's keys as the keyring sees them, oldest first. */
    stored: (tenant: string) => stampedVault.list(tenant),
  };
}

const kids = (keys: { kid: string }[]) => keys.map((key) => key.kid);

/** Verifies a token the way a resource server does: against the tenant's JWKS as published now. */
async function verifyWithJwks(keyring: Keyring, tenant: string, token: string) {
  const jwks = createLocalJWKSet({ keys: (await keyring.published(tenant)) as PublicJwk[] as never });
  return compactVerify(token, jwks, { algorithms: ['ES256'] });
}

async function tokenFrom(keyring: Keyring, tenant: string, payload: unknown = {}): Promise<string> {
  const { kid } = await keyring.signingKey(tenant);
  return signJws(vault, tenant, kid, payload);
}

describe('keyring: states from creation order', () => {
  const at = (ms: number, kid: string): PublicKeyInfo => ({ kid, alg: 'ES256', createdAt: new Date(ms), publicJwk: {} as PublicJwk });

  it('makes the newest key next, the one before current, the older ones retired until two keys later plus the grace', () => {
    const keys = [at(0, 'a'), at(100, 'b'), at(200, 'c'), at(300, 'd'), at(400, 'e')];
    const states = (now: number) => classifyKeys(keys, now, 1000).map(({ key, state }) => `${key.kid}:${state}`);
    assert.deepEqual(states(500), ['a:retired', 'b:retired', 'c:retired', 'd:current', 'e:next']);
    assert.deepEqual(states(1200), ['a:expired', 'b:retired', 'c:retired', 'd:current', 'e:next'], 'a ends at c + 1000');
    assert.deepEqual(states(1400), ['a:expired', 'b:expired', 'c:expired', 'd:current', 'e:next']);
    const [a, , , d] = classifyKeys([...keys].reverse(), 500, 1000);
    assert.deepEqual(a?.publishedUntil, new Date(1200), 'sorted by creation whatever the input order');
    assert.deepEqual(d?.signsFrom, new Date(400), 'the current key signs since the next one was created');
  });

  it('lets a lone key sign, and a tenant without keys has none', () => {
    assert.deepEqual(
      classifyKeys([at(5, 'a')], 10, 1000).map((each) => each.state),
      ['current'],
    );
    assert.deepEqual(classifyKeys([], 10, 1000), []);
  });
});

describe('keyring on the software vault', () => {
  it('gives a new tenant a current and a next key, and leaves a tenant that has them alone', async () => {
    const { keyring, calls, tenant, stored } = setup();
    const described = await keyring.ensure(tenant);
    const keys = await stored(tenant);
    assert.equal(keys.length, 2);
    assert.deepEqual(
      described.map(({ kid, state }) => ({ kid, state })),
      [
        { kid: keys[0]?.kid, state: 'current' },
        { kid: keys[1]?.kid, state: 'next' },
      ],
    );
    await keyring.ensure(tenant);
    assert.equal(calls.generate, 2);
    assert.deepEqual(await stored(tenant), keys);
  });

  it('tops up a tenant that has one key: the key signs, a next key is added', async () => {
    const { keyring, tenant, vault } = setup();
    const lone = await vault.generate(tenant);
    assert.equal((await keyring.signingKey(tenant)).kid, lone.kid);
    const described = await keyring.ensure(tenant);
    assert.deepEqual(
      described.map((key) => key.state),
      ['current', 'next'],
    );
    assert.equal(described[0]?.kid, lone.kid);
  });

  it('signs with the current key and publishes the next key without signing with it', async () => {
    const { keyring, tenant, stored } = setup();
    await keyring.ensure(tenant);
    const [current, next] = await stored(tenant);
    assert.deepEqual(await keyring.signingKey(tenant), { kid: current?.kid, alg: 'ES256' });
    assert.deepEqual(await keyring.published(tenant), [current?.publicJwk, next?.publicJwk]);
    const token = await tokenFrom(keyring, tenant, { sub: 'alice' });
    const { protectedHeader } = await verifyWithJwks(keyring, tenant, token);
    assert.equal(protectedHeader.kid, current?.kid);
  });

  it('rotates: the next key signs at once, a new next key is published, the old current key is retired', async () => {
    const { keyring, tenant, stored } = setup();
    await keyring.ensure(tenant);
    const described = await keyring.rotate(tenant);
    const [old, promoted, fresh] = await stored(tenant);
    assert.ok(old && promoted && fresh);
    assert.deepEqual(described, [
      { kid: promoted.kid, alg: 'ES256', state: 'current', createdAt: promoted.createdAt, signsFrom: fresh.createdAt },
      { kid: fresh.kid, alg: 'ES256', state: 'next', createdAt: fresh.createdAt },
      {
        kid: old.kid,
        alg: 'ES256',
        state: 'retired',
        createdAt: old.createdAt,
        publishedUntil: new Date(fresh.createdAt.getTime() + GRACE_MS),
      },
    ]);
    assert.equal((await keyring.signingKey(tenant)).kid, promoted.kid, 'the cache was dropped');
    assert.deepEqual(await keyring.published(tenant), [promoted.publicJwk, fresh.publicJwk, old.publicJwk]);
    assert.deepEqual(await keyring.describe(tenant), described);
  });

  it('describes keys without any key material', async () => {
    const { keyring, tenant, stored } = setup();
    await keyring.ensure(tenant);
    await keyring.rotate(tenant);
    const described = await keyring.describe(tenant);
    assert.deepEqual(
      described.map((key) => Object.keys(key).sort()),
      [
        ['alg', 'createdAt', 'kid', 'signsFrom', 'state'],
        ['alg', 'createdAt', 'kid', 'state'],
        ['alg', 'createdAt', 'kid', 'publishedUntil', 'state'],
      ],
    );
    const text = JSON.stringify(described);
    for (const key of await stored(tenant)) assert.ok(!text.includes(key.publicJwk.x) && !text.includes(key.publicJwk.y));
  });

  it('keeps verifying a token of the old current key until the longest token lifetime has passed, then stops publishing the key', async () => {
    const { keyring, tenant, advance, stored } = setup();
    await keyring.ensure(tenant);
    const token = await tokenFrom(keyring, tenant, { before: 'rotation' });
    const [old] = await stored(tenant);
    await keyring.rotate(tenant);
    assert.notEqual((await keyring.signingKey(tenant)).kid, old?.kid);
    await verifyWithJwks(keyring, tenant, token);
    advance(LIFETIME_SECONDS * 1000);
    await verifyWithJwks(keyring, tenant, token);
    advance(GRACE_MS - LIFETIME_SECONDS * 1000 - 1);
    await verifyWithJwks(keyring, tenant, token);
    advance(1);
    assert.ok(!kids(await keyring.published(tenant)).includes(old?.kid ?? ''), 'expired: no longer published');
    await assert.rejects(verifyWithJwks(keyring, tenant, token), { code: 'ERR_JWKS_NO_MATCHING_KEY' });
    assert.ok(!kids(await keyring.describe(tenant)).includes(old?.kid ?? ''));
  });

  it('destroys expired keys in the vault, and only them', async () => {
    const { keyring, tenant, advance, stored } = setup();
    await keyring.ensure(tenant);
    await keyring.rotate(tenant);
    advance(60_000);
    await keyring.rotate(tenant);
    const [first, second, ...kept] = await stored(tenant);
    assert.ok(first && second);
    assert.deepEqual(await keyring.retireExpired(tenant), [], 'nothing has expired yet');
    advance(GRACE_MS - 60_000);
    assert.deepEqual(await keyring.retireExpired(tenant), [first.kid]);
    assert.deepEqual(kids(await stored(tenant)), kids([second, ...kept]));
    await expectCode(vault.sign(tenant, first.kid, Buffer.from('x')), 'not_found');
    assert.deepEqual(await keyring.retireExpired(tenant), []);
    advance(60_000);
    assert.deepEqual(await keyring.retireExpired(tenant), [second.kid]);
    assert.deepEqual(kids(await stored(tenant)), kids(kept));
    assert.deepEqual(
      (await keyring.describe(tenant)).map((key) => key.state),
      ['current', 'next'],
    );
    await verifyWithJwks(keyring, tenant, await tokenFrom(keyring, tenant));
  });

  it('skips a key that another replica destroyed first', async () => {
    const { keyring, tenant, advance, stored } = setup();
    await keyring.ensure(tenant);
    await keyring.rotate(tenant);
    await keyring.rotate(tenant);
    const [first, second] = await stored(tenant);
    advance(GRACE_MS + 1000);
    await vault.destroy(tenant, first?.kid ?? '');
    assert.deepEqual(await keyring.retireExpired(tenant), [second?.kid]);
  });

  it('serves the signing key and the JWKS from a cache, listing the vault again after cacheMs', async () => {
    const { keyring, tenant, calls, advance } = setup();
    await keyring.ensure(tenant);
    calls.list = 0;
    await Promise.all([keyring.signingKey(tenant), keyring.signingKey(tenant), keyring.published(tenant)]);
    await keyring.signingKey(tenant);
    assert.equal(calls.list, 1, 'concurrent and later calls share one listing');
    advance(CACHE_MS - 1);
    await keyring.published(tenant);
    assert.equal(calls.list, 1);
    advance(1);
    await keyring.signingKey(tenant);
    assert.equal(calls.list, 2);
  });

  it('lets another replica see a rotation once its cache expires', async () => {
    const { keyring, tenant, advance, now, stored, vault } = setup();
    const replica = createKeyring({ vault, maxTokenLifetimeSeconds: LIFETIME_SECONDS, cacheMs: CACHE_MS, now });
    await keyring.ensure(tenant);
    const [old, next] = await stored(tenant);
    assert.equal((await replica.signingKey(tenant)).kid, old?.kid);
    await keyring.rotate(tenant);
    assert.equal((await replica.signingKey(tenant)).kid, old?.kid, 'still cached');
    advance(CACHE_MS);
    assert.equal((await replica.signingKey(tenant)).kid, next?.kid);
    assert.deepEqual(kids(await replica.published(tenant)), kids(await keyring.published(tenant)));
  });

  it('shares one promise among concurrent ensure calls of a tenant, and creates two keys', async () => {
    const { keyring, calls, tenant, stored } = setup();
    const other = newTenant();
    const pending = Array.from({ length: 20 }, (_, i) => keyring.ensure(i % 4 === 0 ? other : tenant));
    const results = await Promise.all(pending);
    assert.equal(pending[1], pending[2], 'one promise for the tenant');
    assert.equal(calls.generate, 4, 'two keys for each tenant');
    assert.equal((await stored(tenant)).length, 2);
    assert.equal((await stored(other)).length, 2);
    for (const [i, result] of results.entries()) assert.deepEqual(result, i % 4 === 0 ? results[0] : results[1]);
  });

  it('runs the rotations of one tenant one after the other', async () => {
    const { keyring, tenant, stored } = setup();
    await keyring.ensure(tenant);
    const results = await Promise.all([keyring.rotate(tenant), keyring.ensure(tenant), keyring.rotate(tenant), keyring.rotate(tenant)]);
    const keys = await stored(tenant);
    assert.equal(keys.length, 5);
    const nexts = [results[0], results[2], results[3]].map((result) => result?.find((key) => key.state === 'next')?.kid);
    assert.deepEqual(nexts, kids(keys.slice(2)), 'each rotation saw the one before it');
    assert.deepEqual(
      (await keyring.describe(tenant)).map((key) => key.state),
      ['current', 'next', 'retired', 'retired', 'retired'],
    );
  });

  it('rotates when due: only once the newest key is as old as the interval', async () => {
    const { keyring, tenant, advance } = setup();
    assert.equal(await keyring.rotateIfDue(tenant, 3600), undefined, 'a tenant without keys is left alone');
    await keyring.ensure(tenant);
    assert.equal(await keyring.rotateIfDue(tenant, 3600), undefined);
    advance(3599_000);
    assert.equal(await keyring.rotateIfDue(tenant, 3600), undefined);
    advance(2000);
    const rotated = await keyring.rotateIfDue(tenant, 3600);
    assert.deepEqual(
      rotated?.map((key) => key.state),
      ['current', 'next', 'retired'],
    );
    assert.equal(await keyring.rotateIfDue(tenant, 3600), undefined, 'the new key is not due');
    await expectCode(keyring.rotateIfDue(tenant, 0), 'validation_failed');
  });

  it('answers not_found for the signing key of a tenant without keys, and publishes nothing', async () => {
    const { keyring, tenant } = setup();
    await expectCode(keyring.signingKey(tenant), 'not_found');
    assert.deepEqual(await keyring.published(tenant), []);
    assert.deepEqual(await keyring.describe(tenant), []);
  });

  it('forgets a deleted tenant: its cached keys are dropped', async () => {
    const { keyring, tenant } = setup();
    await keyring.ensure(tenant);
    await keyring.signingKey(tenant);
    await vault.destroyTenant(tenant);
    assert.ok(await keyring.signingKey(tenant), 'cached');
    keyring.forget(tenant);
    await expectCode(keyring.signingKey(tenant), 'not_found');
    assert.deepEqual(await keyring.published(tenant), []);
  });

  it('rejects a malformed tenant id and invalid options, listing every violation', async () => {
    const { keyring, vault } = setup();
    await expectCode(keyring.signingKey('../etc'), 'validation_failed');
    await expectCode(keyring.ensure(''), 'validation_failed');
    assert.throws(
      () => createKeyring({ vault, maxTokenLifetimeSeconds: 0, clockToleranceSeconds: -1, cacheMs: Number.NaN }),
      (error: { code?: string; details?: { errors?: { path: string }[] } }) =>
        error.code === 'validation_failed' &&
        JSON.stringify(error.details?.errors?.map((each) => each.path)) === '["maxTokenLifetimeSeconds","clockToleranceSeconds","cacheMs"]',
    );
  });
});
