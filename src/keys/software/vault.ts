import { createPrivateKey, generateKeyPair, type KeyObject, sign as signDigest } from 'node:crypto';
import { promisify } from 'node:util';
import { AppError, assertTenantId, isAppError } from '../../kernel/index.js';
import {
  assertKeyRef,
  assertSigningInput,
  byCreation,
  keyNotFound,
  newKid,
  p256PublicJwk,
  signingAlgorithm,
  vaultClosed,
} from '../common.js';
import type { KeyVault, PublicKeyInfo } from '../port.js';
import { authenticate, deriveMasterKey, type MasterKey, open, seal } from './envelope.js';
import { p256PrivateScalar } from './pkcs8.js';
import type { KeyRecord, KeyRecordStore } from './records.js';

export interface SoftwareVaultOptions {
  /** 32 random bytes (loadOrCreateMasterKey); whoever holds it and the records holds every key. */
  masterKey: Buffer;
  records: KeyRecordStore;
}

const generateEcKeyPair = promisify(generateKeyPair);

function wrongMasterKey(master: MasterKey, found: string[]): AppError {
  return new AppError('unavailable', 'The key vault master key is not the one that sealed the stored keys', {
    masterKeyId: master.id,
    storedMasterKeyIds: found,
  });
}

function checkMasterKeyId(master: MasterKey, record: KeyRecord): void {
  if (record.masterKeyId !== master.id) throw wrongMasterKey(master, [record.masterKeyId]);
}

/** The public half of a record, once it has proved it is the one sealed with the key (a JWKS must not carry a planted key). */
function publicInfoOf(master: MasterKey, record: KeyRecord): PublicKeyInfo {
  checkMasterKeyId(master, record);
  authenticate(master, record, record);
  const { x, y } = record.publicJwk;
  const publicJwk = p256PublicJwk(Buffer.from(x, 'base64url'), Buffer.from(y, 'base64url'), record.kid, record.alg);
  return { kid: record.kid, alg: record.alg, publicJwk, createdAt: record.createdAt };
}

/** The private key of a record, opened only for the time of one signature. */
function privateKeyOf(master: MasterKey, record: KeyRecord): KeyObject {
  checkMasterKeyId(master, record);
  const der = open(master, record, record);
  try {
    const { x, y } = record.publicJwk;
    const d = p256PrivateScalar(der).toString('base64url');
    return createPrivateKey({ key: { kty: 'EC', crv: 'P-256', x, y, d }, format: 'jwk' });
  } catch (error) {
    if (isAppError(error)) throw error;
    throw new AppError('internal', 'A sealed signing key is not a P-256 key', { tenant: record.tenant, kid: record.kid });
  } finally {
    der.fill(0);
  }
}

/**
 * Keys generated in this process and kept sealed in the platform's database (docs/keys.md). The
 * first call checks that every stored record was sealed by this master key, so that a wrong key
 * fails at once rather than at the first signature of an old key.
 */
export function createSoftwareVault(options: SoftwareVaultOptions): KeyVault {
  const master = deriveMasterKey(options.masterKey);
  const { records } = options;
  let closed = false;
  let checked: Promise<void> | undefined;

  async function checkMasterKey(): Promise<void> {
    const foreign = (await records.masterKeyIds()).filter((id) => id !== master.id);
    if (foreign.length > 0) throw wrongMasterKey(master, foreign);
  }

  async function ready(): Promise<void> {
    if (closed) throw vaultClosed();
    checked ??= checkMasterKey().catch((error: unknown) => {
      checked = undefined;
      throw error;
    });
    await checked;
  }

  return {
    kind: 'software',

    async generate(tenant, alg) {
      assertTenantId(tenant);
      const algorithm = signingAlgorithm(alg);
      await ready();
      const { privateKey, publicKey } = await generateEcKeyPair('ec', { namedCurve: 'prime256v1' });
      const createdAt = new Date();
      const kid = newKid(createdAt.getTime());
      const { x = '', y = '' } = publicKey.export({ format: 'jwk' });
      const publicJwk = p256PublicJwk(Buffer.from(x, 'base64url'), Buffer.from(y, 'base64url'), kid, algorithm);
      const der = privateKey.export({ format: 'der', type: 'pkcs8' });
      try {
        const envelope = seal(master, { tenant, kid, alg: algorithm, publicJwk, createdAt }, der);
        await records.put({ tenant, kid, alg: algorithm, publicJwk, createdAt, ...envelope });
      } finally {
        der.fill(0);
      }
      return { kid, alg: algorithm, publicJwk, createdAt };
    },

    async sign(tenant, kid, signingInput) {
      assertKeyRef(tenant, kid);
      assertSigningInput(signingInput);
      await ready();
      const record = await records.get(tenant, kid);
      if (!record) throw keyNotFound(tenant, kid);
      const key = privateKeyOf(master, record);
      return new Uint8Array(signDigest('sha256', signingInput, { key, dsaEncoding: 'ieee-p1363' }));
    },

    async list(tenant) {
      assertTenantId(tenant);
      await ready();
      return (await records.list(tenant)).map((record) => publicInfoOf(master, record)).sort(byCreation);
    },

    async destroy(tenant, kid) {
      assertKeyRef(tenant, kid);
      await ready();
      if (!(await records.delete(tenant, kid))) throw keyNotFound(tenant, kid);
    },

    async destroyTenant(tenant) {
      assertTenantId(tenant);
      await ready();
      await records.deleteTenant(tenant);
    },

    async ping() {
      if (closed) throw vaultClosed();
      await checkMasterKey();
    },

    async close() {
      closed = true;
    },
  };
}
