import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { type CompactVerifyResult, compactVerify, importJWK } from 'jose';
import { type ErrorCode, isAppError } from '../../src/kernel/index.js';
import type { KeyVault, PublicKeyInfo } from '../../src/keys/index.js';

export interface VaultContext {
  /** The suite's vault, open for every case. */
  vault(): KeyVault;
  /** A new tenant id of this run (the suite shreds its keys at the end). */
  tenant(): string;
}

export const newTenant = () => `t-${randomBytes(6).toString('hex')}`;

const base64url = (data: string | Uint8Array) => Buffer.from(data).toString('base64url');

/** A compact JWS made the way the authorization server makes tokens: the vault signs the signing input. */
export async function signJws(vault: KeyVault, tenant: string, kid: string, payload: unknown): Promise<string> {
  const signingInput = `${base64url(JSON.stringify({ alg: 'ES256', typ: 'JWT', kid }))}.${base64url(JSON.stringify(payload))}`;
  const signature = await vault.sign(tenant, kid, Buffer.from(signingInput));
  assert.ok(signature instanceof Uint8Array);
  return `${signingInput}.${base64url(signature)}`;
}

export async function verifyJws(token: string, key: PublicKeyInfo): Promise<CompactVerifyResult> {
  return compactVerify(token, await importJWK(key.publicJwk, 'ES256'), { algorithms: ['ES256'] });
}

/** Awaits a rejection with an AppError of that code. */
export async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  assert.ok(isAppError(error, code), `expected ${code}, got ${error instanceof Error ? `${error.name}: ${error.message}` : 'success'}`);
  return error;
}
