import { randomBytes } from 'node:crypto';
import { AppError, assertTenantId, validationFailed } from '../kernel/index.js';
import { type PublicJwk, SIGNING_ALGORITHMS, type SigningAlgorithm } from './port.js';

/** A kid is url-safe: it goes into JWS headers and JWKS documents as it is. */
export const KID = /^[A-Za-z0-9_-]{1,64}$/;

const TIME_BYTES = 6;
const KID_BYTES = 16;

/**
 * A new kid: 16 bytes (a 48-bit millisecond time, then 80 random bits), base64url. The time
 * prefix orders kids by creation and gives `createdAt` where the store has nowhere to keep it
 * (PKCS#11 objects carry no timestamp).
 */
export function newKid(now: number = Date.now()): string {
  const bytes = randomBytes(KID_BYTES);
  if (now <= lastKidTime && lastKid) {
    // Within one millisecond (or a clock step back), the next kid is the last one plus one, so
    // kids made by one process always sort in creation order.
    lastKid.copy(bytes);
    for (let i = KID_BYTES - 1; i >= TIME_BYTES; i--) {
      bytes[i] = ((bytes[i] ?? 0) + 1) & 0xff;
      if (bytes[i] !== 0) break;
    }
  } else {
    bytes.writeUIntBE(now, 0, TIME_BYTES);
    lastKidTime = now;
  }
  lastKid = bytes;
  return bytes.toString('base64url');
}

let lastKidTime = 0;
let lastKid: Buffer | undefined;

/** The creation time a kid made by newKid carries, or undefined for a kid of another shape. */
export function kidTime(kid: string): Date | undefined {
  const bytes = Buffer.from(kid, 'base64url');
  if (bytes.length !== KID_BYTES || bytes.toString('base64url') !== kid) return undefined;
  return new Date(bytes.readUIntBE(0, TIME_BYTES));
}

export function assertKid(kid: unknown): asserts kid is string {
  if (typeof kid !== 'string' || !KID.test(kid)) {
    throw validationFailed('Invalid key id', [{ path: 'kid', message: `must match ${KID.source}` }]);
  }
}

export function assertKeyRef(tenant: unknown, kid: unknown): asserts tenant is string {
  assertTenantId(tenant);
  assertKid(kid);
}

export function signingAlgorithm(alg: unknown = 'ES256'): SigningAlgorithm {
  if (!SIGNING_ALGORITHMS.includes(alg as SigningAlgorithm)) {
    throw validationFailed('Unsupported signing algorithm', [{ path: 'alg', message: `must be one of ${SIGNING_ALGORITHMS.join(', ')}` }]);
  }
  return alg as SigningAlgorithm;
}

export function assertSigningInput(input: unknown): asserts input is Uint8Array {
  if (!(input instanceof Uint8Array)) {
    throw validationFailed('Invalid signing input', [{ path: 'signingInput', message: 'must be a Uint8Array' }]);
  }
}

export function keyNotFound(tenant: string, kid: string): AppError {
  return new AppError('not_found', 'No such signing key', { tenant, kid });
}

export function vaultClosed(): AppError {
  return new AppError('unavailable', 'The key vault is closed');
}

/** The public JWK of a P-256 key from its affine coordinates (32 bytes each). */
export function p256PublicJwk(x: Uint8Array, y: Uint8Array, kid: string, alg: SigningAlgorithm): PublicJwk {
  return {
    kty: 'EC',
    crv: 'P-256',
    x: Buffer.from(x).toString('base64url'),
    y: Buffer.from(y).toString('base64url'),
    kid,
    alg,
    use: 'sig',
  };
}

/** Oldest first; kids break ties (one process makes them in increasing byte order). */
export function byCreation(a: { createdAt: Date; kid: string }, b: { createdAt: Date; kid: string }): number {
  // Byte order of the decoded kids: base64url text does not sort like the bytes it encodes.
  return a.createdAt.getTime() - b.createdAt.getTime() || Buffer.compare(Buffer.from(a.kid, 'base64url'), Buffer.from(b.kid, 'base64url'));
}
