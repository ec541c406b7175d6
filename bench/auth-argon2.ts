/**
 * The argon2id cost the password grant pays, timed alone in this process: one hash and one verify
 * at DEFAULT_ARGON2_COST, one at a time.
 */
import { DEFAULT_ARGON2_COST, generatePassword, hashSecret, verifySecret } from '../src/identity/passwords.js';
import { progress, runFor } from './support.js';

export interface Argon2Timing {
  hashMs: number;
  verifyMs: number;
}

export async function benchArgon2(seconds: number): Promise<Argon2Timing> {
  progress('auth: argon2id hash and verify');
  const password = generatePassword();
  const hashed = await hashSecret(password, DEFAULT_ARGON2_COST);
  if (!(await verifySecret(hashed, password))) throw new Error('argon2id: the hash does not verify');
  const hashing = await runFor(seconds, 1, async () => {
    await hashSecret(password, DEFAULT_ARGON2_COST);
    return 1;
  });
  const verifying = await runFor(seconds, 1, async () => {
    await verifySecret(hashed, password);
    return 1;
  });
  return { hashMs: 1000 / hashing.rate, verifyMs: 1000 / verifying.rate };
}
