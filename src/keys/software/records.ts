import type { PublicJwk, SigningAlgorithm } from '../port.js';

/** A sealed key as it is stored: the public half in clear, the private half in an envelope (docs/keys.md). */
export interface KeyRecord {
  tenant: string;
  kid: string;
  alg: SigningAlgorithm;
  publicJwk: PublicJwk;
  createdAt: Date;
  /** The envelope's format version. */
  format: number;
  /** Which master key sealed the record: a key check value, not the key. */
  masterKeyId: string;
  /** The data key, encrypted by the master key: IV (12 bytes) || ciphertext (32) || GCM tag (16). */
  wrappedKey: Buffer;
  /** The IV of the private key's encryption under the data key (12 bytes). */
  iv: Buffer;
  /** The PKCS#8 DER private key, encrypted by the data key: ciphertext || GCM tag (16). */
  ciphertext: Buffer;
}

/** Where the software vault keeps its sealed keys: a table `vault_keys` in the platform's database. */
export interface KeyRecordStore {
  /** Inserts the record, or replaces the one with the same tenant and kid. */
  put(record: KeyRecord): Promise<void>;
  get(tenant: string, kid: string): Promise<KeyRecord | undefined>;
  list(tenant: string): Promise<KeyRecord[]>;
  /** True when there was such a record. */
  delete(tenant: string, kid: string): Promise<boolean>;
  /** How many records there were. */
  deleteTenant(tenant: string): Promise<number>;
  /** The distinct master key ids of all stored records, of every tenant. */
  masterKeyIds(): Promise<string[]>;
}

/** A stored row: the same fields in the column names both databases use. */
export interface KeyRow {
  tenant: string;
  kid: string;
  alg: string;
  public_jwk: string | PublicJwk;
  format: number;
  master_key_id: string;
  wrapped_key: Buffer;
  iv: Buffer;
  ciphertext: Buffer;
  created_at: string | Date;
}

export const KEY_COLUMNS = 'tenant, kid, alg, public_jwk, format, master_key_id, wrapped_key, iv, ciphertext, created_at';

export function toKeyRecord(row: KeyRow): KeyRecord {
  return {
    tenant: row.tenant,
    kid: row.kid,
    alg: row.alg as SigningAlgorithm,
    publicJwk: typeof row.public_jwk === 'string' ? (JSON.parse(row.public_jwk) as PublicJwk) : row.public_jwk,
    createdAt: new Date(row.created_at),
    format: row.format,
    masterKeyId: row.master_key_id,
    wrappedKey: Buffer.from(row.wrapped_key),
    iv: Buffer.from(row.iv),
    ciphertext: Buffer.from(row.ciphertext),
  };
}
