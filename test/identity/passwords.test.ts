import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { COMMON_PASSWORDS, isCommonPassword } from '../../src/identity/common-passwords.js';
import {
  checkPasswordPolicy,
  DEFAULT_ARGON2_COST,
  dummyHash,
  generatePassword,
  hashSecret,
  needsRehash,
  type PasswordCost,
  verifyAgainstDummy,
  verifySecret,
} from '../../src/identity/passwords.js';

/** A small cost that keeps the tests fast; one test uses the default. */
const CHEAP: PasswordCost = { memoryKib: 256, iterations: 1, parallelism: 1 };

describe('password hashes', () => {
  it('hashes with argon2id at the given cost and verifies only the right secret', async () => {
    const hash = await hashSecret('correct horse battery', CHEAP);
    assert.match(hash, /^\$argon2id\$v=19\$m=256,t=1,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
    assert.equal(await verifySecret(hash, 'correct horse battery'), true);
    assert.equal(await verifySecret(hash, 'correct horse batterY'), false);
    assert.equal(await verifySecret(hash, ''), false);
  });

  it('salts every hash: one secret hashed twice gives two hashes that both verify', async () => {
    const [one, two] = await Promise.all([hashSecret('same secret here', CHEAP), hashSecret('same secret here', CHEAP)]);
    assert.notEqual(one, two);
    assert.equal(await verifySecret(one, 'same secret here'), true);
    assert.equal(await verifySecret(two, 'same secret here'), true);
  });

  it('uses the OWASP baseline by default: 19 MiB, 2 iterations, 1 lane', async () => {
    assert.deepEqual({ ...DEFAULT_ARGON2_COST }, { memoryKib: 19_456, iterations: 2, parallelism: 1 });
    const hash = await hashSecret('a passphrase of mine');
    assert.match(hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    assert.equal(await verifySecret(hash, 'a passphrase of mine'), true);
    assert.equal(needsRehash(hash, DEFAULT_ARGON2_COST), false);
    assert.equal(needsRehash(hash), false);
  });

  it('answers false, never an error, for a malformed hash', async () => {
    const good = await hashSecret('secret secret', CHEAP);
    const malformed = [
      '',
      'plain text',
      '$argon2id$',
      '$argon2id$v=19$m=256,t=1,p=1$!!$!!',
      good.slice(0, -10),
      `${good}x`,
      '$2b$10$abcdefghijklmnopqrstuv',
    ];
    for (const hash of malformed) assert.equal(await verifySecret(hash, 'secret secret'), false, hash);
    assert.equal(await verifySecret(undefined as unknown as string, 'x'), false);
    assert.equal(await verifySecret(good, undefined as unknown as string), false);
  });

  it('asks for a rehash when the cost or the algorithm differs, or the hash cannot be read', async () => {
    const hash = await hashSecret('rehash me please', CHEAP);
    assert.equal(needsRehash(hash, CHEAP), false);
    assert.equal(needsRehash(hash, { ...CHEAP, memoryKib: 512 }), true);
    assert.equal(needsRehash(hash, { ...CHEAP, iterations: 2 }), true);
    assert.equal(needsRehash(hash, { ...CHEAP, parallelism: 2 }), true);
    assert.equal(needsRehash(hash.replace('$argon2id$', '$argon2i$'), CHEAP), true);
    assert.equal(needsRehash('not a hash', CHEAP), true);
  });

  it('verifies an unknown user against a dummy hash of the same cost, made once, always refusing', async () => {
    const first = await dummyHash(CHEAP);
    assert.equal(await dummyHash(CHEAP), first, 'computed once');
    assert.equal(needsRehash(first, CHEAP), false, 'the dummy costs what a real hash costs');
    assert.equal(await verifyAgainstDummy('any password at all', CHEAP), false);
    assert.equal(await verifyAgainstDummy('', CHEAP), false);
  });

  it('takes about as long for an unknown user as for a wrong password of a known one', async () => {
    const cost: PasswordCost = { memoryKib: 8192, iterations: 2, parallelism: 1 };
    const real = await hashSecret('the real password', cost);
    await verifyAgainstDummy('warm up', cost);
    const time = async (work: () => Promise<unknown>) => {
      const started = process.hrtime.bigint();
      await work();
      return Number(process.hrtime.bigint() - started);
    };
    // Interleaved, so that a busy machine slows both alike.
    let [known, unknown] = [0, 0];
    for (let i = 0; i < 6; i++) {
      known += await time(() => verifySecret(real, 'a wrong password'));
      unknown += await time(() => verifyAgainstDummy('a wrong password', cost));
    }
    assert.ok(unknown > known / 3 && unknown < known * 3, `dummy ${unknown} ns vs real ${known} ns`);
  });
});

describe('password policy', () => {
  const messages = (username: string, password: string) => checkPasswordPolicy(username, password).map((error) => error.message);

  it('accepts a long, uncommon password', () => {
    assert.deepEqual(checkPasswordPolicy('alice', 'tulip-orbit-kettle-9'), []);
  });

  it('requires at least 12 characters, counted as code points', () => {
    assert.deepEqual(messages('alice', 'short-pass1'), ['must be at least 12 characters long']);
    assert.deepEqual(messages('alice', 'exactly-12ch'), []);
    // 11 emoji are 22 UTF-16 units but 11 characters.
    assert.deepEqual(messages('alice', '🌷🚀🍵🎲🐙🦊🌈🎯🧩🪁🛶'), ['must be at least 12 characters long']);
    assert.deepEqual(messages('alice', '🌷🚀🍵🎲🐙🦊🌈🎯🧩🪁🛶🍀'), []);
  });

  it('allows at most 1024 characters', () => {
    const long = Array.from({ length: 1025 }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
    assert.deepEqual(messages('alice', long), ['must be at most 1024 characters long']);
    assert.deepEqual(messages('alice', long.slice(1)), []);
  });

  it('refuses the username, whatever its case', () => {
    assert.deepEqual(messages('alice.martin@example.com', 'Alice.Martin@Example.com'), ['must not be the username']);
  });

  it('refuses one character repeated', () => {
    assert.deepEqual(messages('alice', 'zzzzzzzzzzzzzzzz'), ['must not be one character repeated']);
  });

  it('refuses a common password, whatever its case', () => {
    for (const password of ['password1234', 'PASSWORD1234', 'QwertyUiop12', '123456789012', 'Administrator']) {
      assert.deepEqual(messages('alice', password), ['is one of the most common passwords'], password);
    }
  });

  it('reports every violation at the path it is given', () => {
    assert.deepEqual(checkPasswordPolicy('aaaa', 'aaaa', '/newPassword'), [
      { path: '/newPassword', message: 'must be at least 12 characters long' },
      { path: '/newPassword', message: 'must not be the username' },
      { path: '/newPassword', message: 'must not be one character repeated' },
    ]);
    assert.equal(checkPasswordPolicy('alice', 'short')[0]?.path, '/password');
  });

  it('keeps a common list of about 200 lower-case passwords that the length rule alone would accept', () => {
    assert.ok(COMMON_PASSWORDS.length >= 190, `${COMMON_PASSWORDS.length} passwords`);
    assert.equal(new Set(COMMON_PASSWORDS).size, COMMON_PASSWORDS.length, 'no duplicates');
    for (const password of COMMON_PASSWORDS) {
      assert.ok([...password].length >= 12, password);
      assert.equal(password, password.toLowerCase());
      assert.ok(isCommonPassword(password.toUpperCase()));
    }
    for (const typical of ['password1234', 'qwertyuiop12', '123456789012', 'administrator']) assert.ok(COMMON_PASSWORDS.includes(typical));
  });
});

describe('generated passwords', () => {
  it('are 24 base64url characters from a random source, all different, and meet the policy', () => {
    const passwords = Array.from({ length: 200 }, () => generatePassword());
    assert.equal(new Set(passwords).size, passwords.length);
    for (const password of passwords) {
      assert.match(password, /^[A-Za-z0-9_-]{24}$/);
      assert.deepEqual(checkPasswordPolicy('admin', password), []);
    }
  });
});
