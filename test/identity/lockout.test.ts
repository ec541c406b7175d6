import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { attemptKeys, LOCKOUT_POLICY, lockDurationMs, retryAfterSeconds } from '../../src/identity/lockout.js';

describe('lockout policy', () => {
  it('does not lock a user before 5 failures, then locks 1 s and doubles at each failure', () => {
    assert.deepEqual(
      [0, 1, 4, 5, 6, 7, 10, 14].map((failures) => lockDurationMs('user', failures)),
      [0, 0, 0, 1000, 2000, 4000, 32_000, 512_000],
    );
  });

  it('caps a lock at 15 minutes, however many failures', () => {
    assert.equal(lockDurationMs('user', 15), 15 * 60 * 1000, '2^10 s is past the cap');
    for (const failures of [16, 50, 1000, 1e9, Number.MAX_SAFE_INTEGER])
      assert.equal(lockDurationMs('user', failures), LOCKOUT_POLICY.maxMs);
  });

  it('gives an address the same shape from 20 failures', () => {
    assert.deepEqual(
      [0, 5, 19, 20, 21, 24, 30, 1000].map((failures) => lockDurationMs('address', failures)),
      [0, 0, 0, 1000, 2000, 16_000, 900_000, 900_000],
    );
  });

  it('never locks for a count that is not a number', () => {
    assert.equal(lockDurationMs('user', Number.NaN), 0);
    assert.equal(lockDurationMs('user', -3), 0);
  });

  it('locks for longer at each further failure, never shorter', () => {
    for (const kind of ['user', 'address'] as const) {
      for (let failures = 1; failures < 60; failures++) assert.ok(lockDurationMs(kind, failures + 1) >= lockDurationMs(kind, failures));
    }
  });
});

describe('attempt keys', () => {
  it('keys a login by user and by address', () => {
    assert.deepEqual(attemptKeys('alice', '203.0.113.7'), { user: 'user:alice', address: 'address:203.0.113.7' });
  });

  it('counts an IPv4-mapped IPv6 address as its IPv4 address', () => {
    assert.equal(attemptKeys('alice', '::ffff:203.0.113.7').address, 'address:203.0.113.7');
    assert.equal(attemptKeys('alice', '::ffff:cb00:7107').address, 'address:203.0.113.7');
  });

  it('counts an IPv6 address as its /64 network, however it is written', () => {
    const key = 'address:2001:db8:0:1::/64';
    for (const address of ['2001:db8:0:1::1', '2001:0db8:0000:0001:ffff:0:0:2', '2001:DB8:0:1:abcd::9%eth0']) {
      assert.equal(attemptKeys('alice', address).address, key, address);
    }
    assert.equal(attemptKeys('alice', '::1').address, 'address:0:0:0:0::/64');
    assert.notEqual(attemptKeys('alice', '2001:db8:0:2::1').address, key);
  });

  it('keeps an address that is not an IP address as it is', () => {
    assert.equal(attemptKeys('alice', 'unknown').address, 'address:unknown');
  });
});

describe('retry after', () => {
  it('rounds the remaining lock up to whole seconds, and is 0 once the lock ended', () => {
    const now = new Date('2025-01-01T00:00:00.000Z');
    const at = (ms: number) => new Date(now.getTime() + ms);
    assert.equal(retryAfterSeconds(at(1), now), 1);
    assert.equal(retryAfterSeconds(at(1000), now), 1);
    assert.equal(retryAfterSeconds(at(1001), now), 2);
    assert.equal(retryAfterSeconds(at(900_000), now), 900);
    assert.equal(retryAfterSeconds(at(0), now), 0);
    assert.equal(retryAfterSeconds(at(-5000), now), 0);
  });
});
