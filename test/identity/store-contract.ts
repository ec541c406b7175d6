import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AuditEntry, Credential, IdentityStore } from '../../src/identity/store/index.js';
import { isAppError } from '../../src/kernel/index.js';
import { sessionCases } from './store-contract-sessions.js';
import { hours, LOGIN_AT, later, newTenant, newToken, type OpenIdentityStore, type StoreContext } from './store-fixtures.js';

/** The IdentityStore port (src/identity/store/port.ts), run unchanged on every adapter. */
export function identityStoreContract(backend: string, open: OpenIdentityStore): void {
  describe(`identity store contract on ${backend}`, () => {
    let store: IdentityStore;
    let close: () => Promise<void>;
    before(async () => {
      ({ store, close } = await open());
    });
    after(async () => {
      await close();
    });
    const context: StoreContext = { store: () => store, tenant: newTenant };

    describe('credentials', () => credentialCases(context));
    describe('sessions', () => sessionCases(context));
    describe('login attempts', () => attemptCases(context));
    describe('audit log', () => auditCases(context));
    describe('tenant deletion', () => deletionCases(context));
  });
}

const credential = (tenant: string, overrides: Partial<Credential> = {}): Credential => ({
  tenant,
  kind: 'user',
  subject: 'alice',
  hash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo',
  changeRequired: true,
  updatedAt: new Date('2030-01-01T12:34:56.789Z'),
  ...overrides,
});

function credentialCases({ store, tenant }: StoreContext): void {
  it('stores a credential and reads it back exactly', async () => {
    const stored = credential(tenant());
    await store().credentials.put(stored);
    assert.deepEqual(await store().credentials.get(stored.tenant, 'user', 'alice'), stored);
    assert.equal(await store().credentials.get(stored.tenant, 'user', 'bob'), undefined);
  });

  it('replaces the credential of the same subject, and keeps users and clients of one name apart', async () => {
    const first = credential(tenant());
    const replaced = credential(first.tenant, {
      hash: '$argon2id$v=19$other',
      changeRequired: false,
      updatedAt: later(first.updatedAt, 1),
    });
    const client = credential(first.tenant, { kind: 'client', hash: 'client-secret-hash', changeRequired: false });
    for (const each of [first, replaced, client]) await store().credentials.put(each);
    assert.deepEqual(await store().credentials.get(first.tenant, 'user', 'alice'), replaced);
    assert.deepEqual(await store().credentials.get(first.tenant, 'client', 'alice'), client);
  });

  it('deletes a credential and tells whether there was one', async () => {
    const stored = credential(tenant());
    await store().credentials.put(stored);
    assert.equal(await store().credentials.delete(stored.tenant, 'client', 'alice'), false);
    assert.equal(await store().credentials.delete(stored.tenant, 'user', 'alice'), true);
    assert.equal(await store().credentials.get(stored.tenant, 'user', 'alice'), undefined);
    assert.equal(await store().credentials.delete(stored.tenant, 'user', 'alice'), false);
  });

  it("neither shows nor deletes another tenant's credential", async () => {
    const stored = credential(tenant());
    const other = tenant();
    await store().credentials.put(stored);
    assert.equal(await store().credentials.get(other, 'user', 'alice'), undefined);
    assert.equal(await store().credentials.delete(other, 'user', 'alice'), false);
    await store().credentials.put(credential(other, { hash: 'other-hash' }));
    assert.deepEqual(await store().credentials.get(stored.tenant, 'user', 'alice'), stored);
  });
}

const MINUTE_MS = 60_000;
/** A policy: no lock before the third failure, then one minute per failure. */
const lockFor = (failures: number) => (failures >= 3 ? failures * MINUTE_MS : 0);

function attemptCases({ store, tenant }: StoreContext): void {
  it('counts failures, keeps the time of the last one and forgets them on reset', async () => {
    const owner = tenant();
    assert.equal(await store().attempts.get(owner, 'user:alice'), undefined);
    const times = [0, 1, 2].map((i) => later(LOGIN_AT, i * 1000));
    const states = [];
    for (const now of times) states.push(await store().attempts.recordFailure(owner, 'user:alice', now, () => 0));
    assert.deepEqual(
      states.map((state) => state.failures),
      [1, 2, 3],
    );
    assert.deepEqual(await store().attempts.get(owner, 'user:alice'), { failures: 3, lastFailureAt: times[2], lockedUntil: null });
    await store().attempts.reset(owner, 'user:alice');
    assert.equal(await store().attempts.get(owner, 'user:alice'), undefined);
    assert.equal((await store().attempts.recordFailure(owner, 'user:alice', LOGIN_AT, () => 0)).failures, 1);
  });

  it('stores the lock the policy derives from the new failure count', async () => {
    const owner = tenant();
    const asked: number[] = [];
    const policy = (failures: number) => {
      asked.push(failures);
      return lockFor(failures);
    };
    const states = [];
    for (const i of [0, 1, 2]) states.push(await store().attempts.recordFailure(owner, 'address:192.0.2.1', later(LOGIN_AT, i), policy));
    assert.deepEqual(asked, [1, 2, 3]);
    assert.deepEqual(
      states.map((state) => state.lockedUntil),
      [null, null, later(LOGIN_AT, 2 + 3 * MINUTE_MS)],
    );
    assert.deepEqual(await store().attempts.get(owner, 'address:192.0.2.1'), states[2]);
  });

  it('counts every one of 10 concurrent failures', async () => {
    const owner = tenant();
    const states = await Promise.all(
      Array.from({ length: 10 }, (_, i) => store().attempts.recordFailure(owner, 'user:alice', later(LOGIN_AT, i), lockFor)),
    );
    assert.deepEqual(
      states.map((state) => state.failures).sort((a, b) => a - b),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    for (const state of states)
      assert.deepEqual(state.lockedUntil, lockFor(state.failures) > 0 ? later(state.lastFailureAt, lockFor(state.failures)) : null);
    assert.equal((await store().attempts.get(owner, 'user:alice'))?.failures, 10);
  });

  it('keeps keys and tenants apart', async () => {
    const [owner, other] = [tenant(), tenant()];
    await store().attempts.recordFailure(owner, 'user:alice', LOGIN_AT, lockFor);
    await store().attempts.recordFailure(owner, 'user:alice', LOGIN_AT, lockFor);
    await store().attempts.recordFailure(owner, 'address:192.0.2.1', LOGIN_AT, lockFor);
    assert.equal((await store().attempts.get(owner, 'user:alice'))?.failures, 2);
    assert.equal((await store().attempts.get(owner, 'address:192.0.2.1'))?.failures, 1);
    assert.equal(await store().attempts.get(other, 'user:alice'), undefined);
    await store().attempts.reset(other, 'user:alice');
    assert.equal((await store().attempts.get(owner, 'user:alice'))?.failures, 2);
  });
}

const entry = (n: number, overrides: Partial<AuditEntry> = {}): AuditEntry => ({
  action: 'login',
  actor: `acme/user-${n}`,
  address: '192.0.2.1',
  target: `user-${n}`,
  detail: { n, nested: { list: [1, 'two', null], flag: true } },
  ...overrides,
});

function auditCases({ store, tenant }: StoreContext): void {
  it("lists a tenant's entries oldest first, with increasing ids and every field", async () => {
    const owner = tenant();
    const at = (n: number) => later(LOGIN_AT, n * 1000);
    for (const n of [1, 2, 3]) await store().audit.append(owner, entry(n), at(n));
    await store().audit.append(owner, entry(4, { action: 'lockout', actor: 'system', address: null, target: null, detail: {} }), at(4));
    const listed = await store().audit.list(owner, { limit: 10 });
    assert.deepEqual(
      listed.map(({ id: _id, ...rest }) => rest),
      [
        ...[1, 2, 3].map((n) => ({ ...entry(n), tenant: owner, at: at(n) })),
        { action: 'lockout', actor: 'system', address: null, target: null, detail: {}, tenant: owner, at: at(4) },
      ],
    );
    const ids = listed.map((record) => BigInt(record.id));
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => (a < b ? -1 : 1)),
    );
    assert.equal(new Set(ids).size, 4);
  });

  it('pages with after and limit', async () => {
    const owner = tenant();
    for (const n of [1, 2, 3, 4, 5]) await store().audit.append(owner, entry(n));
    const all = await store().audit.list(owner, { limit: 1000 });
    const page = await store().audit.list(owner, { after: BigInt((all[1] as { id: string }).id), limit: 2 });
    assert.deepEqual(page, all.slice(2, 4));
    assert.deepEqual(await store().audit.list(owner, { after: BigInt((all[4] as { id: string }).id), limit: 10 }), []);
    assert.deepEqual(await store().audit.list(owner, { limit: 1 }), all.slice(0, 1));
  });

  it("never lists another tenant's entries", async () => {
    const [a, b] = [tenant(), tenant()];
    for (const n of [1, 2, 3]) {
      await store().audit.append(a, entry(n));
      await store().audit.append(b, entry(n + 10));
    }
    const listedA = await store().audit.list(a, { limit: 10 });
    const listedB = await store().audit.list(b, { limit: 10 });
    assert.deepEqual(
      listedA.map((record) => [record.tenant, record.target]),
      [1, 2, 3].map((n) => [a, `user-${n}`]),
    );
    assert.deepEqual(
      listedB.map((record) => [record.tenant, record.target]),
      [11, 12, 13].map((n) => [b, `user-${n}`]),
    );
    assert.deepEqual(await store().audit.list(tenant(), { limit: 10 }), []);
  });

  it('records the time of the append when none is given', async () => {
    const owner = tenant();
    const started = Date.now();
    await store().audit.append(owner, entry(1));
    const [record] = await store().audit.list(owner, { limit: 1 });
    assert.ok(record && record.at.getTime() >= started - 1000 && record.at.getTime() <= Date.now() + 1000);
  });

  it('rejects a limit outside 1 to 1000 with validation_failed', async () => {
    for (const limit of [0, 1001, 1.5, Number.NaN]) {
      await assert.rejects(store().audit.list(tenant(), { limit }), (error: unknown) => isAppError(error, 'validation_failed'));
    }
  });
}

function deletionCases({ store, tenant }: StoreContext): void {
  /** One row in each table, and what reading them back finds. */
  async function populate(owner: string) {
    const token = newToken(owner);
    await store().credentials.put(credential(owner));
    await store().sessions.create(token);
    await store().attempts.recordFailure(owner, 'user:alice', LOGIN_AT, lockFor);
    await store().audit.append(owner, entry(1));
    return async () => ({
      credential: await store().credentials.get(owner, 'user', 'alice'),
      token: await store().sessions.find(owner, token.hash),
      attempts: await store().attempts.get(owner, 'user:alice'),
      audit: await store().audit.list(owner, { limit: 10 }),
    });
  }

  it("deletes every row of the tenant in every table, and only the tenant's", async () => {
    const [doomed, kept] = [tenant(), tenant()];
    const readDoomed = await populate(doomed);
    const readKept = await populate(kept);
    const keptBefore = await readKept();
    await store().deleteTenant(doomed);
    assert.deepEqual(await readDoomed(), { credential: undefined, token: undefined, attempts: undefined, audit: [] });
    assert.deepEqual(await readKept(), keptBefore);
    assert.ok(keptBefore.credential && keptBefore.token && keptBefore.attempts && keptBefore.audit.length === 1);
    await store().deleteTenant(doomed);
    await store().sessions.create(newToken(doomed, { expiresAt: later(LOGIN_AT, hours(1)) }));
  });
}
