import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { AppError } from '../../kernel/index.js';
import type { SigningAlgorithm } from '../port.js';

/**
 * Envelope encryption of a private key (docs/keys.md, "Envelope format"): a random data key
 * encrypts the key with AES-256-GCM; a key-encryption key derived from the master key wraps the
 * data key with AES-256-GCM. Both carry associated data naming the tenant, kid, algorithm, public
 * key and creation time, so a sealed key copied to another tenant or kid fails to open, and so does
 * a record whose public key was replaced (which would otherwise put a stranger's key in the JWKS).
 */
export const ENVELOPE_FORMAT = 1;

const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

export interface MasterKey {
  /** A key check value: tells which master key sealed a record without revealing it. */
  readonly id: string;
  readonly kek: Buffer;
}

export interface Envelope {
  format: number;
  masterKeyId: string;
  wrappedKey: Buffer;
  iv: Buffer;
  ciphertext: Buffer;
}

/** What a sealed key is bound to: the clear fields of its record. */
export interface KeyRef {
  tenant: string;
  kid: string;
  alg: SigningAlgorithm;
  publicJwk: { x: string; y: string };
  createdAt: Date;
}

const derive = (masterKey: Buffer, info: string, length: number) =>
  Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), info, length));

export function deriveMasterKey(masterKey: Buffer): MasterKey {
  if (!Buffer.isBuffer(masterKey) || masterKey.length !== KEY_BYTES) {
    throw new AppError('validation_failed', 'The key vault master key must be 32 bytes', {
      errors: [{ path: 'masterKey', message: 'must be a Buffer of 32 bytes' }],
    });
  }
  return {
    id: derive(masterKey, 'backoffice.vault.master-key-id.v1', 8).toString('hex'),
    kek: derive(masterKey, 'backoffice.vault.kek.v1', KEY_BYTES),
  };
}

const associatedData = (ref: KeyRef, part: 'data-key' | 'private-key') =>
  Buffer.from(
    [
      `backoffice.vault.v${ENVELOPE_FORMAT}`,
      part,
      ref.tenant,
      ref.kid,
      ref.alg,
      ref.publicJwk.x,
      ref.publicJwk.y,
      ref.createdAt.getTime(),
    ].join('\n'),
  );

function encrypt(key: Buffer, iv: Buffer, aad: Buffer, plaintext: Buffer): Buffer {
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

function decrypt(key: Buffer, iv: Buffer, aad: Buffer, sealed: Buffer): Buffer {
  if (iv.length !== IV_BYTES || sealed.length < TAG_BYTES) throw new Error('malformed envelope');
  const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)), decipher.final()]);
}

export function seal(master: MasterKey, ref: KeyRef, privateKey: Buffer): Envelope {
  const dataKey = randomBytes(KEY_BYTES);
  try {
    const wrapIv = randomBytes(IV_BYTES);
    const iv = randomBytes(IV_BYTES);
    return {
      format: ENVELOPE_FORMAT,
      masterKeyId: master.id,
      wrappedKey: Buffer.concat([wrapIv, encrypt(master.kek, wrapIv, associatedData(ref, 'data-key'), dataKey)]),
      iv,
      ciphertext: encrypt(dataKey, iv, associatedData(ref, 'private-key'), privateKey),
    };
  } finally {
    dataKey.fill(0);
  }
}

function integrityFailed(ref: KeyRef, error: unknown): AppError {
  return new AppError('internal', 'A sealed signing key failed its integrity check', { tenant: ref.tenant, kid: ref.kid }, error);
}

function unwrapDataKey(master: MasterKey, ref: KeyRef, envelope: Envelope): Buffer {
  if (envelope.format !== ENVELOPE_FORMAT) throw new Error(`unknown envelope format ${envelope.format}`);
  const wrapped = envelope.wrappedKey;
  return decrypt(master.kek, wrapped.subarray(0, IV_BYTES), associatedData(ref, 'data-key'), wrapped.subarray(IV_BYTES));
}

/** The private key (PKCS#8 DER); the caller zeroes it after use. A record that does not authenticate is `internal`. */
export function open(master: MasterKey, ref: KeyRef, envelope: Envelope): Buffer {
  let dataKey: Buffer | undefined;
  try {
    dataKey = unwrapDataKey(master, ref, envelope);
    return decrypt(dataKey, envelope.iv, associatedData(ref, 'private-key'), envelope.ciphertext);
  } catch (error) {
    throw integrityFailed(ref, error);
  } finally {
    dataKey?.fill(0);
  }
}

/** Checks that the record's clear fields are the ones it was sealed with (cheap: unwraps the data key only). */
export function authenticate(master: MasterKey, ref: KeyRef, envelope: Envelope): void {
  try {
    unwrapDataKey(master, ref, envelope).fill(0);
  } catch (error) {
    throw integrityFailed(ref, error);
  }
}
