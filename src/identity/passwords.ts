import { randomBytes } from 'node:crypto';
import { type Algorithm, hash, parseOptions, verify } from '@node-rs/argon2';
import type { FieldError } from '../kernel/index.js';
import { isCommonPassword } from './common-passwords.js';

/** The argon2id cost of a hash: memory in KiB, iterations (passes), lanes. */
export interface PasswordCost {
  memoryKib: number;
  iterations: number;
  parallelism: number;
}

/**
 * The OWASP Password Storage Cheat Sheet baseline for argon2id: 19 MiB of memory, 2 iterations, 1
 * lane. It takes tens of milliseconds on one core, so a login stays cheap for the server while each
 * guess of an offline attack costs 19 MiB of memory, which is what makes GPUs and ASICs slow at it.
 * Raise it (platform configuration) where logins are few and hardware is strong; never lower it in
 * production (tests use a small cost for speed).
 */
export const DEFAULT_ARGON2_COST: Readonly<PasswordCost> = Object.freeze({ memoryKib: 19_456, iterations: 2, parallelism: 1 });

/** `Algorithm.Argon2id`: the package declares a const enum, which isolated modules cannot read. */
const ARGON2ID = 2 as Algorithm;
/** `Version.V0x13`, the current version (19). */
const VERSION_13 = 1;

const optionsOf = (cost: PasswordCost) => ({
  algorithm: ARGON2ID,
  memoryCost: cost.memoryKib,
  timeCost: cost.iterations,
  parallelism: cost.parallelism,
});

/** An argon2id PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`) of the secret, with a new random salt. */
export function hashSecret(secret: string, cost: PasswordCost = DEFAULT_ARGON2_COST): Promise<string> {
  return hash(secret, optionsOf(cost));
}

/** Whether the secret matches the hash; false (never an error) for a malformed hash or a non-string. */
export async function verifySecret(hashed: string, secret: string): Promise<boolean> {
  if (typeof hashed !== 'string' || typeof secret !== 'string' || !hashed.startsWith('$argon2')) return false;
  try {
    return await verify(hashed, secret);
  } catch {
    return false;
  }
}

/** True when the hash was not made with argon2id at exactly this cost (rehash it at the next login), or cannot be read. */
export function needsRehash(hashed: string, cost: PasswordCost = DEFAULT_ARGON2_COST): boolean {
  try {
    const found = parseOptions(hashed);
    return (
      found.algorithm !== ARGON2ID ||
      found.version !== VERSION_13 ||
      found.memoryCost !== cost.memoryKib ||
      found.timeCost !== cost.iterations ||
      found.parallelism !== cost.parallelism
    );
  } catch {
    return true;
  }
}

const dummies = new Map<string, Promise<string>>();

/** The hash of a random secret at this cost, made once (on first use) per cost. */
export function dummyHash(cost: PasswordCost = DEFAULT_ARGON2_COST): Promise<string> {
  const key = `${cost.memoryKib},${cost.iterations},${cost.parallelism}`;
  let dummy = dummies.get(key);
  if (!dummy) {
    dummy = hashSecret(randomBytes(32).toString('base64url'), cost);
    dummy.catch(() => dummies.delete(key));
    dummies.set(key, dummy);
  }
  return dummy;
}

/**
 * Verifies the secret against a dummy hash and answers false: a login for an unknown user then costs
 * as much time as one for a real user, so timing does not tell which usernames exist. Pass the cost
 * real hashes are made with.
 */
export async function verifyAgainstDummy(secret: string, cost: PasswordCost = DEFAULT_ARGON2_COST): Promise<false> {
  await verifySecret(await dummyHash(cost), typeof secret === 'string' ? secret : '');
  return false;
}

export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 1024;

/**
 * What is wrong with a new password, at `path` (`/password`, `/newPassword`); empty when it is fine.
 * Length counts code points (an emoji is one character). Everything else is left to the user: no
 * composition rules, which push people towards `Password1!` (NIST SP 800-63B §5.1.1.2).
 */
export function checkPasswordPolicy(username: string, password: string, path = '/password'): FieldError[] {
  if (typeof password !== 'string') return [{ path, message: 'must be a string' }];
  const characters = [...password];
  const errors: string[] = [];
  if (characters.length < PASSWORD_MIN_LENGTH) errors.push(`must be at least ${PASSWORD_MIN_LENGTH} characters long`);
  if (characters.length > PASSWORD_MAX_LENGTH) errors.push(`must be at most ${PASSWORD_MAX_LENGTH} characters long`);
  if (typeof username === 'string' && password.toLowerCase() === username.toLowerCase()) errors.push('must not be the username');
  if (characters.length > 0 && new Set(characters).size === 1) errors.push('must not be one character repeated');
  if (isCommonPassword(password)) errors.push('is one of the most common passwords');
  return errors.map((message) => ({ path, message }));
}

/** A new random password: 24 characters of base64url (144 bits), which meets the policy. */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}
