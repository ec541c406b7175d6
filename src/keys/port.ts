/** The algorithms the vault signs with. ES256: ECDSA on P-256 with SHA-256 (RFC 7518 §3.4). */
export type SigningAlgorithm = 'ES256';

export const SIGNING_ALGORITHMS: readonly SigningAlgorithm[] = ['ES256'];

/** A public signing key as a JWK (RFC 7517), ready for a JWKS document: never a private member. */
export interface PublicJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
  kid: string;
  alg: SigningAlgorithm;
  use: 'sig';
}

/** The public half of a signing key, as published in a tenant's JWKS. */
export interface PublicKeyInfo {
  kid: string;
  alg: SigningAlgorithm;
  publicJwk: PublicJwk;
  createdAt: Date;
}

/**
 * Holds every tenant's signing keys; private keys never leave it (software: sealed at rest under a
 * master key; pkcs11: generated on the token, non-extractable). Failures are AppErrors: a malformed
 * tenant, kid or input is `validation_failed`; a key of another tenant, an unknown kid or a destroyed
 * key is `not_found`; a vault that cannot reach its storage or token is `unavailable`.
 */
export interface KeyVault {
  readonly kind: 'software' | 'pkcs11';
  /** Creates a new key pair for the tenant; its kid is a new random url-safe id. */
  generate(tenant: string, alg?: SigningAlgorithm): Promise<PublicKeyInfo>;
  /** The JWS signature of signingInput (ES256: the raw 64-byte r||s over SHA-256(signingInput)). */
  sign(tenant: string, kid: string, signingInput: Uint8Array): Promise<Uint8Array>;
  /** The tenant's keys, oldest first. */
  list(tenant: string): Promise<PublicKeyInfo[]>;
  /** Destroys one key for good; `not_found` when the tenant has no such key. */
  destroy(tenant: string, kid: string): Promise<void>;
  /** Crypto-shredding: every key of the tenant is gone for good (nothing to do when it has none). */
  destroyTenant(tenant: string): Promise<void>;
  /** Resolves when the vault can serve (storage reachable and master key right, or token logged in). */
  ping(): Promise<void>;
  /** Releases what the vault holds (sessions, module); later calls fail with `unavailable`. */
  close(): Promise<void>;
}
