import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { RefreshToken } from '../../src/identity/store/index.js';
import { family, hours, LOGIN_AT, later, newToken, rotate, type StoreContext, tally } from './store-fixtures.js';

const revoked = (token: RefreshToken | undefined) => token?.revokedAt ?? null;

export function sessionCases({ store, tenant }: StoreContext): void {
  it('creates a token and finds it again with its whole state', async () => {
    const token = newToken(tenant());
    await store().sessions.create(token);
    assert.deepEqual(await store().sessions.find(token.tenant, token.hash), token);
    assert.equal(await store().sessions.find(token.tenant, newToken(token.tenant).hash), undefined);
  });

  it("finds no token of another tenant's", async () => {
    const token = newToken(tenant());
    await store().sessions.create(token);
    assert.equal(await store().sessions.find(tenant(), token.hash), undefined);
  });

  it('rotates a live token: marks it used and stores the next one in its family', async () => {
    const first = newToken(tenant());
    await store().sessions.create(first);
    const now = later(LOGIN_AT, hours(1));
    const { result, next, calls } = await rotate(store(), first.tenant, first.hash, now);
    assert.equal(calls, 1);
    assert.deepEqual(result, { outcome: 'rotated', previous: { ...first, usedAt: now } });
    assert.deepEqual(await store().sessions.find(first.tenant, first.hash), { ...first, usedAt: now });
    assert.ok(next);
    assert.equal(next.family, first.family);
    assert.deepEqual(await store().sessions.find(first.tenant, next.hash), next);
  });

  it('revokes the whole family, newest token included, when a used token comes back', async () => {
    const tokens = await family(store(), tenant(), 3);
    const [first, , newest] = tokens as [RefreshToken, RefreshToken, RefreshToken];
    const now = later(LOGIN_AT, hours(5));
    const { result, calls } = await rotate(store(), first.tenant, first.hash, now);
    assert.equal(calls, 0, 'no next token is asked for');
    assert.equal(result.outcome, 'reused');
    assert.equal(result.outcome === 'reused' && result.previous.hash, first.hash);
    for (const token of tokens) assert.deepEqual(revoked(await store().sessions.find(token.tenant, token.hash)), now);
    assert.equal((await rotate(store(), newest.tenant, newest.hash, later(now, 1))).result.outcome, 'invalid');
  });

  it('refuses an expired token, at its own expiry or its family’s, and changes nothing', async () => {
    const slidingEnd = newToken(tenant());
    const familyEnd = newToken(slidingEnd.tenant, { familyExpiresAt: later(LOGIN_AT, hours(1)) });
    for (const token of [slidingEnd, familyEnd]) await store().sessions.create(token);
    const cases: [RefreshToken, Date][] = [
      [slidingEnd, slidingEnd.expiresAt],
      [slidingEnd, later(slidingEnd.expiresAt, 1)],
      [familyEnd, familyEnd.familyExpiresAt],
    ];
    for (const [token, now] of cases) {
      const { result, calls } = await rotate(store(), token.tenant, token.hash, now);
      assert.deepEqual([result, calls], [{ outcome: 'invalid' }, 0]);
      assert.deepEqual(await store().sessions.find(token.tenant, token.hash), token);
    }
  });

  it("refuses an unknown token, another tenant's token and a revoked one, and changes nothing", async () => {
    const token = newToken(tenant());
    await store().sessions.create(token);
    const now = later(LOGIN_AT, hours(1));
    assert.equal((await rotate(store(), token.tenant, newToken(token.tenant).hash, now)).result.outcome, 'invalid');
    assert.equal((await rotate(store(), tenant(), token.hash, now)).result.outcome, 'invalid');
    assert.deepEqual(await store().sessions.find(token.tenant, token.hash), token);

    assert.equal(await store().sessions.revokeFamily(token.tenant, token.family, now), 1);
    const { result, calls } = await rotate(store(), token.tenant, token.hash, later(now, 1));
    assert.deepEqual([result, calls], [{ outcome: 'invalid' }, 0]);
    assert.deepEqual(await store().sessions.find(token.tenant, token.hash), { ...token, revokedAt: now });
  });

  it('lets exactly one of 20 concurrent rotations of one token win; the next one revokes the family', async () => {
    const first = newToken(tenant());
    await store().sessions.create(first);
    const now = later(LOGIN_AT, hours(1));
    const attempts = await Promise.all(Array.from({ length: 20 }, () => rotate(store(), first.tenant, first.hash, now)));
    assert.deepEqual(
      tally(attempts.map((attempt) => attempt.result)),
      { rotated: 1, reused: 1, invalid: 18 },
      'the others come after the family was revoked',
    );
    const next = attempts.find((attempt) => attempt.next)?.next;
    assert.ok(next);
    assert.equal(
      attempts.reduce((sum, attempt) => sum + attempt.calls, 0),
      1,
      'one next token was made',
    );
    for (const token of [first, next]) assert.deepEqual(revoked(await store().sessions.find(token.tenant, token.hash)), now);
  });

  it('leaves no token of a family live when a revocation races with its rotation', async () => {
    const owner = tenant();
    const firsts = await Promise.all(Array.from({ length: 10 }, () => family(store(), owner, 1)));
    const now = later(LOGIN_AT, hours(1));
    const raced = await Promise.all(
      firsts.map(async ([first], i) => {
        const token = first as RefreshToken;
        const revocation =
          i % 2 === 0 ? store().sessions.revokeFamily(owner, token.family, now) : store().sessions.revokeSubject(owner, 'alice', now);
        const [rotation] = await Promise.all([rotate(store(), owner, token.hash, now), revocation]);
        return [token, rotation.next];
      }),
    );
    for (const token of raced.flat()) if (token) assert.notEqual(revoked(await store().sessions.find(owner, token.hash)), null, token.hash);
  });

  it('revokes a family and counts only the tokens it revoked', async () => {
    const owner = tenant();
    const tokens = await family(store(), owner, 3);
    const [other] = await family(store(), owner, 1);
    const family0 = (tokens[0] as RefreshToken).family;
    const now = later(LOGIN_AT, hours(4));
    assert.equal(await store().sessions.revokeFamily(tenant(), family0, now), 0, "another tenant's revocation");
    assert.equal(await store().sessions.revokeFamily(owner, family0, now), 3);
    assert.equal(await store().sessions.revokeFamily(owner, family0, later(now, 1)), 0, 'already revoked');
    assert.equal(await store().sessions.revokeFamily(owner, 'no-such-family', now), 0);
    for (const token of tokens) assert.deepEqual(revoked(await store().sessions.find(owner, token.hash)), now);
    assert.equal(revoked(await store().sessions.find(owner, (other as RefreshToken).hash)), null);
  });

  it('revokes every family of a subject, and none of another subject or tenant', async () => {
    const owner = tenant();
    const elsewhere = tenant();
    const alice = [...(await family(store(), owner, 2)), ...(await family(store(), owner, 1))];
    const bob = await family(store(), owner, 1, 'bob');
    const otherAlice = await family(store(), elsewhere, 1);
    const now = later(LOGIN_AT, hours(3));
    assert.equal(await store().sessions.revokeSubject(owner, 'alice', now), 3);
    assert.equal(await store().sessions.revokeSubject(owner, 'alice', now), 0);
    for (const token of alice) assert.deepEqual(revoked(await store().sessions.find(owner, token.hash)), now);
    for (const token of bob) assert.equal(revoked(await store().sessions.find(owner, token.hash)), null);
    for (const token of otherAlice) assert.equal(revoked(await store().sessions.find(elsewhere, token.hash)), null);
  });

  it('purges the tokens of every tenant whose family expired, and only those', async () => {
    const [a, b] = [tenant(), tenant()];
    const expiredAt = new Date('1990-01-01T00:00:00.000Z');
    const purgeAt = new Date('1990-01-02T00:00:00.000Z');
    const times = { issuedAt: new Date('1989-12-31T00:00:00.000Z'), expiresAt: expiredAt, familyExpiresAt: expiredAt };
    const gone = newToken(a, times);
    const expired = [gone, newToken(a, { ...times, family: gone.family }), newToken(b, { ...times, familyExpiresAt: purgeAt })];
    const live = newToken(a, { ...times, familyExpiresAt: new Date('1990-01-03T00:00:00.000Z') });
    for (const token of [...expired, live]) await store().sessions.create(token);
    assert.equal(await store().sessions.purgeExpired(purgeAt), 3);
    for (const token of expired) assert.equal(await store().sessions.find(token.tenant, token.hash), undefined);
    assert.deepEqual(await store().sessions.find(a, live.hash), live);
    assert.equal(await store().sessions.purgeExpired(purgeAt), 0);
  });
}
